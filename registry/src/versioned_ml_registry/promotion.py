"""Stage assignments: ``promote``, ``abort-canary``, ``deprecate`` and ``archive``.

Every rule is enforced here, whoever calls: the order (:mod:`.transitions`), the gates
(:mod:`.gates`), the reasons that overrides need. Everything is checked before anything is
written; the tags of one command are written in one transaction.
"""

from __future__ import annotations

from typing import List, Optional

from .annotation import stage_message
from .errors import RegistryError
from .gates import artifacts_missing, metric_failures, signature_breaks
from .gitrefs import NewTag
from .repo import Repo
from .result import Result
from .state import FamilyState, VersionInfo
from .tags import stage_tag
from .transitions import LIVE, RETIRED, SERVED, Stage, order_problems


def assignment(fam: FamilyState, info: VersionInfo, stage: Stage, counter: int, event: str, by: str,
               reason: Optional[str], extra: Optional[dict] = None, replaces: Optional[str] = None) -> NewTag:
    """The tag assigning ``stage`` to ``info``, its body saying who, why, from which stage, and
    which tag of that stage it follows (``replaces``: by default the stage's newest tag in
    ``fam``), so the history of every stage can be checked to be one unbroken chain."""
    previous = fam.newest_event(stage)
    body = {"event": event, "family": fam.name, "version": info.vstring, "stage": str(stage),
            "from_stage": fam.status(info.vstring), "by": by, "reason": reason,
            "replaces": replaces or (previous.tag if previous else None), **(extra or {})}
    return NewTag(stage_tag(fam.name, stage, counter), info.commit,
                  stage_message(fam.name, info.vstring, str(stage), body))


def successor(fam: FamilyState, stage: Stage, leaving: str, fallback: Optional[str]) -> Optional[str]:
    """Who takes ``stage`` when ``leaving`` gives it up: its latest earlier holder that is still
    live (neither ``leaving`` nor retired), else ``fallback``."""
    for ev in reversed(fam.holders_sequence(stage)):
        if ev.version and ev.version != leaving and fam.status(ev.version) not in RETIRED:
            return ev.version
    return fallback


def _require_reason(reason: Optional[str], *flags: tuple[bool, str]) -> None:
    for on, flag in flags:
        if on and not reason:
            raise RegistryError(f"{flag} needs --reason")


def _refusals(fam: FamilyState, info: VersionInfo, stage: Stage) -> None:
    """Moves no flag can allow."""
    v = info.vstring
    if stage is Stage.CANARY and fam.holder(Stage.PRODUCTION) == v:
        raise RegistryError(f"{fam.name} {v} is already in production: a canary must be another version"
                            + (" (to end the live canary use abort-canary)" if fam.canary_live else ""))
    if stage in SERVED and fam.holder(stage) == v:
        raise RegistryError(f"{fam.name} {v} already holds {stage}")
    if stage is Stage.CANDIDATE and fam.status(v) == Stage.CANDIDATE:
        raise RegistryError(f"{fam.name} {v} is already a candidate")


def promote(repo: Repo, family: str, version: str, stage: str, reason: Optional[str] = None,
            force: bool = False, skip_staging: bool = False, breaking: bool = False,
            dvc_remote: Optional[str] = None) -> Result:
    """Assign ``stage`` to ``version``, enforcing the order and every gate.

    ``force`` (with a reason) overrides the order, retired status and metric gates; it never
    overrides the artifacts gate. ``breaking`` (with a reason) allows a version whose signature
    breaks production's callers into canary or production. Promoting to production ends a live
    canary (canary := the new production version) in the same transaction.
    """
    fam = repo.family(family, write=True)
    info = repo.version(fam, version)
    stage = repo.stage(stage)
    v = info.vstring
    _require_reason(reason, (force, "--force"), (skip_staging, "--skip-staging"), (breaking, "--breaking"))
    if stage in RETIRED:
        return retire(repo, family, v, stage, reason, force)
    status = fam.status(v)
    if status in RETIRED and not force:
        raise RegistryError(f"{family} {v} is {status}: promoting it needs --force --reason")
    _refusals(fam, info, stage)
    problems: List[str] = order_problems(fam, v, stage, skip_staging)
    gates = info.meta.get("gates")
    if stage is Stage.CANDIDATE and isinstance(gates, dict) and gates.get("passed") is False:
        problems.append(f"{family} {v} did not pass the candidate gates at release")
    if stage is Stage.PRODUCTION:
        problems += metric_failures(repo.toplevel, fam, info, Stage.PRODUCTION)
    if problems and not force:
        raise RegistryError("; ".join(problems))
    extra = {}
    if stage in (Stage.CANARY, Stage.PRODUCTION):
        breaks = signature_breaks(fam, info)
        if breaks and not breaking:
            raise RegistryError(f"{family} {v} breaks the callers of production "
                                f"{fam.holder(Stage.PRODUCTION)} ({'; '.join(breaks)}): "
                                "use --breaking --reason \"...\" once callers are ready")
        if breaks:
            extra["breaking"] = {"changes": breaks, "reason": reason}
    if stage is Stage.PRODUCTION:
        missing = artifacts_missing(repo.toplevel, info, dvc_remote)
        if missing:
            raise RegistryError(f"gate: {missing}")
    if force and (problems or status in RETIRED):
        extra["forced"] = {"overrode": problems or [f"status {status}"], "reason": reason}
    if skip_staging and stage is Stage.PRODUCTION and not fam.held(v, Stage.STAGING):
        extra["skipped_staging"] = True
    by, n = repo.who(), fam.next_counter
    res = Result("promote", family, version=v)
    tags = []
    canary = fam.holder(Stage.CANARY) if stage is Stage.PRODUCTION else None
    if canary is not None and canary != v:
        # no split may remain: canary := the new production version, written first so the
        # version's status is production
        tags.append(assignment(fam, info, Stage.CANARY, n, "promote", by, reason or f"canary follows production ({v})"))
        n += 1
        if fam.canary_live:
            res.messages.append(f"the live canary ({canary}) is ended: canary := {v}")
    tags.append(assignment(fam, info, stage, n, "promote", by, reason, extra))
    res.tags = repo.write(family, tags)
    res.messages.insert(0, f"{family} {v} -> {stage}" + (f" (was {status})" if status else ""))
    return res


