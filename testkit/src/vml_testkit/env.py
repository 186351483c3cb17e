"""The environment every test session runs in: no user's git or DVC config may change what the
tests see, and cookiecutter's leftover temp folders stay in the session's folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


@contextlib.contextmanager
def isolated(base: Path):
    """A throwaway HOME and TMPDIR under ``base`` and a fixed git identity, restored after."""
    home, tmp = base / "home", base / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(HOME=str(home), TMPDIR=str(tmp), GIT_CONFIG_NOSYSTEM="1", DVC_NO_ANALYTICS="1", **IDENTITY)
    tempfile.tempdir = None
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        tempfile.tempdir = None


def project_env(project: Path, **extra) -> dict:
    """The environment a user has after `pip install -e .` in ``project``: the test venv's
    executables first on PATH (dvc, model-registry, gto), the project's ``src/`` importable, no
    git prompt for credentials; ``extra`` on top."""
    from .paths import BIN

    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(Path(project) / "src"),
               GIT_TERMINAL_PROMPT="0")
    env.update(extra)
    return env
