"""Reading model bundles (``models/<family>/``) and what dvc.yaml / dvc.lock say about them.

A bundle is read either from the working tree (what ``dvc repro`` just wrote) or at a git
revision through DVC's filesystem (cache first, then the remote; never the working tree).
dvc.yaml and dvc.lock are plain YAML: reading them needs no DVC import, so the tag commands
stay fast. DVC is imported lazily, only by the functions that read data at a revision or ask
DVC for the workspace status.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import RegistryError

BUNDLE_JSON = ("signature.json", "fingerprint.json", "card.json")
MODEL_FILE = "model.skops"
PARAMS_FILE = "params.yaml"


@dataclass
class Bundle:
    """The parts of a bundle the bump rules compare.

    ``files`` maps every file of the bundle (relative to the bundle folder) to its md5, so a
    change to any file, even one the rules do not know, is noticed.
    """

    path: str
    signature: dict
    fingerprint: dict
    card: dict
    model_md5: str
    files: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- dvc.yaml


def _norm(path: str) -> str:
    return posixpath.normpath(str(path).replace("\\", "/")).rstrip("/")


def load_yaml_file(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path.name} is not valid YAML: {str(exc).splitlines()[0]}") from exc


def load_dvc_yaml(repo) -> dict:
    return load_yaml_file(Path(repo) / "dvc.yaml")


def artifact_path(repo, family: str) -> str:
    """The bundle folder of ``family``, from ``artifacts:`` in dvc.yaml."""
    artifacts = load_dvc_yaml(repo).get("artifacts") or {}
    entry = artifacts.get(family)
    if not isinstance(entry, dict) or not entry.get("path"):
        known = ", ".join(sorted(artifacts)) or "none"
        raise RegistryError(f'no artifact "{family}" in dvc.yaml (artifacts: {known})')
    return _norm(entry["path"])


def _entry_paths(entries) -> list[str]:
    """Paths of a stage's ``deps`` or ``outs`` list (items are strings or one-key dicts)."""
    paths = []
    for item in entries or []:
        if isinstance(item, str):
            paths.append(_norm(item))
        elif isinstance(item, dict):
            paths.extend(_norm(key) for key in item)
    return paths


def _params_files(stage: dict) -> list[str]:
    """The parameter files a stage reads (``params.yaml`` unless it names others)."""
    files = set()
    for item in stage.get("params") or []:
        if isinstance(item, dict):
            files.update(_norm(key) for key in item)
        else:
            files.add(PARAMS_FILE)
    return sorted(files)


