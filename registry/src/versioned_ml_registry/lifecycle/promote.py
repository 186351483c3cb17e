"""Stage assignments: ``promote``, ``abort-canary``, ``deprecate`` and ``archive``.

Every rule is enforced here, whoever calls: the order (:mod:`..rules.stages`), the gates
(:mod:`..rules.gates`), the reasons that overrides need. Everything is checked before anything is
written; the tags of one command are written in one transaction.
"""

from __future__ import annotations

from typing import List, Optional

from ..errors import RegistryError
from ..result import Result
from ..rules.gates import artifacts_missing, metric_failures, signature_breaks
from ..rules.stages import LIVE, RETIRED, SERVED, Stage, order_problems, refusal
from ..tags.annotation import stage_assignment
from ..tags.refs import NewTag
from ..tags.repo import Repo
from ..tags.state import FamilyState, VersionInfo


def assignment(fam: FamilyState, info: VersionInfo, stage: Stage, counter: int, event: str, by: str,
               reason: Optional[str], extra: Optional[dict] = None, replaces: Optional[str] = None) -> NewTag:
    """The tag assigning ``stage`` to the released version ``info``."""
    return stage_assignment(fam, info.vstring, info.commit, stage, counter, event, by, reason, extra, replaces)


def _require_reason(reason: Optional[str], *flags: tuple[bool, str]) -> None:
    for on, flag in flags:
        if on and not reason:
            raise RegistryError(f"{flag} needs --reason")


def write(repo: Repo, res: Result, tags: List[NewTag]) -> Result:
    """Write a planned command's tags, all or none."""
    res.tags = repo.write(res.family, tags)
    return res


def promote(repo: Repo, family: str, version: str, stage: str, reason: Optional[str] = None,
            force: bool = False, skip_staging: bool = False, breaking: bool = False,
            dvc_remote: Optional[str] = None) -> Result:
    """Assign ``stage`` to ``version`` (see :func:`plan`)."""
    return write(repo, *plan(repo, family, version, stage, reason, force, skip_staging, breaking, dvc_remote))


def plan(repo: Repo, family: str, version: str, stage: str, reason: Optional[str] = None,
         force: bool = False, skip_staging: bool = False, breaking: bool = False,
         dvc_remote: Optional[str] = None) -> tuple[Result, List[NewTag]]:
    """The tags assigning ``stage`` to ``version``, enforcing the order and every gate; nothing
    is written.

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
        return plan_retirement(repo, family, v, stage, reason, force)
    status = fam.status(v)
    refused = refusal(fam, v, stage, force)
    if refused:
        raise RegistryError(refused)
    problems: List[str] = order_problems(fam, v, stage, skip_staging)
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
    tags: List[NewTag] = []
    canary = fam.holder(Stage.CANARY) if stage is Stage.PRODUCTION else None
    if canary is not None and canary != v:
        # no split may remain: canary := the new production version, written first so the
        # version's status is production
        tags.append(assignment(fam, info, Stage.CANARY, n, "promote", by, reason or f"canary follows production ({v})"))
        n += 1
        if fam.canary_live:
            res.messages.append(f"the live canary ({canary}) is ended: canary := {v}")
    tags.append(assignment(fam, info, stage, n, "promote", by, reason, extra))
    res.messages.insert(0, f"{family} {v} -> {stage}" + (f" (was {status})" if status else ""))
    return res, tags


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
        taker = fam.get(fam.successor(stage, leaving, fallback))
        if taker is None:
            notes.append(f"{stage} still names {leaving}: no other live version can take it")
            continue
        tags.append(assignment(fam, taker, stage, counter + len(tags), event, by,
                               f"{reason} ({stage} leaves {leaving})"))
        notes.append(f"{stage} -> {taker.vstring} (was {leaving})")
    return tags, notes


def plan_retirement(repo: Repo, family: str, version: str, stage: Stage, reason: Optional[str],
                    force: bool = False) -> tuple[Result, List[NewTag]]:
    """The tags marking a version deprecated or archived. A version serving staging, canary or production
    is refused (use rollback); its candidate or shadow stage passes to the previous live holder."""
    fam = repo.family(family, write=True)
    info = repo.version(fam, version)
    v = info.vstring
    if not reason:
        raise RegistryError(f"{stage} needs --reason")
    status = fam.status(v)
    refused = refusal(fam, v, stage, force)
    if refused:
        raise RegistryError(refused)
    event = "deprecate" if stage is Stage.DEPRECATED else "archive"
    by, n = repo.who(), fam.next_counter
    tags, notes = handover(fam, v, [s for s in LIVE if s not in SERVED], None, n, event, by, reason)
    tags.append(assignment(fam, info, stage, n + len(tags), event, by, reason))
    res = Result(event, family, version=v)
    res.messages.append(f"{family} {v} -> {stage}" + (f" (was {status})" if status else ""))
    res.messages += notes
    return res, tags


def retire(repo: Repo, family: str, version: str, stage: Stage, reason: Optional[str],
           force: bool = False) -> Result:
    """Mark a version deprecated or archived (see :func:`plan_retirement`)."""
    return write(repo, *plan_retirement(repo, family, version, stage, reason, force))
