"""What ``/healthz`` answers, from either engine's view of its families."""

from __future__ import annotations

import time


def health(families: dict, problems: list, **more) -> tuple[int, dict]:
    """``families``: name -> ``{"serving", "holder", "problems"}``. (200, ...) when every family
    has a verified production version serving, else 503. ``status`` is ``degraded`` when
    everything serves but something is wrong (a holder that failed its checks, unreadable tags,
    an unreachable remote, the ledger)."""
    serving = all(family["serving"] is not None for family in families.values())
    degraded = problems or any(family["problems"] for family in families.values())
    status = "unavailable" if not serving else "degraded" if degraded else "ok"
    return (200 if serving else 503), {"status": status, "families": families, "problems": problems, **more,
                                       "time": time.time()}
