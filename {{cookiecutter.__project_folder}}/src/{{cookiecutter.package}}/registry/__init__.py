"""Git-tag model registry (GTO/DVC compatible). See ``docs/`` and ``model-registry --help``.

Self-contained: stdlib, ``semver`` and ``yaml`` only at import time; never DVC or hydra.
"""

from .api import (
    abort_canary,
    archive,
    deprecate,
    drill,
    diff,
    history,
    load_model,
    open_repo,
    promote,
    release,
    resolve,
    resolve_commit,
    rollback,
    show,
    verify,
    version_info,
)
from .errors import RegistryError
from .lifecycle import Repo, Result, next_version
from .tags import format_version, parse_tag, parse_version, stage_tag, version_tag

__all__ = [
    "RegistryError", "Repo", "Result", "abort_canary", "archive", "deprecate", "diff", "drill", "load_model",
    "format_version", "history", "next_version", "open_repo", "parse_tag", "parse_version",
    "promote", "release", "resolve", "resolve_commit", "rollback", "show", "stage_tag",
    "verify", "version_info", "version_tag",
]
