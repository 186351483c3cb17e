"""``verify``: version tags against dvc.lock at their commits (git only)."""

from __future__ import annotations

from pathlib import Path

from ..dvc.files import lock_md5s, norm_path
from ..errors import RegistryError
from ..tags.annotation import parse_body


def _get(item, name, default=None):
    """A field of a version: dict key or attribute, else from its parsed annotation (``meta``)."""
    if isinstance(item, dict):
        value = item.get(name)
    else:
        value = getattr(item, name, None)
    if value is None:
        meta = item.get("meta") if isinstance(item, dict) else getattr(item, "meta", None)
        if isinstance(meta, dict):
            value = meta.get(name)
    return default if value is None else value


def verify_version_tags(repo, versions) -> list[str]:
    """Problems (one line each) where a version tag's recorded md5s disagree with dvc.lock.

    Each item of ``versions`` (object or dict, e.g. state.VersionInfo) has ``family``,
    ``version``, ``commit``, ``md5`` (``{bundle path: dir md5}`` from the tag annotation;
    looked up in ``.meta`` when not an attribute) and optionally ``tag`` (tag name).
    """
    repo = str(repo)
    problems = []
    for item in versions:
        family, version = _get(item, "family"), _get(item, "version")
        commit, recorded = _get(item, "commit"), _get(item, "md5") or {}
        name = _get(item, "tag") or f"{family}@{_version(version)}"
        if not recorded:
            problems.append(f"{name}: the tag records no artifact md5")
            continue
        if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
            problems.append(f"{name}: the tag's md5 is not a mapping of path to md5")
            continue
        for path, md5 in sorted(recorded.items()):
            try:
                locked = lock_md5s(repo, path, rev=commit)["md5"][norm_path(path)]
            except RegistryError as exc:
                problems.append(f"{name}: {exc}")
                continue
            if locked != md5:
                problems.append(f"{name}: tag records {md5} for {path}, "
                                f"dvc.lock at {str(commit)[:7]} has {locked}")
    return problems


def _version(version) -> str:
    text = str(version)
    return text if text.startswith("v") else f"v{text}"


def _annotation_problems(tag) -> list[str]:
    try:
        parse_body(tag.message)
    except RegistryError as exc:
        return [f"{tag.tag}: {exc}; reads skip its annotation"]
    return []


def signature_problems(repo, families) -> list[str]:
    """Every registry tag of ``families`` that the authority policy (:mod:`..tags.trust`) fails:
    unsigned where it needs a signature, an unknown or expired key, a principal not allowed
    for what the tag did, or a signature that does not verify."""
    from ..tags.trust import Judge, load_policy

    judge = Judge(repo.toplevel, load_policy(repo.toplevel))
    return [f"{tag}: {why}" for fam in families
            for tag, why in sorted(judge.records(repo.read_records(fam.name)).items())]


def verify_families(toplevel: str, families, remote: bool = False) -> dict:
    """``verify`` over ``families``: md5s against dvc.lock, stage tags against the versions
    they name, annotations against their limits, and (``remote``) artifacts in the DVC remote,
    their bytes against the sha256 the version tags record (:mod:`..bundle.digests`).
    ``warnings``: versions that record no sha256, which still load."""
    from ..bundle.digests import remote_sha256_problems, tag_findings

    versions = [v for fam in families for v in fam.sorted_versions()]
    problems = verify_version_tags(toplevel, versions)
    sha256_problems, warnings = tag_findings(versions)
    problems += sha256_problems
    for fam in families:
        problems += fam.problems()
        for tag in list(fam.versions.values()) + fam.events:
            problems += _annotation_problems(tag)
        for event in fam.events:
            recorded = event.meta.get("version")
            if event.version is not None and isinstance(recorded, str) and recorded != event.version:
                problems.append(f"{event.tag} assigns {recorded} but points at {event.commit[:7]}, where "
                                f"{event.version} is tagged: the version tag was moved or re-created")
    missing, checked_remote = [], False
    if remote and Path(toplevel, ".dvc").is_dir():
        from ..dvc.store import missing_in_remote

        checked_remote = True
        for info in versions:
            try:
                gaps = missing_in_remote(toplevel, info.commit, info.bundle_path)
            except RegistryError as exc:
                missing.append(f"{info.tag}: {exc}")
                continue
            if gaps:
                missing.append(f"artifacts of {info.tag} are not in the DVC remote ({len(gaps)} missing, e.g. {gaps[0]})")
            try:
                problems += remote_sha256_problems(toplevel, info)
            except RegistryError as exc:
                missing.append(f"{info.tag}: {exc}")
    return {"checked": len(versions), "checked_remote": checked_remote, "problems": problems, "missing": missing,
            "warnings": warnings}
