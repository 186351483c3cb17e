"""``verify``: version tags against dvc.lock, and bundles against the DVC remote.

``verify_version_tags`` needs git only (``git show <commit>:dvc.lock``). ``missing_in_remote``
asks the remote's object store directly (``repo.cloud.get_remote_odb(name).exists(oid)``,
what ``dvc status --cloud`` uses): the ``.dir`` manifest recorded in dvc.lock at the commit,
then every file the manifest lists.
"""

from __future__ import annotations

from .bundles import _norm, lock_md5s
from .errors import RegistryError


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
        for path, md5 in sorted(recorded.items()):
            try:
                locked = lock_md5s(repo, path, rev=commit)["md5"][_norm(path)]
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


def _manifest(dvc_repo, odb, dir_md5: str):
    """The ``.dir`` manifest from the remote, else the local cache; None if in neither."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    for store in (odb, dvc_repo.cache.local):
        try:
            return Tree.load(store, HashInfo("md5", dir_md5))
        except (FileNotFoundError, OSError, ValueError):
            continue
        except Exception:  # noqa: BLE001 - any failure means "not readable here"
            continue
    return None


def missing_in_remote(repo, commit: str, bundle_path: str, remote: str | None = None) -> list[str]:
    """The bundle's objects (``.dir`` manifest and files) absent from the DVC remote.

    Empty list: every object the version needs is in the remote. Raises RegistryError when
    no remote is configured or the remote is unreachable.
    """
    from dvc.repo import Repo  # lazy

    bundle_path = _norm(bundle_path)
    dir_md5 = lock_md5s(str(repo), bundle_path, rev=commit)["md5"][bundle_path]
    with Repo(str(repo)) as dvc_repo:
        try:
            odb = dvc_repo.cloud.get_remote_odb(remote, "verify")
        except Exception as exc:  # NoRemoteError, RemoteConfigError, unknown name
            raise RegistryError(f"DVC remote: {str(exc).splitlines()[0]}") from exc
        try:
            missing = []
            if not odb.exists(dir_md5):
                missing.append(f"{bundle_path} .dir manifest {dir_md5}")
            tree = _manifest(dvc_repo, odb, dir_md5)
            if tree is None:
                missing.append(f"{bundle_path}: cannot list its files, the manifest "
                               f"{dir_md5} is neither in the remote nor in the local cache")
                return missing
            entries = sorted(("/".join(key), hash_info.value) for key, _, hash_info in tree)
            present = set(odb.oids_exist([md5 for _, md5 in entries]))
            missing.extend(f"{bundle_path}/{rel} ({md5})" for rel, md5 in entries
                           if md5 not in present)
            return missing
        except RegistryError:
            raise
        except Exception as exc:  # network, credentials
            raise RegistryError(f"cannot reach the DVC remote: {str(exc).splitlines()[0]}") from exc
