"""Python API of the registry (what the CLI calls). Every function takes ``repo``: a path
inside a git repository (default: the current directory) or a :class:`Repo`.

Read functions return plain dicts/lists (JSON-serialisable); write functions return a
:class:`Result` and raise :class:`RegistryError` without writing anything on bad input.
"""

from __future__ import annotations

from typing import List, Optional, Union

from . import lifecycle
from .errors import RegistryError
from .lifecycle import ArtifactsCheck, Repo, Result
from .tags import validate_family

RepoLike = Union[None, str, Repo]


def open_repo(repo: RepoLike = None) -> Repo:
    return repo if isinstance(repo, Repo) else Repo(repo)


# ---- read ---------------------------------------------------------------------------

def show(repo: RepoLike = None, family: Optional[str] = None) -> dict:
    """``{"families": {name: summary}}``; summary has latest, versions, holders (staging,
    canary, production), lists (candidate, shadow, deprecated, archived), canary_live,
    status per version."""
    r = open_repo(repo)
    if family is not None:
        fams = [r.family(family)]
    else:
        fams = [r.state.families[k] for k in sorted(r.state.families)]
    return {"families": {f.name: f.summary(r.stages) for f in fams}}


def history(repo: RepoLike = None, family: str = None) -> List[dict]:
    """Every event of ``family`` (release and stage assignments), oldest first."""
    r = open_repo(repo)
    return r.family(family).history()


def resolve(repo: RepoLike = None, family: str = None, stage: str = "production") -> Optional[str]:
    """The holder of ``stage`` ("v1.3.0"), or None when the stage is empty."""
    r = open_repo(repo)
    stage = r.stage(stage)
    validate_family(family)
    fam = r.state.family(family)
    if fam is None:
        raise RegistryError(f"unknown family {family!r}")
    return fam.holder(stage)


def resolve_commit(repo: RepoLike = None, family: str = None, stage: str = "production") -> Optional[str]:
    """The commit of the holder of ``stage`` (for fetching its bundle), or None."""
    r = open_repo(repo)
    ev = r.family(family).newest_event(r.stage(stage))
    return ev.commit if ev else None


def version_info(repo: RepoLike = None, family: str = None, version: str = None) -> dict:
    """Tag, commit, time and the parsed annotation of a released version."""
    r = open_repo(repo)
    info = r.version(r.family(family), version)
    return {"family": info.family, "version": info.vstring, "tag": info.tag,
            "commit": info.commit, "time": info.time, "meta": info.meta}


def verify(repo: RepoLike = None, family: Optional[str] = None, remote: bool = False) -> dict:
    """Every version tag's recorded md5s equal dvc.lock at its commit; its stage tags point at
    the same commit (a moved or re-created version tag breaks that); with ``remote``, its
    artifacts are in the DVC remote."""
    from .checks import artifacts_in_remote
    from .verify import verify_version_tags

    r = open_repo(repo)
    families = [r.family(family)] if family else [r.state.families[k] for k in sorted(r.state.families)]
    versions = [v for fam in families for v in fam.sorted_versions()]
    problems = verify_version_tags(r.toplevel, versions)
    for event in (event for fam in families for event in fam.events):
        recorded = event.meta.get("version")
        if recorded and recorded != event.version:
            problems.append(f"{event.tag} assigns {recorded} but points at {event.commit[:7]}, where "
                            f"{event.version or 'no version'} is tagged: the version tag was moved or re-created")
    missing = []
    if remote:
        missing = [problem for v in versions if (problem := artifacts_in_remote(r.toplevel, v.family, v))]
    return {"checked": len(versions), "problems": problems, "missing": missing}


def diff(repo: RepoLike = None, family: str = None, old: str = None, new: str = None) -> dict:
    """What changed between two released versions: params, metrics, and the bump the bundle
    evidence derives (signature, behaviour, weights)."""
    from .bundles import read_bundle_at
    from .evidence import compare
    from .proposal import registry_settings

    r = open_repo(repo)
    fam = r.family(family)
    before, after = r.version(fam, old), r.version(fam, new)
    settings = registry_settings(r.toplevel)
    bump, reasons = compare(read_bundle_at(r.toplevel, before.commit, before.bundle_path),
                            read_bundle_at(r.toplevel, after.commit, after.bundle_path),
                            settings["agreement_threshold"], settings["metric_tolerance"])
    return {"family": family, "old": before.vstring, "new": after.vstring, "bump": bump, "reasons": reasons,
            "params": _changed(_flat(before.meta.get("params") or {}), _flat(after.meta.get("params") or {})),
            "metrics": _changed(_flat(before.meta.get("metrics") or {}), _flat(after.meta.get("metrics") or {}))}


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _changed(before: dict, after: dict) -> dict:
    return {key: (before.get(key), after.get(key)) for key in sorted({**before, **after})
            if before.get(key) != after.get(key)}


def load_model(family: str, stage: Optional[str] = "production", version: Optional[str] = None,
               repo: RepoLike = None):
    """A predictor for the version that holds ``stage`` (or the given ``version``), with the
    preprocessing and label decoding pinned in that version's bundle, fetched at that
    version's commit through DVC and checked against the md5 its tag recorded."""
    from .serving import load_version

    r = open_repo(repo)
    fam = r.family(family)
    if version is None:
        version = fam.holder(r.stage(stage))
        if version is None:
            raise RegistryError(f"no version of {family} holds {stage}")
    info = r.version(fam, version)
    path = info.bundle_path
    recorded = (info.meta.get("md5") or {}).get(path)
    if not recorded:
        raise RegistryError(f"{info.tag} records no md5 for {path}: it was not written by model-registry release")
    return load_version(r.toplevel, family, info.vstring, info.commit, path, recorded)


# ---- write --------------------------------------------------------------------------

def release(repo: RepoLike = None, family: str = None, proposal=None,
            bump_override: Optional[str] = None, force: bool = False,
            reason: Optional[str] = None, preflight=None, if_changed: bool = False) -> Result:
    return lifecycle.release(open_repo(repo), family, proposal, bump_override, force, reason,
                             preflight=preflight, if_changed=if_changed)


def promote(repo: RepoLike = None, family: str = None, version: str = None,
            stage: str = None, reason: Optional[str] = None, force: bool = False,
            skip_staging: bool = False,
            artifacts_check: Optional[ArtifactsCheck] = None) -> Result:
    return lifecycle.promote(open_repo(repo), family, version, stage, reason, force,
                             skip_staging, artifacts_check)


def rollback(repo: RepoLike = None, family: str = None, to: Optional[str] = None,
             reason: Optional[str] = None, force: bool = False) -> Result:
    return lifecycle.rollback(open_repo(repo), family, to, reason, force)


def drill(repo: RepoLike = None, family: str = None, reason: Optional[str] = None) -> Result:
    return lifecycle.drill(open_repo(repo), family, reason)


def abort_canary(repo: RepoLike = None, family: str = None, reason: Optional[str] = None) -> Result:
    return lifecycle.abort_canary(open_repo(repo), family, reason)


def deprecate(repo: RepoLike = None, family: str = None, version: str = None,
              reason: Optional[str] = None, force: bool = False) -> Result:
    return lifecycle.deprecate(open_repo(repo), family, version, reason, force)


def archive(repo: RepoLike = None, family: str = None, version: str = None,
            reason: Optional[str] = None, force: bool = False) -> Result:
    return lifecycle.archive(open_repo(repo), family, version, reason, force)
