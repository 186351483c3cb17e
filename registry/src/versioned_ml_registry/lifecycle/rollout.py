"""``rollout``: decide a live canary on the evidence a server measured, by the family's
``rollout:`` policy (:mod:`..rules.rollout`), and act: promote it to production or abort it,
with the evidence in the tag's reason, or say what is still missing.

The server never writes git: this command runs where promotions run (by hand, or on the
release train's schedule) and reads ``GET /v1/models/{family}/rollout`` over HTTP.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Optional

from ..dvc.files import read_params
from ..errors import RegistryError
from ..result import Result
from ..rules.rollout import ABORT, PROMOTE, WAIT, Decision, decide, parse_policy
from ..rules.stages import Stage
from ..tags.repo import Repo
from .promote import abort_canary, promote

TOKEN_ENV = "MODEL_REGISTRY_TOKEN"


def family_policy(toplevel: str, family: str):
    """The ``rollout:`` section of the family's conf (params.yaml ``families.<family>.rollout``)."""
    families = read_params(toplevel).get("families") or {}
    conf = families.get(family) if isinstance(families, dict) else None
    section = conf.get("rollout") if isinstance(conf, dict) else None
    return parse_policy(section, f"conf/families/{family}.yaml rollout")


def fetch_report(server: str, family: str, timeout: float = 30.0) -> dict:
    """The server's rollout report for ``family``; RegistryError (one line) when it cannot be had."""
    url = f"{server.rstrip('/')}/v1/models/{family}/rollout"
    if not url.startswith(("http://", "https://")):
        raise RegistryError(f"--server {server!r} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if os.environ.get(TOKEN_ENV):
        request.add_header("Authorization", f"Bearer {os.environ[TOKEN_ENV]}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked above
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            detail = exc.reason
        raise RegistryError(f"{url}: HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(f"cannot read {url}: {reason}; is the server running?") from None


def well_formed(report) -> bool:
    if not isinstance(report, dict) or not isinstance(report.get("live"), bool):
        return False
    if not report["live"]:
        return True
    keys = ("version", "requests", "errors", "latency_ms", "drift", "outcomes")
    return all(isinstance(report.get(route), dict) and all(key in report[route] for key in keys)
               for route in ("production", "canary"))


def judge(repo: Repo, family: str, server: str) -> tuple[Decision, Optional[str]]:
    """The decision on the server's evidence, and the canary version it is about."""
    policy = family_policy(repo.toplevel, family)
    report = fetch_report(server, family)
    if not well_formed(report):
        raise RegistryError(f"{server} answered something that is not a model-registry rollout report for {family}: "
                            "is it a model-registry server?")
    decision = decide(report, policy, report.get("task") or "classification")
    if not report.get("live"):
        return decision, None
    canary = report["canary"]["version"]
    fam = repo.family(family, write=True)
    if not fam.canary_live or fam.holder(Stage.CANARY) != canary:
        now = fam.holder(Stage.CANARY) if fam.canary_live else "none"
        return Decision(WAIT, decision.evidence, [f"the server measured canary {canary}, the tags say {now}: "
                                                  "wait for the server to follow the tags"]), None
    return decision, canary


def rollout(repo: Repo, family: str, server: str, dry_run: bool = False, watch: bool = False,
            every: float = 30.0, timeout: float = 3600.0) -> Result:
    """Decide once (or, ``watch``, until promote or abort, at most ``timeout`` seconds) and act
    unless ``dry_run``."""
    if watch and not every > 0:
        raise RegistryError(f"--every must be a number of seconds above 0, not {every}")
    deadline = time.monotonic() + timeout
    while True:
        decision, canary = judge(repo, family, server)
        if decision.kind != WAIT or not watch or time.monotonic() + every > deadline:
            break
        time.sleep(every)  # the evidence accumulates on the server between two looks
        repo.reload()
    res = Result("rollout", family, version=canary,
                 data={"decision": decision.kind, "exit_code": decision.exit_code, "why": decision.why,
                       "evidence": decision.evidence, "dry_run": dry_run})
    if decision.kind == PROMOTE and not dry_run:
        res.tags = promote(repo, family, canary, "production", reason=decision.reason()).tags
    elif decision.kind == ABORT and not dry_run:
        res.tags = abort_canary(repo, family, decision.reason()).tags
    verb = {PROMOTE: f"promote {canary} to production", ABORT: f"abort canary {canary}", WAIT: "wait"}[decision.kind]
    res.messages = [f"{family}: {verb}" + (" (dry run: nothing written)" if dry_run and decision.kind != WAIT else ""),
                    *[f"  because: {line}" for line in decision.why], *[f"  evidence: {line}" for line in decision.evidence]]
    return res
