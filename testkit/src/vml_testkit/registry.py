"""The registry as the tests drive it: throwaway registry repositories, fake proposals, releases
and promotions through the Python API, and the command line (``python -m`` or the installed
``model-registry`` console script)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from .git import commit, git, run
from .paths import MODEL_REGISTRY

STAGES = ["candidate", "staging", "canary", "production", "shadow", "deprecated", "archived"]

SIGNATURE = {"task": "classification", "inputs": [{"name": "x", "type": "numeric", "required": True}],
             "output": {"name": "y", "type": "label", "labels": ["a", "b"]}}


def gto_bin() -> Optional[str]:
    """GTO's executable next to this interpreter, or on PATH, or None."""
    cand = Path(sys.executable).with_name("gto")
    if cand.exists():
        return str(cand)
    return shutil.which("gto")


def make_repo(path: Path, gto_file: bool = True) -> Path:
    """A git repository with one commit, its own identity and (``gto_file``) a `.gto` naming the stages."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Test User")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "commit.gpgsign", "false")
    git(path, "config", "tag.gpgsign", "false")
    if gto_file:
        (path / ".gto").write_text("stages: [" + ", ".join(STAGES) + "]\n")
    (path / "README.md").write_text("test repo\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")
    return path


@dataclass
class FakeProposal:
    """What ``propose`` would derive from a bundle, written by hand."""

    family: str
    bump: Optional[str] = "minor"
    reasons: List[str] = field(default_factory=lambda: ["fake evidence"])
    identical_to: Optional[str] = None
    provenance: dict = field(default_factory=lambda: {
        "path": "models/m", "md5": "0" * 32 + ".dir", "metrics": {"accuracy": 0.95},
        "signature": SIGNATURE})
    gates_passed: bool = True
    gate_report: List[str] = field(default_factory=lambda: ["accuracy 0.95 >= 0.8"])


def write_release(repo, family: str, proposal, **kw):
    """The release engine with a given proposal (``api.release`` derives it from a bundle)."""
    from versioned_ml_registry.lifecycle.release import release as engine
    from versioned_ml_registry.tags.repo import Repo

    return engine(repo if isinstance(repo, Repo) else Repo(str(repo)), family, proposal, **kw)


def _at(repo, now):
    """``repo`` itself, or a Repo whose clock is ``now``."""
    from versioned_ml_registry.tags.repo import Repo

    return Repo(str(repo), now=now) if now else str(repo)


def release(repo: Path, family: str, bump: Optional[str] = "minor", gates: bool = True, *,
            message: str | None = None, reasons=None, provenance: dict | None = None, now=None, **kw) -> str:
    """Commit something (``message``, default `work on <family>`) and release it with a fake
    proposal: ``reasons`` for the bump, ``provenance`` fields over the fake's (metrics, signature,
    data_version, ...), ``now`` the registry's clock; ``kw`` to the release engine. Returns the version."""
    commit(repo, message or f"work on {family}")
    fake = FakeProposal(family, bump, gates_passed=gates)
    if reasons is not None:
        fake.reasons = list(reasons)
    if provenance:
        fake.provenance = dict(fake.provenance, **provenance)
    return write_release(_at(repo, now), family, fake, **kw).version


def to_production(repo: Path, family: str, version: str, *, staging_reason: str | None = None, now=None, **kw):
    """Promote ``version`` to staging, then to production (``kw``: reason, force, breaking, ...)
    through the API; returns the production promotion's result."""
    import versioned_ml_registry as reg

    reg.promote(_at(repo, now), family, version, "staging", reason=staging_reason)
    return reg.promote(_at(repo, now), family, version, "production", **kw)


def run_cli(repo: Path, *args, extra_python_args=()) -> subprocess.CompletedProcess:
    """``python -m versioned_ml_registry --repo <repo> <args>``, never raising."""
    return subprocess.run(
        [sys.executable, *extra_python_args, "-m", "versioned_ml_registry", "--repo", str(repo), *args],
        capture_output=True, text=True, cwd=str(repo),
    )


def registry(project: Path, *args: str, check: bool = True, env: dict | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """``model-registry <args>`` in ``project``, as a user runs it (the installed console script)."""
    return run(project, str(MODEL_REGISTRY), *args, check=check, env=env, timeout=timeout)


def promote_to_production(project: Path, family: str, version: str, env: dict | None = None) -> None:
    """``model-registry promote`` to staging (reason `qa`), then to production (reason `go`)."""
    registry(project, "promote", family, version, "staging", "--reason", "qa", env=env)
    registry(project, "promote", family, version, "production", "--reason", "go", env=env)
