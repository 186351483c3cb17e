"""The body of a registry tag: a first line like GTO's, then YAML.

Anyone who can push a tag writes these bodies, so reading one is bounded: at most
``MAX_BYTES``, no YAML aliases, at most ``MAX_DEPTH`` levels, and only a mapping is accepted.
A body that breaks a limit reads as empty and is reported by ``verify``.
"""

from __future__ import annotations

from functools import lru_cache

from ._version import __version__
from .errors import RegistryError

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


def stage_message(family: str, vstring: str, stage: str, body: dict) -> str:
    body = {"registry_version": __version__, **body}
    return f"Assigning stage {stage} to artifact {family} version {vstring}\n\n{_dump(body)}"
