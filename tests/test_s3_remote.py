"""The S3 test server works with the real dvc + dvc-s3: push, fresh clone, pull, fast failure.

One moto server for the module (tests/s3server.py); each test writes under its own prefix.
The dvc executable is taken from the directory of the running interpreter, so the suite uses
the dvc installed next to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3server import s3_environ, s3_server_fixture, unreachable_endpoint  # noqa: E402

s3 = s3_server_fixture(scope="module", bucket="dvc-store")

BIN_DIR = Path(sys.executable).parent


def _env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_NO_UPDATE_CHECK"] = "1"  # harmless if unknown
    env["GIT_TERMINAL_PROMPT"] = "0"
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(key, None)
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], *, check: bool = True,
        timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=_env(env), capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
            f"--- stderr\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def no_aws_env(tmp_path: Path) -> dict[str, str]:
    """os.environ without AWS settings, with a private HOME and dvc site/global config."""
    home = tmp_path / "home"
    home.mkdir()
    env = s3_environ(None, credentials=False)
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["GIT_CONFIG_GLOBAL"] = str(home / ".gitconfig")
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "Test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.com"
    return env


def make_repo(path: Path, remote_url: str, env: dict[str, str]) -> Path:
    """git + dvc repo whose committed config names the S3 remote and nothing else."""
    path.mkdir()
    run(["git", "init", "-q", "-b", "main"], path, env)
    run(["dvc", "init", "-q"], path, env)
    run(["dvc", "remote", "add", "-d", "storage", remote_url], path, env)
    run(["git", "add", ".dvc", ".dvcignore"], path, env)
    run(["git", "commit", "-q", "-m", "dvc init + remote"], path, env)
    return path


def add_data(repo: Path, env: dict[str, str]) -> bytes:
    payload = os.urandom(256 * 1024) + b"model-registry s3 test\n"
    (repo / "data").mkdir()
    (repo / "data" / "blob.bin").write_bytes(payload)
    run(["dvc", "add", "data/blob.bin"], repo, env)
    run(["git", "add", "data/blob.bin.dvc", "data/.gitignore"], repo, env)
    run(["git", "commit", "-q", "-m", "add blob"], repo, env)
    return payload


def assert_committed_config_has_no_endpoint(repo: Path, endpoint: str) -> None:
    config = (repo / ".dvc" / "config").read_text()
    assert "s3://" in config
    assert endpoint not in config and "127.0.0.1" not in config, config
    assert "testing" not in config, "credentials leaked into the committed config"


def test_push_and_pull_with_endpoint_from_env(tmp_path, s3, no_aws_env):
    prefix = "env-endpoint"
    env = s3.environ(no_aws_env)
    repo = make_repo(tmp_path / "repo", s3.url(prefix), no_aws_env)
    payload = add_data(repo, no_aws_env)

    t0 = time.monotonic()
    run(["dvc", "push"], repo, env)
    push_s = time.monotonic() - t0
    keys = s3.list_keys(prefix + "/")
    assert keys, "dvc push wrote nothing to the S3 server"
    assert_committed_config_has_no_endpoint(repo, s3.endpoint_url)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, no_aws_env)
    assert not (clone / "data" / "blob.bin").exists()
    assert not (clone / ".dvc" / "cache").exists(), "a fresh clone must start with no cache"
    t0 = time.monotonic()
    run(["dvc", "pull"], clone, env)
    pull_s = time.monotonic() - t0
    assert (clone / "data" / "blob.bin").read_bytes() == payload
    print(f"push {push_s:.2f}s, pull {pull_s:.2f}s, {len(keys)} object(s) in S3")


def test_push_and_pull_with_endpoint_in_config_local(tmp_path, s3, no_aws_env):
    """Endpoint, credentials and region only in `.dvc/config.local` (git-ignored): the
    environment carries no AWS variable besides AWS_MAX_ATTEMPTS."""
    prefix = "config-local"
    env = dict(no_aws_env)  # no endpoint, no credentials
    repo = make_repo(tmp_path / "repo", s3.url(prefix), env)

    def configure_local(path: Path) -> None:
        for key, value in (
            ("endpointurl", s3.endpoint_url),
            ("access_key_id", "testing"),
            ("secret_access_key", "testing"),
            ("region", "us-east-1"),
        ):
            run(["dvc", "remote", "modify", "--local", "storage", key, value], path, env)
        ignored = run(["git", "check-ignore", "-q", ".dvc/config.local"], path, env, check=False)
        assert ignored.returncode == 0, ".dvc/config.local must be git-ignored"

    configure_local(repo)
    payload = add_data(repo, env)
    run(["dvc", "push"], repo, env)
    assert s3.list_keys(prefix + "/")
    assert_committed_config_has_no_endpoint(repo, s3.endpoint_url)
    status = run(["git", "status", "--porcelain", "--ignored=no"], repo, env).stdout
    assert "config.local" not in status, status

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    assert not (clone / ".dvc" / "config.local").exists(), "config.local must not travel"
    # each teammate writes their own (here: the same values, copied)
    (clone / ".dvc" / "config.local").write_text((repo / ".dvc" / "config.local").read_text())
    run(["dvc", "pull"], clone, env)
    assert (clone / "data" / "blob.bin").read_bytes() == payload


def test_push_to_unreachable_endpoint_fails_fast(tmp_path, s3, no_aws_env):
    repo = make_repo(tmp_path / "repo", s3.url("unreachable"), no_aws_env)
    add_data(repo, no_aws_env)
    env = s3_environ(unreachable_endpoint(), no_aws_env)

    t0 = time.monotonic()
    proc = run(["dvc", "push"], repo, env, check=False, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert elapsed < 20, f"dvc push took {elapsed:.1f}s to fail"
    assert "127.0.0.1" in proc.stderr or "connect" in proc.stderr.lower() or \
        "failed to push" in proc.stderr.lower(), proc.stderr
    assert s3.list_keys("unreachable/") == []
    print(f"unreachable push failed in {elapsed:.2f}s (exit {proc.returncode}): "
          f"{proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ''}")
