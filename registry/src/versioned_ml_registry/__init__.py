"""versioned-ml-registry: a git-tag model registry that GTO and DVC read.

Versions are ``<family>@v<semver>`` tags whose bump is derived from evidence; stages are
``<family>#<stage>#<N>`` tags. The API in :mod:`.api` enforces every rule; ``model-registry``
is a thin command line over it. The tag commands import neither DVC nor hydra.
"""

from ._version import __version__

# Names resolve on first use (PEP 562), so `model-registry resolve` loads only what it needs.
_EXPORTS = {
    "api": ("abort_canary", "archive", "changelog", "deprecate", "diff", "drill", "history", "load_model",
            "open_repo", "promote", "propose", "push", "release", "report", "resolve", "resolve_commit",
            "rollback", "show", "verify", "version_info"),
    "errors": ("RegistryError",),
    "rules.bump": ("Bump", "next_version"),
    "tags.repo": ("Repo",),
    "result": ("Result",),
    "tags.names": ("format_version", "parse_tag", "parse_version", "stage_tag", "version_tag"),
    "rules.stages": ("Stage",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = ["__version__", *sorted(_WHERE)]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
