"""``rollback`` and ``drill``: production goes back to an earlier version, as tags.

A rollback assigns production to the previous production holder (or ``--to``), hands every
other live stage the rolled-back version holds to its successor, and marks that version
deprecated: after it, no stage is held by a deprecated version. All in one transaction.
"""

from __future__ import annotations

import time as _time
from typing import List, Optional

from ..errors import RegistryError
from ..result import Result
from ..rules.stages import LIVE, RETIRED, Stage
from ..tags.refs import NewTag
from ..tags.repo import Repo
from ..tags.state import FamilyState, VersionInfo
from .promote import assignment, handover


def verify_hints(family: str) -> List[str]:
    return [
        "verify with any of:",
        f"  model-registry resolve {family} --stage production",
        f"  gto show '{family}#production' --version",
        f"  dvc artifacts get . {family} --stage production",
    ]


def _production_tags(fam: FamilyState, target: VersionInfo, canary_follows: bool, event: str,
                     by: str, reason: str, counter: int, after: Optional[List[NewTag]] = None) -> List[NewTag]:
    """production := target; a canary that was not live follows it (written first, so the
    target's status is production). ``after``: the tags written just before, in the same
    command, which these follow."""
    before = {tag.name.split("#")[1]: tag.name for tag in after or []}
    tags = []
    if canary_follows:
        tags.append(assignment(fam, target, Stage.CANARY, counter, event, by, reason, replaces=before.get("canary")))
    tags.append(assignment(fam, target, Stage.PRODUCTION, counter + len(tags), event, by, reason,
                           replaces=before.get("production")))
    return tags


def _target(repo: Repo, fam: FamilyState, current: str, to: Optional[str], force: bool) -> VersionInfo:
    if to is None:
        prev = fam.previous_production()
        if prev is None:
            raise RegistryError(f"{fam.name} has no previous production version to roll back to")
        return fam.get(prev)
    target = repo.version(fam, to)
    if target.vstring == current:
        raise RegistryError(f"{fam.name} {target.vstring} is already in production")
    if not fam.held(target.vstring, Stage.PRODUCTION) and not force:
        raise RegistryError(f"{fam.name} {target.vstring} was never in production: use --force to roll back to it")
    status = fam.status(target.vstring)
    if status in RETIRED and not force:
        raise RegistryError(f"{fam.name} {target.vstring} is {status}: use --force to roll back to it")
    return target


def rollback(repo: Repo, family: str, to: Optional[str] = None, reason: Optional[str] = None,
             force: bool = False) -> Result:
    fam = repo.family(family, write=True)
    if not reason:
        raise RegistryError("rollback needs --reason")
    current = fam.holder(Stage.PRODUCTION)
    if current is None:
        raise RegistryError(f"{family} has no production version to roll back")
    target = _target(repo, fam, current, to, force)
    by, n = repo.who(), fam.next_counter
    others = [s for s in LIVE if s not in (Stage.PRODUCTION, Stage.CANARY)]
    tags, notes = handover(fam, current, others, target.vstring, n, "rollback", by, reason)
    tags += _production_tags(fam, target, fam.holder(Stage.CANARY) == current, "rollback", by, reason, n + len(tags))
    cur_info = fam.get(current)
    if cur_info is not None:
        tags.append(assignment(fam, cur_info, Stage.DEPRECATED, n + len(tags), "rollback", by, reason))
    res = Result("rollback", family, repo.write(family, tags), target.vstring)
    res.data["from"] = current
    res.messages.append(f"{family} production: {current} -> {target.vstring}; {current} deprecated")
    res.messages += notes + verify_hints(family)
    return res


def drill(repo: Repo, family: str, reason: Optional[str] = None) -> Result:
    """Roll back to the previous production version, verify, roll forward, verify; timed.
    Deprecates nothing. Both moves are one journaled write: a drill killed half way is
    completed, rolled forward, by the next registry command."""
    fam = repo.family(family, write=True)
    current = fam.holder(Stage.PRODUCTION)
    if current is None or fam.get(current) is None:
        raise RegistryError(f"{family} has no production version to drill")
    prev = fam.previous_production()
    if prev is None:
        raise RegistryError(f"{family} has no previous production version to roll back to")
    reason = reason or "rollback drill"
    by, n = repo.who(), fam.next_counter
    canary_follows = fam.holder(Stage.CANARY) == current
    back = _production_tags(fam, fam.get(prev), canary_follows, "drill", by, reason + " (back)", n)
    forward = _production_tags(fam, fam.get(current), canary_follows, "drill", by, reason + " (forward)",
                               n + len(back), after=back)
    timings = []
    t0 = _time.perf_counter()

    def verify_back(_step: int) -> None:
        timings.append(("roll back", _time.perf_counter() - t0))
        start = _time.perf_counter()
        got = Repo(repo.toplevel).family(family).holder(Stage.PRODUCTION)
        timings.append(("verify", _time.perf_counter() - start))
        if got != prev:
            raise RegistryError(f"drill failed: production resolves to {got}, expected {prev}")

    try:
        written = repo.write_steps(family, [back, forward], between=verify_back)
    except RegistryError as error:
        if not timings:
            raise
        raise RegistryError(
            f"{error}; the drill stopped after rolling back, so production may still be {prev}: "
            f"restore it with `model-registry promote {family} {current} production --reason \"drill aborted\"`"
        ) from None
    timings.append(("roll forward", _time.perf_counter() - t0 - sum(s for _, s in timings)))
    start = _time.perf_counter()
    got = repo.family(family).holder(Stage.PRODUCTION)
    timings.append(("verify", _time.perf_counter() - start))
    if got != current:
        raise RegistryError(f"drill failed: production resolves to {got}, expected {current}")
    total = _time.perf_counter() - t0
    res = Result("drill", family, written, current)
    res.data["timings"] = {name + (f" {i}" if name == "verify" else ""): round(s, 4)
                           for i, (name, s) in enumerate(timings)}
    res.data["total_seconds"] = round(total, 4)
    res.messages.append(f"drill {family}: {current} -> {prev} -> {current}, ok")
    res.messages += [f"  {name:<13} {s * 1000:8.1f} ms" for name, s in timings]
    res.messages.append(f"  {'total':<13} {total * 1000:8.1f} ms")
    return res
