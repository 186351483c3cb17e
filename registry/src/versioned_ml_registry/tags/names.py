"""Tag names of the registry (GTO/DVC compatible).

* ``<family>@v<semver>``      a released version (``intent@v1.3.0``)
* ``<family>#<stage>#<N>``    a stage assignment (``intent#production#7``)

Unassign tags (``<family>#<stage>!#<N>``) are never written and are skipped when read:
``dvc artifacts get --stage`` ignores the ``!`` and would serve the wrong version.
"""

from __future__ import annotations

import re
from collections import namedtuple
from functools import cmp_to_key, lru_cache

from ..errors import RegistryError
from ..rules.names import FAMILY_PATTERN, FAMILY_RE, validate_family
from ..rules.stages import Stage

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the read commands start faster
if TYPE_CHECKING:
    import semver

DEFAULT_STAGES = tuple(stage.value for stage in Stage)

STAGE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$")
_SEMVER_CORE = r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
_VERSION_ARG_RE = re.compile(rf"^v?({_SEMVER_CORE})$")
_CORE_RE = re.compile(_SEMVER_CORE)
_STAGE_IN_TAG_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")  # GTO's stage names: they may end in '-' or '_'


def family_patterns(family: str) -> tuple[str, str]:
    """The ``for-each-ref`` patterns of one family's tags: its versions and its stages."""
    validate_family(family)
    return f"refs/tags/{family}@*", f"refs/tags/{family}#*"


def parse_version(text: str | semver.Version) -> semver.Version:
    """Parse a user-facing version: ``1.2.3`` or ``v1.2.3`` (nothing else)."""
    import semver

    if isinstance(text, semver.Version):
        return text
    m = _VERSION_ARG_RE.match(str(text).strip()) if isinstance(text, str) else None
    if not m:
        raise RegistryError(
            f"invalid version {text!r}: expected MAJOR.MINOR.PATCH such as 1.2.3 or v1.2.3"
        )
    return semver.Version.parse(m.group(1))


def format_version(version: str | semver.Version) -> str:
    """``semver.Version(1, 2, 3)`` or ``"1.2.3"`` -> ``"v1.2.3"``."""
    return "v" + str(parse_version(version))


def version_tag(family: str, version) -> str:
    return f"{validate_family(family)}@{format_version(version)}"


def stage_tag(family: str, stage: str, counter: int) -> str:
    if not STAGE_RE.match(stage or ""):
        raise RegistryError(f"invalid stage name {stage!r}")
    if int(counter) < 1:
        raise RegistryError(f"invalid stage counter {counter!r}")
    return f"{validate_family(family)}#{stage}#{int(counter)}"


def _core(vstring: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a plain "vX.Y.Z" (all the registry writes), else None."""
    m = _CORE_RE.fullmatch(vstring[1:])
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _semver_order(a: str, b: str) -> int:
    import semver

    return semver.Version.parse(a[1:]).compare(b[1:])


@lru_cache(maxsize=4096)
def version_key(vstring: str) -> tuple:
    """Sort key of a "vX.Y.Z..." string in SemVer precedence. Plain versions are integers;
    pre-releases (which only other tools write) are ordered by semver, imported then."""
    core = _core(vstring)
    if core is not None:
        return (*core, 1, None)
    import semver

    v = semver.Version.parse(vstring[1:])
    if v.prerelease is None:  # build metadata does not count
        return (v.major, v.minor, v.patch, 1, None)
    return (v.major, v.minor, v.patch, 0, cmp_to_key(_semver_order)(vstring))


def _valid_semver(text: str) -> bool:
    if _CORE_RE.fullmatch(text):
        return True
    import semver

    try:
        semver.Version.parse(text)
    except ValueError:
        return False
    return True


VersionTagName = namedtuple("VersionTagName", "family vstring")  # vstring: "v1.2.3"
StageTagName = namedtuple("StageTagName", "family stage counter")


@lru_cache(maxsize=None)
def _is_family(text: str) -> bool:
    return FAMILY_RE.match(text) is not None


@lru_cache(maxsize=None)
def parse_tag(name: str) -> VersionTagName | StageTagName | None:
    """Parse a tag name (without ``refs/tags/``); None if it is not a registry tag.

    Unassign tags (``#stage!#N``), deregistrations (``@v1.2.3!``), other GTO
    forms and anything with an invalid family or version return None. Split on the
    separators rather than matched by one regex: ``show`` parses every tag of the repository.
    """
    if "!" in name:
        return None
    family, at, version = name.partition("@v")
    if at:
        return VersionTagName(family, "v" + version) if _is_family(family) and _valid_semver(version) else None
    parts = name.split("#")
    if (len(parts) == 3 and _is_family(parts[0]) and _STAGE_IN_TAG_RE.fullmatch(parts[1])
            and parts[2].isascii() and parts[2].isdigit()):
        return StageTagName(parts[0], parts[1], int(parts[2]))
    return None


# GTO writes these too; the registry cannot read them as GTO does (an unassign changes the
# holder in GTO and is ignored by `dvc artifacts get`), so a family holding one stops with
# the tag named and how to migrate.
_GTO_FORMS = (
    (re.compile(rf"^({FAMILY_PATTERN})#[a-z0-9][a-z0-9_-]*!#[0-9]+$"), "a GTO unassign tag"),
    (re.compile(rf"^({FAMILY_PATTERN})#[a-z0-9][a-z0-9_-]*$"), "a GTO stage tag without a counter (gto assign --simple)"),
    (re.compile(rf"^({FAMILY_PATTERN})@v\S+!$"), "a GTO deregistration"),
    (re.compile(rf"^({FAMILY_PATTERN})@deprecated$"), "a GTO artifact deprecation"),
)


def gto_form(name: str) -> tuple[str, str] | None:
    """(family, what it is) for a tag in one of GTO's forms the registry does not read."""
    for pattern, what in _GTO_FORMS:
        match = pattern.match(name)
        if match:
            return match.group(1), what
    return None


def validate_stage(stage: str, stages=DEFAULT_STAGES) -> Stage:
    if stage not in stages or stage not in DEFAULT_STAGES:
        raise RegistryError(f"unknown stage {stage!r}: expected one of {', '.join(DEFAULT_STAGES)}")
    return Stage(stage)
