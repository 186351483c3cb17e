"""Bake the template with the real cookiecutter (hooks included), and work on baked projects."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .env import project_env
from .git import run
from .paths import MODEL_REGISTRY, TEMPLATE


def bake(output_dir: Path, **answers) -> Path:
    """Generate a project from the template; return its folder."""
    from cookiecutter.main import cookiecutter

    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=answers))


def copy_project(source: Path, dest: Path, storage: Path | None = None) -> Path:
    """A full copy of a baked project (DVC cache included). With ``storage``, the copy's local DVC
    remote is that folder, through the git-ignored `.dvc/config.local`: the committed config keeps
    its url, so copies never share a remote by accident."""
    shutil.copytree(source, dest, symlinks=True)
    if storage is not None:
        storage.mkdir(parents=True, exist_ok=True)
        run(dest, "dvc", "remote", "modify", "--local", "local", "url", str(storage))
    return dest


def ran_stages(repro_output: str) -> list[str]:
    """Names of the stages `dvc repro` actually ran, in order."""
    return [line.split("'")[1] for line in repro_output.splitlines() if line.startswith("Running stage '")]


def package_of(project: Path) -> str:
    """The Python package a baked project was generated with (from `.cookiecutter.json`)."""
    return json.loads((project / ".cookiecutter.json").read_text())["package"]


def model_registry_on_path(project: Path) -> dict:
    """The project's environment with the installed `model-registry` first on PATH, as
    `pip install -e ".[test]"` gives (the registry distribution's console script)."""
    env = project_env(project)
    assert MODEL_REGISTRY.is_file(), f"{MODEL_REGISTRY} missing: install registry/ in this venv"
    assert env["PATH"].split(os.pathsep)[0] == str(MODEL_REGISTRY.parent)
    return env
