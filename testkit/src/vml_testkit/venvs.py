"""Helper virtualenvs under the cache folder (``paths.cache_dir()``), each built once from a
requirements file shipped beside this module: moto's S3 server (installing moto next to dvc-s3
would upgrade botocore past aiobotocore's pin), actionlint, and MLServer (the serving
benchmark's peer)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .paths import cache_dir

HERE = Path(__file__).resolve().parent
MOTO_REQUIREMENTS = HERE / "moto-requirements.txt"
LINT_REQUIREMENTS = HERE / "lint-requirements.txt"
MLSERVER_REQUIREMENTS = HERE / "mlserver-requirements.txt"


class ServerError(RuntimeError):
    """A helper venv could not be built or a server did not come up."""


def venv_bin(venv: Path, name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return venv / sub / f"{name}{suffix}"


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock so that parallel test processes build a venv once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(name: str, requirements: Path, *, timeout: float = 900.0) -> Path:
    """Create (once) ``<cache>/<name>`` with ``pip install -r requirements``; return its path.

    A stamp file holds the hash of the requirements file and of the interpreter version: when
    either changes, the venv is rebuilt. The stamp is written last, so an interrupted install is
    redone on the next call.
    """
    venv = cache_dir() / name
    stamp = venv / ".requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()
    with _file_lock(cache_dir() / f".{name}.lock"):
        if stamp.exists() and stamp.read_text().strip() == wanted:
            return venv
        if venv.exists():
            shutil.rmtree(venv)
        started = time.monotonic()
        _run_or_raise([_base_python(), "-m", "venv", str(venv)], timeout=timeout)
        _run_or_raise([str(venv_bin(venv, "python")), "-m", "pip", "install", "--disable-pip-version-check",
                       "--no-input", "-q", "-r", str(requirements)], timeout=timeout)
        stamp.write_text(wanted + "\n")
        (venv / ".build-seconds").write_text(f"{time.monotonic() - started:.1f}\n")
    return venv


def _base_python() -> str:
    """The interpreter to build venvs from: the base of the running venv, if any."""
    base = Path(sys.base_prefix)
    for candidate in (base / "bin" / "python3", base / "bin" / "python", base / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _run_or_raise(cmd: list[str], *, timeout: float) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ServerError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                          f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def moto_server_executable() -> Path:
    return venv_bin(ensure_venv("moto-venv", MOTO_REQUIREMENTS), "moto_server")


def actionlint_executable() -> Path | None:
    """actionlint from ``.cache/lint-venv`` (see lint-requirements.txt beside this module), or None."""
    exe = venv_bin(ensure_venv("lint-venv", LINT_REQUIREMENTS), "actionlint")
    return exe if exe.exists() else None
