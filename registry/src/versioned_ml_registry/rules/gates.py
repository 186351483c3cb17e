"""Every gate in one place.

* metric gates: a family's ``registry.gates.<stage>`` in params.yaml, each metric with a
  direction (``accuracy: {min: 0.9}``, ``rmse: {max: 12}``; a bare number means ``min``);
* production: staging passed (or ``--skip-staging --reason``), the metric gates in force at
  HEAD, a signature compatible with the production holder's callers (or ``--breaking
  --reason``), and the artifacts in the DVC remote (never overridable).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import List, Optional

from ..dvc.files import lock_md5s
from ..errors import RegistryError
from .evidence import flatten_metrics
from .settings import load_settings
from .signature import breaking_changes
from .stages import Stage

DEFAULT_GIT_REMOTE = "origin"  # what `model-registry push` publishes to without --remote


def bounds(name: str, spec) -> tuple[Optional[float], Optional[float]]:
    """(min, max) of a gate spec: ``{min: x}``, ``{max: y}``, both, or a bare number (a min)."""
    lo, hi = (spec.get("min"), spec.get("max")) if isinstance(spec, dict) else (spec, None)
    for bound in (lo, hi):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float))):
            raise RegistryError(f"gate {name}: {spec!r} is not a number or {{min: x}} / {{max: y}}")
    if lo is None and hi is None:
        raise RegistryError(f"gate {name}: {spec!r} sets neither min nor max")
    return lo, hi


def check_metrics(metrics: dict, gates: Optional[dict], stage: str) -> tuple[bool, List[str]]:
    """(passed, one line per gate) for ``metrics`` against ``gates`` of ``stage``."""
    if not gates:
        return True, [f"no {stage} gates configured"]
    flat = flatten_metrics(metrics or {})
    passed, report = True, []
    for name, spec in sorted(gates.items()):
        lo, hi = bounds(name, spec)
        value = flat.get(name)
        need = " and ".join(part for part in (f"≥ {lo:g}" if lo is not None else "",
                                               f"≤ {hi:g}" if hi is not None else "") if part)
        if value is None:
            passed = False
            report.append(f"{name} missing (needs {need})")
        elif (lo is not None and value < lo) or (hi is not None and value > hi):
            passed = False
            report.append(f"{name} {value:.4g} fails (needs {need})")
        else:
            report.append(f"{name} {value:.4g} ({need})")
    return passed, report


def candidate_gates(metrics: dict, gates: dict) -> tuple[bool, List[str]]:
    """The candidate gates a release checks on the bundle's own metrics: a version that fails
    them is released but not made a candidate."""
    return check_metrics(metrics, gates.get("candidate"), "candidate")


def metric_failures(toplevel: str, fam, info, stage: Stage) -> List[str]:
    """The metric gates of ``stage`` in force now (params.yaml at HEAD, which a version's own
    commit cannot loosen) that ``info``'s recorded metrics fail."""
    settings = load_settings(toplevel, fam.name, rev="HEAD")
    metrics = info.meta.get("metrics")
    passed, report = check_metrics(metrics if isinstance(metrics, dict) else {},
                                   settings.gates.get(str(stage)), str(stage))
    return [] if passed else [f"gate: {line}" for line in report if "fails" in line or "missing" in line]


def signature_breaks(fam, info) -> List[str]:
    """What ``info`` breaks for callers of the current production holder."""
    current = fam.get(fam.holder(Stage.PRODUCTION))
    if current is None or current.vstring == info.vstring:
        return []
    if current.signature is None or info.signature is None:
        unknown = current if current.signature is None else info
        return [f"{unknown.tag} records no signature, so compatibility with production cannot be shown"]
    return breaking_changes(current.signature, info.signature)


def artifacts_missing(toplevel: str, info, dvc_remote: Optional[str] = None) -> Optional[str]:
    """None when the version's bundle is in the DVC remote, else what is missing.

    A plain git repository (no ``.dvc/``) has no DVC remote: there the registry only tags."""
    if not (Path(toplevel) / ".dvc").is_dir():
        return None
    from ..dvc.store import missing_in_remote

    try:
        missing = missing_in_remote(toplevel, info.commit, info.bundle_path, remote=dvc_remote)
    except RegistryError as error:
        return str(error)
    if missing:
        return (f"artifacts of {info.tag} are not in the DVC remote ({len(missing)} missing, "
                f"e.g. {missing[0]}): run `{push_command(toplevel, info, dvc_remote)}` first")
    return None


def push_command(toplevel: str, info, dvc_remote: Optional[str] = None) -> str:
    """The command that puts ``info``'s artifacts in the DVC remote from this repository.

    With a git remote: ``model-registry push`` (the artifacts of every unpublished version,
    then their tags). Without one that command cannot run, so DVC's own push: of the workspace
    when its dvc.lock records this version's bundle, else of every tagged commit (``dvc push``
    takes no single commit)."""
    remotes = subprocess.run(["git", "remote"], cwd=toplevel, capture_output=True, text=True).stdout.split()
    named = f" {shlex.quote(dvc_remote)}" if dvc_remote else ""
    if remotes:
        remote = "" if DEFAULT_GIT_REMOTE in remotes else f" --remote {shlex.quote(remotes[0])}"
        return "model-registry push" + remote + (f" --dvc-remote{named}" if named else "")
    scope = "" if _workspace_records(toplevel, info) else " --all-tags"
    return "dvc push" + scope + (f" -r{named}" if named else "")


def _workspace_records(toplevel: str, info) -> bool:
    """Whether the working tree's dvc.lock records the bundle ``info`` recorded."""
    path = info.bundle_path
    try:
        return lock_md5s(toplevel, path)["md5"] == lock_md5s(toplevel, path, rev=info.commit)["md5"]
    except RegistryError:
        return False


def lock_mismatches(toplevel: str) -> List[str]:
    """What `dvc status` reports as changed (DVC repositories only): a release must pin what
    dvc.lock says."""
    if not (Path(toplevel) / ".dvc").is_dir():
        return []
    from ..dvc.store import workspace_matches_lock

    return workspace_matches_lock(toplevel)
