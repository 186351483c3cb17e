"""Bake the template and run real commands in the baked project."""

import os
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# the registry distribution's console script, installed in the test venv (registry/)
MODEL_REGISTRY = BIN / "model-registry"


def bake(output_dir: Path, **answers) -> Path:
    """Generate a project with the real cookiecutter (hooks included); return its folder."""
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=answers))


def project_env(project: Path, **extra) -> dict:
    """The environment a user has after `pip install -e .` in the project."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(project / "src"))
    env.update(extra)
    return env


def run(project: Path, *command: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=project, env=env or project_env(project), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def ran_stages(repro_output: str) -> list[str]:
    """Names of the stages `dvc repro` actually ran, in order."""
    return [line.split("'")[1] for line in repro_output.splitlines() if line.startswith("Running stage '")]


def git(project: Path, *args: str) -> str:
    return run(project, "git", *args).stdout.strip()


# ---- helpers for the registry tests on baked projects ---------------------------------------


def package_of(project: Path) -> str:
    """The Python package a baked project was generated with (from `.cookiecutter.json`)."""
    import json

    return json.loads((project / ".cookiecutter.json").read_text())["package"]


def registry(project: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """`model-registry <args>` in ``project``, as a user runs it (the installed console script)."""
    return run(project, str(MODEL_REGISTRY), *args, check=check, env=env)


def commit_all(project: Path, message: str) -> str:
    """`git add -A && git commit -m <message>`; returns the new commit."""
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
    return git(project, "rev-parse", "HEAD")


def tag_refs(project: Path) -> str:
    """Every tag with its object and target: anything a registry command could change."""
    return git(project, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname) %(taggerdate:raw)",
               "refs/tags")


def tag_yaml(project: Path, tag: str) -> dict:
    """The YAML after the first line of a registry tag's annotation."""
    import yaml

    text = git(project, "tag", "-l", "--format=%(contents)", tag)
    return yaml.safe_load(text.partition("\n")[2]) or {}


def copy_project(source: Path, dest: Path, storage: Path | None = None) -> Path:
    """A full copy of a baked project (DVC cache included). With ``storage``, the copy's local DVC
    remote is that folder (through the git-ignored `.dvc/config.local`)."""
    import shutil

    shutil.copytree(source, dest, symlinks=True)
    if storage is not None:
        storage.mkdir(parents=True, exist_ok=True)
        run(dest, "dvc", "remote", "modify", "--local", "local", "url", str(storage))
    return dest


def model_registry_on_path(project: Path) -> dict:
    """The project's environment with the installed `model-registry` first on PATH, as
    `pip install -e ".[test]"` gives (the registry distribution's console script)."""
    env = project_env(project)
    assert MODEL_REGISTRY.is_file(), f"{MODEL_REGISTRY} missing: install registry/ in this venv"
    assert env["PATH"].split(os.pathsep)[0] == str(MODEL_REGISTRY.parent)
    return env