def _overlaps(a: str, b: str) -> bool:
    """True when one path is the other or lies inside it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def upstream_stages(dvc_yaml: dict, out_path: str) -> list[str]:
    """The stage producing ``out_path`` and every stage upstream of it (producer first).

    Stage A is upstream of B when an output of A is a dependency of B, or A writes a
    parameter file B reads (e.g. a stage composing params.yaml from conf/ with hydra).
    """
    stages = dvc_yaml.get("stages") or {}
    outs = {name: _entry_paths(stage.get("outs")) for name, stage in stages.items()}

    def producers(path: str) -> list[str]:
        return [name for name, paths in outs.items() if any(_overlaps(path, p) for p in paths)]

    order: list[str] = []
    queue = producers(_norm(out_path))
    while queue:
        name = queue.pop(0)
        if name in order:
            continue
        order.append(name)
        stage = stages[name] or {}
        for dep in _entry_paths(stage.get("deps")) + _params_files(stage):
            queue.extend(p for p in producers(dep) if p not in order)
    return order


def _stage_deps(dvc_yaml: dict, names: list[str]) -> list[str]:
    stages = dvc_yaml.get("stages") or {}
    deps: list[str] = []
    for name in names:
        for dep in _entry_paths((stages.get(name) or {}).get("deps")):
            if dep not in deps:
                deps.append(dep)
    return deps


# --------------------------------------------------------------------------- dvc.lock


def git_show(repo, rev: str, path: str) -> str | None:
    """``git show rev:path`` as text, or None when the file is absent at that revision."""
    result = subprocess.run(
        ["git", "show", f"{rev}:{path}"],
        cwd=repo, capture_output=True, text=True, check=False,
    )
    return result.stdout if result.returncode == 0 else None


def _read_text(repo, rev: str | None, path: str) -> str | None:
    if rev is None:
        try:
            return (Path(repo) / path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
    return git_show(repo, rev, path)


def _lock_outs_and_deps(repo, rev: str | None) -> tuple[dict, dict, dict]:
    """(outs, deps, stage deps) md5s recorded in dvc.lock: path -> md5."""
    text = _read_text(repo, rev, "dvc.lock")
    lock = yaml.safe_load(text) if text else {}
    outs: dict[str, str] = {}
    deps: dict[str, str] = {}
    per_stage: dict[str, dict[str, str]] = {}
    for name, stage in ((lock or {}).get("stages") or {}).items():
        per_stage[name] = {}
        for key, target in (("outs", outs), ("deps", deps)):
            for item in (stage or {}).get(key) or []:
                if isinstance(item, dict) and item.get("path") and item.get("md5"):
                    target[_norm(item["path"])] = item["md5"]
                    if key == "deps":
                        per_stage[name][_norm(item["path"])] = item["md5"]
    return outs, deps, per_stage


def _dvc_file_out(repo, rev: str | None, bundle_path: str) -> str | None:
    """The md5 of a ``dvc add``-ed bundle, from ``<bundle>.dvc``."""
    text = _read_text(repo, rev, bundle_path + ".dvc")
    if not text:
        return None
    for item in (yaml.safe_load(text) or {}).get("outs") or []:
        if isinstance(item, dict) and item.get("md5"):
            return item["md5"]
    return None


def lock_md5s(repo, bundle_path: str, rev: str | None = None) -> dict:
    """What DVC recorded for a bundle: working tree (``rev=None``) or ``git show rev:dvc.lock``.

    Returns ``{"md5": {bundle_path: "<md5>.dir"}, "data_version": {path: md5},
    "preprocessing": {path: md5}}``: the bundle directory's md5 and the md5s of the
    pipeline's inputs upstream of the bundle (raw data, i.e. dependencies no stage produces
    and that are not code; and source code). Raises RegistryError when nothing is recorded.
    """
    bundle_path = _norm(bundle_path)
    outs, deps, per_stage = _lock_outs_and_deps(repo, rev)
    md5 = outs.get(bundle_path) or _dvc_file_out(repo, rev, bundle_path)
    where = f"at {rev[:7]}" if rev else "in the working tree"
    if not md5:
        raise RegistryError(f"dvc.lock {where} records no md5 for {bundle_path}")

    dvc_yaml_text = _read_text(repo, rev, "dvc.yaml")
    dvc_yaml = (yaml.safe_load(dvc_yaml_text) if dvc_yaml_text else {}) or {}
    names = upstream_stages(dvc_yaml, bundle_path)
    wanted = {path for name in names for path in per_stage.get(name, {})} if names else set()
    data, code = {}, {}
    for path in sorted(wanted):
        if path.endswith(".py") or path.startswith("src/"):
            code[path] = deps[path]
        elif path not in outs and not any(_overlaps(path, out) for out in outs):
            data[path] = deps[path]
    return {"md5": {bundle_path: md5}, "data_version": data, "preprocessing": code}


# --------------------------------------------------------------------------- bundles


def _parse_json(name: str, raw: bytes, where: str) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{where}/{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise RegistryError(f"{where}/{name} must hold a JSON object")
    return value


def _bundle(path: str, files: dict[str, str], read, where: str) -> Bundle:
    missing = [name for name in (MODEL_FILE, *BUNDLE_JSON) if name not in files]
    if missing:
        raise RegistryError(f"bundle {where} lacks {', '.join(missing)}; run `dvc repro`")
    parsed = {name: _parse_json(name, read(name), where) for name in BUNDLE_JSON}
    return Bundle(
        path=path,
        signature=parsed["signature.json"],
        fingerprint=parsed["fingerprint.json"],
        card=parsed["card.json"],
        model_md5=files[MODEL_FILE],
        files=dict(sorted(files.items())),
    )


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - content address, as DVC uses it


def md5_file(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_bundle_from_workspace(repo, bundle_path: str) -> Bundle:
    """The bundle as the working tree holds it (what the last ``dvc repro`` wrote)."""
    root = Path(repo) / bundle_path
    if not root.is_dir():
        raise RegistryError(f"no bundle at {bundle_path}; run `dvc repro` first")
    files = {
        item.relative_to(root).as_posix(): md5_file(item)
        for item in sorted(root.rglob("*"))
        if item.is_file()
    }
    return _bundle(_norm(bundle_path), files, lambda name: (root / name).read_bytes(), bundle_path)


def open_dvc_fs(repo, rev: str):
    """DVC's filesystem of ``repo`` at ``rev``: data from the cache, else the default remote."""
    from dvc.api import DVCFileSystem  # lazy: tag commands never import DVC

    return DVCFileSystem(repo=str(repo), rev=rev, subrepos=False)


