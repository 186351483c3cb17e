"""Live signals of a family's rollout: flags on inputs outside the training profile, and the
canary's window next to production's.

A version's profile (``profile.json`` in its bundle, docs/BUNDLE.md) says what training saw.
:func:`input_flags` names, per record, each input outside it: an unknown category, a number
outside the training range, a value missing where training had none. Answers carry the flags;
nothing is refused for them.

A :class:`Window` opens when a family's canary first answers, and closes when another canary
(or none) is live: production's and the canary's answers since then are counted in it
(requests, model failures, latencies, predictions, flags), so the two are compared over the
same time. Windows live in the server's memory: a restart opens a new one, so a decision waits
for fresh evidence rather than use stale evidence.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections import Counter, deque
from typing import Dict, List, Optional

from ..bundle.contract import is_missing

LATENCY_SAMPLES = 20_000  # the newest latencies kept per route for the percentiles
EPSILON = 1e-4  # a share never seen is counted as this, so PSI stays finite


def input_flags(profile: Optional[dict], records: list) -> List[List[tuple]]:
    """For each record, a (kind, line) per input outside ``profile``: kind ``missing``, ``range``
    or ``category`` (empty lists without a profile)."""
    features = (profile or {}).get("features") or {}
    flags: List[List[tuple]] = []
    for record in records:
        found = []
        for name, seen in features.items():
            value = record.get(name) if isinstance(record, dict) else None
            if is_missing(value):
                if seen.get("missing_rate") == 0:
                    found.append(("missing", f"{name}: missing, and never missing in training"))
                continue
            kind = seen.get("kind")
            if kind == "numeric" and seen.get("min") is not None and isinstance(value, (int, float)):
                if value < seen["min"] or value > seen["max"]:
                    found.append(("range", f"{name}: {value:g} outside the training range "
                                           f"[{seen['min']:g}, {seen['max']:g}]"))
            elif kind == "categorical" and str(value) not in (seen.get("frequencies") or {}):
                if "__other__" not in (seen.get("frequencies") or {}):
                    found.append(("category", f"{name}: category {str(value)[:40]!r} never seen in training"))
        flags.append(found)
    return flags


def flag_lines(flags: List[List[tuple]]) -> List[List[str]]:
    return [[line for _, line in found] for found in flags]


def prediction_key(profile: Optional[dict], prediction) -> str:
    """The bin of a prediction in the profile's prediction distribution (its label, or the
    index of its regression decile)."""
    shape = (profile or {}).get("predictions") or {}
    if shape.get("kind") == "numeric" and shape.get("edges") and isinstance(prediction, (int, float)):
        inner = shape["edges"][1:-1]
        return str(bisect_right(inner, prediction))
    return str(prediction)


def expected_shares(profile: Optional[dict]) -> Dict[str, float]:
    shape = (profile or {}).get("predictions") or {}
    shares = shape.get("frequencies") or {}
    if isinstance(shares, list):
        return {str(i): share for i, share in enumerate(shares)}
    return {str(key): share for key, share in shares.items()}


def psi(expected: Dict[str, float], counts: Counter) -> Optional[float]:
    """The population stability index of ``counts`` against the shares ``expected``."""
    total = sum(counts.values())
    if not expected or not total:
        return None
    value = 0.0
    for key in set(expected) | set(counts):
        actual = max(counts.get(key, 0) / total, EPSILON)
        share = max(expected.get(key, 0.0), EPSILON)
        value += (actual - share) * math.log(actual / share)
    return value


def percentile(values: list, q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class RouteStats:
    """What one route answered within a window."""

    def __init__(self, version: str, profile: Optional[dict]):
        self.version, self.profile = version, profile
        self.requests = self.errors = self.records = self.flagged = 0
        self.flags: Counter = Counter()
        self.predictions: Counter = Counter()
        self.latencies: deque = deque(maxlen=LATENCY_SAMPLES)

    def answered(self, latency_ms: float, predictions: list, flags: List[List[tuple]]) -> None:
        self.requests += 1
        self.records += len(predictions)
        self.latencies.append(latency_ms)
        self.predictions.update(prediction_key(self.profile, p) for p in predictions)
        for found in flags:
            self.flagged += bool(found)
            self.flags.update(kind for kind, _ in found)

    def report(self) -> dict:
        latencies = list(self.latencies)
        drift = psi(expected_shares(self.profile), self.predictions)
        return {"version": self.version, "requests": self.requests, "errors": self.errors,
                "error_rate": self.errors / (self.requests + self.errors) if self.requests + self.errors else None,
                "latency_ms": {"p50": percentile(latencies, 0.5), "p90": percentile(latencies, 0.9),
                               "p99": percentile(latencies, 0.99)},
                "drift": {"measure": "psi", "value": None if drift is None else round(drift, 6),
                          "against": "the version's training profile (test-split predictions)"},
                "flags": {"records": self.records, "flagged": self.flagged,
                          "rate": self.flagged / self.records if self.records else None, "by_kind": dict(self.flags)}}


class Window:
    """Production and one canary, counted since that canary first answered."""

    def __init__(self, canary: str, production: str, canary_profile, production_profile):
        self.since = time.time()
        self.routes = {"canary": RouteStats(canary, canary_profile),
                       "production": RouteStats(production, production_profile)}


class Signals:
    """Every served family's open window (thread-safe)."""

    def __init__(self):
        self._windows: Dict[str, Window] = {}
        self._lock = threading.Lock()

    def _window(self, family: str, routes) -> Optional[Window]:
        if routes.canary is None or routes.production is None:
            self._windows.pop(family, None)
            return None
        window = self._windows.get(family)
        if (window is None or window.routes["canary"].version != routes.canary.version
                or window.routes["production"].version != routes.production.version):
            window = self._windows[family] = Window(routes.canary.version, routes.production.version,
                                                    getattr(routes.canary, "profile", None),
                                                    getattr(routes.production, "profile", None))
        return window

    def answered(self, family: str, routes, route: str, version: str, latency_ms: float, predictions: list,
                 flags: List[List[tuple]]) -> None:
        with self._lock:
            window = self._window(family, routes)
            stats = window.routes.get(route) if window else None
            if stats is not None and stats.version == version:
                stats.answered(latency_ms, predictions, flags)

    def failed(self, family: str, routes, route: str, version: str) -> None:
        with self._lock:
            window = self._window(family, routes)
            stats = window.routes.get(route) if window else None
            if stats is not None and stats.version == version:
                stats.errors += 1

    def report(self, family: str, routes) -> Optional[dict]:
        """The open window's counts, or None while no canary is live."""
        with self._lock:
            window = self._window(family, routes)
            if window is None:
                return None
            return {"since": window.since, **{route: stats.report() for route, stats in window.routes.items()}}
