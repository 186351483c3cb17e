"""The lifecycle's stages and which moves between them are allowed.

Order: candidate -> staging -> (canary ->) production; shadow from candidate or staging;
deprecated and archived retire a version. Each order rule is a row of a table, checked by
:func:`order_problems`; :func:`refusal` holds the moves no order allows. The commands in
:mod:`..lifecycle.promote` and :mod:`..lifecycle.rollback` decide what to write.
"""

from __future__ import annotations

from enum import Enum


class Stage(str, Enum):
    CANDIDATE = "candidate"
    STAGING = "staging"
    CANARY = "canary"
    PRODUCTION = "production"
    SHADOW = "shadow"
    DEPRECATED = "deprecated"
    ARCHIVED = "archived"

    def __str__(self) -> str:
        return self.value


SERVED = (Stage.PRODUCTION, Stage.CANARY, Stage.STAGING)
RETIRED = (Stage.DEPRECATED, Stage.ARCHIVED)
# The stages a rolled-back or retired version may not keep: each is handed to another version.
LIVE = (Stage.CANDIDATE, Stage.STAGING, Stage.CANARY, Stage.SHADOW, Stage.PRODUCTION)

# target stage -> a version must have held one of these stages before
REQUIRES_HELD = {
    Stage.STAGING: (Stage.CANDIDATE, Stage.STAGING, Stage.PRODUCTION),
    Stage.CANARY: (Stage.STAGING,),
    Stage.PRODUCTION: (Stage.STAGING,),
}
# production with --skip-staging --reason: a candidate (or a former production version) will do
REQUIRES_HELD_SKIPPING_STAGING = (Stage.CANDIDATE, Stage.PRODUCTION)
# target stage -> the version's status (its newest stage) must be one of these
REQUIRES_STATUS = {
    Stage.SHADOW: (Stage.CANDIDATE, Stage.STAGING),
}
HINTS = {
    Stage.STAGING: "candidate -> staging",
    Stage.CANARY: "staging -> canary",
    Stage.PRODUCTION: "promote it to staging first or use --skip-staging --reason \"...\"",
    Stage.SHADOW: "shadow needs a candidate or staging version",
}


def _names(stages) -> str:
    return " or ".join(str(stage) for stage in stages)


def order_problems(fam, vstring: str, stage: Stage, skip_staging: bool = False) -> list[str]:
    """Why ``stage`` may not be assigned to ``vstring`` now (empty: the order allows it)."""
    problems = []
    held = REQUIRES_HELD.get(stage)
    if stage is Stage.PRODUCTION and skip_staging and not fam.held(vstring, Stage.STAGING):
        held = REQUIRES_HELD_SKIPPING_STAGING
    if held and not any(fam.held(vstring, s) for s in held):
        problems.append(f"{fam.name} {vstring} never held {_names(held)} ({HINTS[stage]})")
    wanted = REQUIRES_STATUS.get(stage)
    status = fam.status(vstring)
    if wanted and status not in wanted:
        problems.append(f"{HINTS[stage]}; {fam.name} {vstring} is {status or 'unassigned'}")
    gates = fam.get(vstring).meta.get("gates") if fam.get(vstring) else None
    if stage is Stage.CANDIDATE and isinstance(gates, dict) and gates.get("passed") is False:
        problems.append(f"{fam.name} {vstring} did not pass the candidate gates at release")
    return problems


def refusal(fam, vstring: str, stage: Stage, force: bool = False) -> str | None:
    """Why ``stage`` may not be assigned to ``vstring`` whatever the order says: a move that no
    flag allows, or (without ``force``) promoting a retired version."""
    status = fam.status(vstring)
    if stage not in RETIRED and status in RETIRED and not force:
        return f"{fam.name} {vstring} is {status}: promoting it needs --force --reason"
    if stage is Stage.CANARY and fam.holder(Stage.PRODUCTION) == vstring:
        return (f"{fam.name} {vstring} is already in production: a canary must be another version"
                + (" (to end the live canary use abort-canary)" if fam.canary_live else ""))
    if stage in SERVED and fam.holder(stage) == vstring:
        return f"{fam.name} {vstring} already holds {stage}"
    if stage is Stage.CANDIDATE and status == Stage.CANDIDATE:
        return f"{fam.name} {vstring} is already a candidate"
    if stage in RETIRED:
        if status == stage:
            return f"{fam.name} {vstring} is already {stage}"
        if stage is Stage.DEPRECATED and status == Stage.ARCHIVED and not force:
            return f"{fam.name} {vstring} is archived: use --force to mark it deprecated"
        serving = fam.stages_held_by(vstring, SERVED)
        if serving:
            return (f"{fam.name} {vstring} holds {', '.join(map(str, serving))}: assign another version first"
                    + (" (or use rollback)" if Stage.PRODUCTION in serving else ""))
    return None
