"""dvc.yaml and dvc.lock read as plain YAML: which folder is a family's artifact, which
stages and inputs lie upstream of it, and the md5s DVC recorded. No DVC import, so the tag
commands stay fast."""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path

import yaml

from ..errors import RegistryError

PARAMS_FILE = "params.yaml"


def norm_path(path: str) -> str:
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
    return norm_path(entry["path"])


def artifact_path_at(repo, family: str, rev: str) -> str:
    """The bundle folder of ``family`` in dvc.yaml's ``artifacts:`` at ``rev``."""
    text = git_show(repo, rev, "dvc.yaml")
    try:
        artifacts = (yaml.safe_load(text) or {}).get("artifacts") or {} if text else {}
    except yaml.YAMLError:
        artifacts = {}
    entry = artifacts.get(family) if isinstance(artifacts, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise RegistryError(f'dvc.yaml at {rev[:7]} names no artifact "{family}"')
    return norm_path(entry["path"])


def _entry_paths(entries) -> list[str]:
    """Paths of a stage's ``deps`` or ``outs`` list (items are strings or one-key dicts)."""
    paths = []
    for item in entries or []:
        if isinstance(item, str):
            paths.append(norm_path(item))
        elif isinstance(item, dict):
            paths.extend(norm_path(key) for key in item)
    return paths


def _params_files(stage: dict) -> list[str]:
    """The parameter files a stage reads (``params.yaml`` unless it names others)."""
    files = set()
    for item in stage.get("params") or []:
        if isinstance(item, dict):
            files.update(norm_path(key) for key in item)
        else:
            files.add(PARAMS_FILE)
    return sorted(files)


def _overlaps(a: str, b: str) -> bool:
    """True when one path is the other or lies inside it."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def stage_graph(repo, rev: str | None = None) -> dict[str, dict[str, list[str]]]:
    """``{stage: {"deps", "outs", "params"}}`` with resolved stage names (``train@cultivar``):
    from dvc.lock, which records every stage as it ran, else from dvc.yaml's plain stages."""
    text = _read_text(repo, rev, "dvc.lock")
    lock = (yaml.safe_load(text) if text else None) or {}
    graph = {}
    for name, stage in (lock.get("stages") or {}).items():
        stage = stage or {}
        graph[name] = {"deps": [norm_path(d["path"]) for d in stage.get("deps") or [] if isinstance(d, dict)],
                       "outs": [norm_path(o["path"]) for o in stage.get("outs") or [] if isinstance(o, dict)],
                       "params": sorted(norm_path(f) for f in (stage.get("params") or {}))}
    if graph:
        return graph
    text = _read_text(repo, rev, "dvc.yaml")
    for name, stage in (((yaml.safe_load(text) if text else None) or {}).get("stages") or {}).items():
        if isinstance(stage, dict) and "foreach" not in stage and "matrix" not in stage:
            graph[name] = {"deps": _entry_paths(stage.get("deps")), "outs": _entry_paths(stage.get("outs")),
                           "params": _params_files(stage)}
    return graph


def upstream_stages(graph: dict, out_path: str) -> list[str]:
    """The stage producing ``out_path`` and every stage upstream of it (producer first).

    Stage A is upstream of B when an output of A is a dependency of B, or A writes a
    parameter file B reads (e.g. a stage composing params.yaml from conf/ with hydra).
    """
    def producers(path: str) -> list[str]:
        return [name for name, stage in graph.items() if any(_overlaps(path, p) for p in stage["outs"])]

    order: list[str] = []
    queue = producers(norm_path(out_path))
    while queue:
        name = queue.pop(0)
        if name in order:
            continue
        order.append(name)
        for dep in graph[name]["deps"] + graph[name]["params"]:
            queue.extend(p for p in producers(dep) if p not in order)
    return order


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


def read_params(repo, rev: str | None = None) -> dict:
    """params.yaml as a mapping, in the working tree (``rev=None``) or at ``rev``; {} when absent."""
    text = _read_text(repo, rev, PARAMS_FILE)
    try:
        params = yaml.safe_load(text) if text else {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"params.yaml is not valid YAML: {str(exc).splitlines()[0]}") from None
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise RegistryError("params.yaml: the file must be a mapping")
    return params


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
                    target[norm_path(item["path"])] = item["md5"]
                    if key == "deps":
                        per_stage[name][norm_path(item["path"])] = item["md5"]
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
    bundle_path = norm_path(bundle_path)
    outs, deps, per_stage = _lock_outs_and_deps(repo, rev)
    md5 = outs.get(bundle_path) or _dvc_file_out(repo, rev, bundle_path)
    where = f"at {rev[:7]}" if rev else "in the working tree"
    if not md5:
        raise RegistryError(f"dvc.lock {where} records no md5 for {bundle_path}")

    names = upstream_stages(stage_graph(repo, rev), bundle_path)
    wanted = {path for name in names for path in per_stage.get(name, {})} if names else set()
    data, code = {}, {}
    for path in sorted(wanted):
        if path.endswith(".py") or path.startswith("src/"):
            code[path] = deps[path]
        elif path not in outs and not any(_overlaps(path, out) for out in outs):
            data[path] = deps[path]
    return {"md5": {bundle_path: md5}, "data_version": data, "preprocessing": code}
