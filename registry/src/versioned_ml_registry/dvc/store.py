"""DVC itself: a bundle's files at a revision (cache first, then the remote), the
workspace's ``dvc status``, which objects the DVC remote lacks and what the bytes it holds hash to.

DVC is imported inside the functions, so importing this module costs nothing."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from pathlib import Path

from ..errors import RegistryError
from . import rwlock
from .files import lock_md5s, norm_path


def _md5(data: bytes) -> str:
    """DVC's content address of ``data``."""
    return hashlib.md5(data).hexdigest()


def open_dvc_fs(repo, rev: str):
    """DVC's filesystem of ``repo`` at ``rev``: data from the cache, else the default remote."""
    from dvc.api import DVCFileSystem  # lazy: tag commands never import DVC

    return DVCFileSystem(repo=str(repo), rev=rev, subrepos=False)


def dvc_dir_listing(fs, bundle_path: str) -> tuple[str, dict[str, str]]:
    """(directory md5, {relative file path: md5}) from the ``.dir`` manifest DVC recorded.

    Only the manifest is needed, not the files' bytes.
    """
    bundle_path = norm_path(bundle_path)
    try:
        info = fs.info(bundle_path)
    except FileNotFoundError as exc:
        raise RegistryError(f"{bundle_path} is not tracked by DVC at that revision") from exc
    except Exception as exc:  # DVC raises its own types when the manifest cannot be loaded
        raise RegistryError(f"cannot read {bundle_path} through DVC: {exc}") from exc
    if info.get("type") != "directory":
        raise RegistryError(f"{bundle_path} is not a directory output at that revision")
    dir_md5 = (info.get("dvc_info") or {}).get("md5") or info.get("md5")
    files: dict[str, str] = {}
    try:
        found = fs.find(bundle_path, detail=True)
    except Exception as exc:
        raise RegistryError(
            f"cannot list {bundle_path} ({dir_md5}): its .dir manifest is neither in the "
            f"DVC cache nor in the remote ({exc})"
        ) from exc
    for path, entry in found.items():
        md5 = (entry.get("dvc_info") or {}).get("md5") or entry.get("md5")
        if entry.get("type") == "file" and md5:
            files[posixpath.relpath(norm_path(path), bundle_path)] = md5
    return dir_md5, files


def manifest_md5(files: dict[str, str]) -> str:
    """The ``.dir`` md5 DVC gives a directory with these files (as dvc_data's Tree.digest)."""
    entries = sorted(({"md5": md5, "relpath": rel} for rel, md5 in files.items()),
                     key=lambda entry: entry["relpath"])
    return _md5(json.dumps(entries, sort_keys=True).encode("utf-8")) + ".dir"


def read_dvc_file(fs, path: str) -> bytes:
    try:
        with fs.open(path, mode="rb") as handle:
            return handle.read()
    except Exception as exc:
        raise RegistryError(
            f"cannot fetch {path}: not in the DVC cache nor in the remote ({exc})"
        ) from exc


def open_dvc_repo(repo):
    """DVC's ``Repo`` of ``repo``, after healing what a killed DVC process left (:mod:`.rwlock`)."""
    from dvc.repo import Repo  # lazy: tag commands never import DVC

    rwlock.heal(repo)
    return Repo(str(repo))


def workspace_matches_lock(repo) -> list[str]:
    """What ``dvc status`` reports as changed, one line each; empty when the workspace is clean."""
    with open_dvc_repo(repo) as dvc_repo:
        status = dvc_repo.status()
    problems = []
    for target, changes in sorted(status.items()):
        target = _relative_target(repo, target)
        for change in changes:
            if change == "always changed":  # pins nothing (older projects' propose stage was one)
                continue
            if isinstance(change, str):
                problems.append(f"{target}: {change}")
                continue
            for kind, items in change.items():
                if isinstance(items, dict):
                    detail = ", ".join(f"{path} ({state})" for path, state in sorted(items.items()))
                else:
                    detail = str(items)
                problems.append(f"{target}: {kind}: {detail}")
    return problems


def _relative_target(repo, target: str) -> str:
    """``../../x/dvc.yaml:train`` (relative to the process' cwd) as ``dvc.yaml:train``."""

    path, sep, stage = target.rpartition(":")
    if not sep:
        path, stage = target, ""
    try:
        path = Path(os.path.abspath(path)).relative_to(Path(repo).resolve()).as_posix()
    except ValueError:
        return target
    return f"{path}:{stage}" if sep else path


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


def _remote_odb(dvc_repo, remote: str | None):
    try:
        return dvc_repo.cloud.get_remote_odb(remote, "verify")
    except Exception as exc:  # NoRemoteError, RemoteConfigError, unknown name
        raise RegistryError(f"DVC remote: {str(exc).splitlines()[0]}") from exc


def missing_in_remote(repo, commit: str, bundle_path: str, remote: str | None = None) -> list[str]:
    """The bundle's objects (``.dir`` manifest and files) absent from the DVC remote.

    Empty list: every object the version needs is in the remote. Raises RegistryError when
    no remote is configured or the remote is unreachable.
    """
    bundle_path = norm_path(bundle_path)
    dir_md5 = lock_md5s(str(repo), bundle_path, rev=commit)["md5"][bundle_path]
    with open_dvc_repo(repo) as dvc_repo:
        odb = _remote_odb(dvc_repo, remote)
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


def remote_digests(repo, commit: str, bundle_path: str, remote: str | None = None) -> dict[str, tuple]:
    """``{file relative to the bundle: (md5 the .dir manifest lists, md5 of the bytes the DVC
    remote holds for it, their sha256)}`` for every bundle file the remote holds. The bytes are
    streamed from the remote, not from the cache; files it lacks are left out
    (``missing_in_remote`` names them)."""
    bundle_path = norm_path(bundle_path)
    dir_md5 = lock_md5s(str(repo), bundle_path, rev=commit)["md5"][bundle_path]
    with open_dvc_repo(repo) as dvc_repo:
        odb = _remote_odb(dvc_repo, remote)
        try:
            tree = _manifest(dvc_repo, odb, dir_md5)
            digests = {}
            for key, _, hash_info in tree or ():
                listed = hash_info.value
                if not odb.exists(listed):
                    continue
                md5, sha256 = hashlib.md5(), hashlib.sha256()
                with odb.fs.open(odb.oid_to_path(listed), mode="rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        md5.update(chunk)
                        sha256.update(chunk)
                digests["/".join(key)] = (listed, md5.hexdigest(), sha256.hexdigest())
            return digests
        except Exception as exc:  # network, credentials
            raise RegistryError(f"cannot read from the DVC remote: {str(exc).splitlines()[0]}") from exc


def push_revisions(repo, commits: list[str], remote: str | None) -> int:
    """``dvc push`` of the outputs at ``commits`` (not the workspace): how many objects went.
    RegistryError with DVC's first line on failure (network, credentials, missing cache)."""
    import logging

    loggers = [logging.getLogger(name) for name in ("dvc", "dvc_data", "dvc_objects")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:  # the caller's one-line report follows, not DVC's multi-line warnings
        lg.setLevel(logging.CRITICAL)
    try:
        with open_dvc_repo(repo) as dvc_repo:
            return dvc_repo.push(revs=commits, remote=remote, workspace=False) or 0
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - network, credentials, missing cache: one line
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        raise RegistryError(lines[0] if lines else type(exc).__name__) from None
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)