def abort_canary(repo: Repo, family: str, reason: Optional[str]) -> Result:
    """End a live canary: canary := the production version."""
    fam = repo.family(family, write=True)
    if not reason:
        raise RegistryError("abort-canary needs --reason")
    if not fam.canary_live:
        raise RegistryError(f"{family} has no live canary")
    prod = fam.get(fam.holder(Stage.PRODUCTION))
    if prod is None:
        raise RegistryError(f"{family} has no production version to return the canary to")
    old = fam.holder(Stage.CANARY)
    tag = assignment(fam, prod, Stage.CANARY, fam.next_counter, "abort-canary", repo.who(), reason)
    res = Result("abort-canary", family, repo.write(family, [tag]), prod.vstring)
    res.messages.append(f"{family} canary {old} ended: canary := {prod.vstring} (production)")
    return res


def handover(fam: FamilyState, leaving: str, stages, fallback: Optional[str], counter: int,
             event: str, by: str, reason: str) -> tuple[List[NewTag], List[str]]:
    """Tags giving every stage in ``stages`` that ``leaving`` holds to its successor, so no
    live stage stays with a retired version, and a note for each stage nobody can take."""
    tags, notes = [], []
    for stage in fam.stages_held_by(leaving, stages):
        taker = fam.get(successor(fam, stage, leaving, fallback))
        if taker is None:
            notes.append(f"{stage} still names {leaving}: no other live version can take it")
            continue
        tags.append(assignment(fam, taker, stage, counter + len(tags), event, by,
                               f"{reason} ({stage} leaves {leaving})"))
        notes.append(f"{stage} -> {taker.vstring} (was {leaving})")
    return tags, notes


def retire(repo: Repo, family: str, version: str, stage: Stage, reason: Optional[str],
           force: bool = False) -> Result:
    """Mark a version deprecated or archived. A version serving staging, canary or production
    is refused (use rollback); its candidate or shadow stage passes to the previous live holder."""
    fam = repo.family(family, write=True)
    info = repo.version(fam, version)
    v = info.vstring
    if not reason:
        raise RegistryError(f"{stage} needs --reason")
    status = fam.status(v)
    if status == stage:
        raise RegistryError(f"{family} {v} is already {stage}")
    if stage is Stage.DEPRECATED and status == Stage.ARCHIVED and not force:
        raise RegistryError(f"{family} {v} is archived: use --force to mark it deprecated")
    serving = fam.stages_held_by(v, SERVED)
    if serving:
        raise RegistryError(f"{family} {v} holds {', '.join(map(str, serving))}: assign another version first"
                            + (" (or use rollback)" if Stage.PRODUCTION in serving else ""))
    event = "deprecate" if stage is Stage.DEPRECATED else "archive"
    by, n = repo.who(), fam.next_counter
    tags, notes = handover(fam, v, [s for s in LIVE if s not in SERVED], None, n, event, by, reason)
    tags.append(assignment(fam, info, stage, n + len(tags), event, by, reason))
    res = Result(event, family, repo.write(family, tags), v)
    res.messages.append(f"{family} {v} -> {stage}" + (f" (was {status})" if status else ""))
    res.messages += notes
    return res