def dvc_dir_listing(fs, bundle_path: str) -> tuple[str, dict[str, str]]:
    """(directory md5, {relative file path: md5}) from the ``.dir`` manifest DVC recorded.

    Only the manifest is needed, not the files' bytes.
    """
    bundle_path = _norm(bundle_path)
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
            files[posixpath.relpath(_norm(path), bundle_path)] = md5
    return dir_md5, files


def manifest_md5(files: dict[str, str]) -> str:
    """The ``.dir`` md5 DVC gives a directory with these files (as dvc_data's Tree.digest)."""
    entries = sorted(({"md5": md5, "relpath": rel} for rel, md5 in files.items()),
                     key=lambda entry: entry["relpath"])
    return md5_bytes(json.dumps(entries, sort_keys=True).encode("utf-8")) + ".dir"


def read_dvc_file(fs, path: str) -> bytes:
    try:
        with fs.open(path, mode="rb") as handle:
            return handle.read()
    except Exception as exc:
        raise RegistryError(
            f"cannot fetch {path}: not in the DVC cache nor in the remote ({exc})"
        ) from exc


def read_bundle_at(repo, rev: str, bundle_path: str) -> Bundle:
    """The bundle recorded at ``rev``, read through DVC (cache first, then the remote).

    The JSON files are fetched; model.skops is known by the md5 of the ``.dir`` manifest,
    so comparing two bundles does not download the model.
    """
    bundle_path = _norm(bundle_path)
    fs = open_dvc_fs(repo, rev)
    try:
        _, files = dvc_dir_listing(fs, bundle_path)
        return _bundle(
            bundle_path, files,
            lambda name: read_dvc_file(fs, f"{bundle_path}/{name}"),
            f"{bundle_path}@{rev[:7]}",
        )
    finally:
        fs.close()


def workspace_matches_lock(repo) -> list[str]:
    """What ``dvc status`` reports as changed, one line each; empty when the workspace is clean."""
    from dvc.repo import Repo  # lazy

    with Repo(str(repo)) as dvc_repo:
        status = dvc_repo.status()
    problems = []
    for target, changes in sorted(status.items()):
        target = _relative_target(repo, target)
        for change in changes:
            if change == "always changed":  # the propose stage: it writes nothing
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
    import os

    path, sep, stage = target.rpartition(":")
    if not sep:
        path, stage = target, ""
    try:
        path = Path(os.path.abspath(path)).relative_to(Path(repo).resolve()).as_posix()
    except ValueError:
        return target
    return f"{path}:{stage}" if sep else path
