"""The checks that need DVC, plugged into the tag commands only where they are needed.

Imported lazily by the CLI: `show`, `history`, `resolve` and non-production promotions never
load this module, so they never import DVC.
"""

from __future__ import annotations

from pathlib import Path

from .bundles import workspace_matches_lock
from .errors import RegistryError
from .verify import missing_in_remote


def require_lock_matches_workspace(repo) -> None:
    """Release preflight: `dvc status` must be clean, so the tag pins what dvc.lock says."""
    changed = workspace_matches_lock(repo.toplevel)
    if changed:
        raise RegistryError(
            f"dvc.lock does not match the workspace ({changed[0]}): run `dvc repro` and commit dvc.lock"
        )


def artifacts_in_remote(toplevel: str, family: str, info, remote: str | None = None) -> str | None:
    """Production gate: the version's bundle is in the DVC remote (None) or what is missing.

    A plain git repository (no `.dvc/`) has no DVC remote: the registry then only tags, and
    there is nothing to check."""
    if not (Path(toplevel) / ".dvc").is_dir():
        return None
    try:
        missing = missing_in_remote(toplevel, info.commit, info.bundle_path, remote=remote)
    except RegistryError as error:
        return str(error)
    if missing:
        return (f"artifacts of {info.tag} are not in the DVC remote ({len(missing)} missing, "
                f"e.g. {missing[0]}): run `model-registry push` first")
    return None
