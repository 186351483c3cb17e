"""The SemVer policy: a bump is an enum with rules, never a string comparison.

* the evidence (bundle comparison) and the Conventional Commits each give a bump; the release
  takes the higher, so commits can raise the bump, never lower it;
* first release: 0.1.0;
* while a family is below 1.0.0, a MAJOR from the evidence becomes the next MINOR (initial
  development, as SemVer allows); ``release --bump major`` takes it to 1.0.0.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Optional

import semver

from ..errors import RegistryError

FIRST_VERSION = semver.Version(0, 1, 0)


class Bump(IntEnum):
    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @classmethod
    def parse(cls, text: Optional[str]) -> "Bump":
        """``"major"``/``"minor"``/``"patch"`` (or None: no bump)."""
        if text is None or isinstance(text, Bump):
            return cls.NONE if text is None else text
        try:
            return cls[str(text).upper()] if str(text).upper() != "NONE" else cls.NONE
        except KeyError:
            raise RegistryError(f"invalid bump {text!r}: expected major, minor or patch") from None

    @property
    def label(self) -> Optional[str]:
        """The name written in tags and reports: ``"minor"``, or None for no bump."""
        return None if self is Bump.NONE else self.name.lower()


def higher(*bumps: Bump) -> Bump:
    return max(bumps, default=Bump.NONE)


def next_version(current: Optional[semver.Version], bump: Bump,
                 explicit_major: bool = False) -> semver.Version:
    """The version after ``current`` for ``bump`` (``explicit_major``: a human asked for 1.0.0)."""
    if current is None:
        return FIRST_VERSION
    if bump is Bump.MAJOR:
        if current.major == 0 and not explicit_major:
            return current.bump_minor()
        return current.bump_major()
    if bump is Bump.MINOR:
        return current.bump_minor()
    if bump is Bump.PATCH:
        return current.bump_patch()
    raise RegistryError(f"no bump: nothing to release after v{current}")
