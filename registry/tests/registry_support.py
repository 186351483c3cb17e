"""Helpers for the registry tests: temp git repos, a fake proposal, the CLI as a subprocess,
GTO as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

STAGES = ["candidate", "staging", "canary", "production", "shadow", "deprecated", "archived"]


def gto_bin() -> Optional[str]:
    cand = Path(sys.executable).with_name("gto")
    if cand.exists():
        return str(cand)
    return shutil.which("gto")


def git(repo, *args, check=True) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True,
                          text=True).stdout


def make_repo(path: Path, gto_file: bool = True) -> Path:
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


def commit(repo: Path, message: str = "change", files: Optional[dict] = None) -> str:
    files = files or {f"f{len(git(repo, 'log', '--oneline').splitlines())}.txt": message}
    for name, text in files.items():
        p = Path(repo) / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


SIGNATURE = {"task": "classification", "inputs": [{"name": "x", "type": "numeric", "required": True}],
             "output": {"name": "y", "type": "label", "labels": ["a", "b"]}}


@dataclass
class FakeProposal:
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


def release(repo: Path, family: str, bump: Optional[str] = "minor", gates=True, **kw):
    """Commit something and release it with a fake proposal; returns the version."""
    commit(repo, f"work on {family}")
    return write_release(repo, family, FakeProposal(family, bump, gates_passed=gates), **kw).version


def refs(repo: Path) -> str:
    """Everything about the tags that a command could change."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)",
               "refs/tags")


def run_cli(repo: Path, *args, extra_python_args=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *extra_python_args, "-m", "versioned_ml_registry", "--repo", str(repo), *args],
        capture_output=True, text=True, cwd=str(repo),
    )
