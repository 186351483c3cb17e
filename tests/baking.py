"""Bake the template and run real commands in the baked project."""

import os
import subprocess
import sys
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


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
