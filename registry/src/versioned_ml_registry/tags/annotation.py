"""The body of a registry tag: a first line like GTO's, then YAML.

Anyone who can push a tag writes these bodies, so reading one is bounded: at most
``MAX_BYTES``, no YAML aliases, at most ``MAX_DEPTH`` levels, and only a mapping is accepted.
A body that breaks a limit reads as empty and is reported by ``verify``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .._version import __version__
from ..errors import RegistryError
from .names import stage_tag
from .refs import NewTag

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from .state import FamilyState

MAX_BYTES = 64 * 1024
MAX_DEPTH = 20


@lru_cache(maxsize=None)
def _bounded_loader():
    """SafeLoader that refuses aliases and deep nesting (an alias bomb costs nothing here).
    Built on first use: commands that never read a tag body never import yaml."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("YAML aliases are not allowed in a registry tag")
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_DEPTH:
                    raise yaml.YAMLError(f"nesting deeper than {MAX_DEPTH} levels")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return BoundedLoader


def parse_body(message: str) -> dict:
    """The YAML after the first line of a tag message; raises RegistryError when unreadable."""
    _, _, rest = message.partition("\n")
    if not rest.strip():
        return {}
    if len(rest.encode("utf-8", "replace")) > MAX_BYTES:
        raise RegistryError(f"annotation larger than {MAX_BYTES} bytes")
    import yaml

    try:
        data = yaml.load(rest, Loader=_bounded_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RegistryError(f"annotation is not valid registry YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RegistryError("annotation YAML is not a mapping")
    return data


def safe_body(message: str) -> dict:
    """``parse_body``, or {} for a malformed body (reads skip it; ``verify`` reports it)."""
    try:
        return parse_body(message)
    except RegistryError:
        return {}


def _dump(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def version_message(family: str, vstring: str, body: dict) -> str:
    body = {"registry_version": __version__, **body}
    return f"Registering artifact {family} version {vstring}\n\n{_dump(body)}"


# the subject line of stage_message (GTO writes the same): the version a stage tag assigned
STAGE_SUBJECT = re.compile(r"Assigning stage (?P<stage>\S+) to artifact (?P<family>\S+) version (?P<version>\S+)")


def stage_message(family: str, vstring: str, stage: str, body: dict) -> str:
    body = {"registry_version": __version__, **body}
    return f"Assigning stage {stage} to artifact {family} version {vstring}\n\n{_dump(body)}"


def stage_assignment(fam: FamilyState, vstring: str, commit: str, stage: str, counter: int, event: str,
                     by: str, reason: str | None, extra: dict | None = None,
                     replaces: str | None = None) -> NewTag:
    """The one stage tag format: the tag assigning ``stage`` to ``vstring``, its body saying who,
    why, from which stage, and which tag of that stage it follows (``replaces``: by default the
    stage's newest tag in ``fam``), so the history of every stage is one checkable chain."""
    previous = fam.newest_event(stage)
    body = {"event": event, "family": fam.name, "version": vstring, "stage": str(stage),
            "from_stage": fam.status(vstring), "by": by, "reason": reason,
            "replaces": replaces or (previous.tag if previous else None), **(extra or {})}
    return NewTag(stage_tag(fam.name, stage, counter), commit, stage_message(fam.name, vstring, str(stage), body))
