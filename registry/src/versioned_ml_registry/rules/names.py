"""The family-name rule: one definition for the registry, the generated project and its stages.

A family name is a GTO artifact name, a git tag prefix, a file name under ``conf/families/``
and a key in ``dvc.yaml``, so it must be all of these at once. The template's bake hook keeps a
copy (the registry is not installed when it runs); a test holds the two to the same verdicts.
"""

from __future__ import annotations

import re

from ..errors import RegistryError

FAMILY_PATTERN = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"
FAMILY_RE = re.compile(rf"^{FAMILY_PATTERN}$")
# Names that YAML 1.1 (PyYAML) or 1.2 (DVC's ruamel) reads as a number or boolean when unquoted.
YAML_SCALAR = re.compile(r"[0-9][0-9_]*(e-?[0-9]+)?|0x[0-9a-f_]+|0o[0-7_]+|0b[01_]+"
                         r"|y|n|yes|no|on|off|true|false|null")
# git writes a tag as .git/refs/tags/<tag>.lock (255 bytes at most); the longest tag of a family
# is its version tag with 10-digit components.
NAME_LIMIT = 255 - len(".lock") - len("@v" + ".".join(["9" * 10] * 3))


def family_problem(name) -> str | None:
    """Why ``name`` cannot be a family name, in one line, or None when it can."""
    if not isinstance(name, str) or not FAMILY_RE.fullmatch(name):
        return (f"invalid family name {name!r}: use lowercase letters, digits, '-' and '_', starting "
                "and ending with a letter or digit (no '@', '#', '!', ':', '/', '.', spaces or uppercase)")
    if YAML_SCALAR.fullmatch(name):
        return f"invalid family name {name!r}: YAML reads it as a number or boolean; choose another"
    if len(name) > NAME_LIMIT:
        return f"invalid family name: {len(name)} characters long, at most {NAME_LIMIT}"
    return None


def validate_family(name: str) -> str:
    """Return ``name`` if it is a valid family name, else raise RegistryError."""
    problem = family_problem(name)
    if problem:
        raise RegistryError(problem)
    return name
