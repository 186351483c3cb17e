"""The lifecycle's stages and which moves between them are allowed.

Order: candidate -> staging -> (canary ->) production; shadow from candidate or staging;
deprecated and archived retire a version. Each rule is a row of a table, checked by
:func:`order_problems`; the commands in :mod:`.promotion` and :mod:`.rollback` decide what to
write.
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
    return problems
