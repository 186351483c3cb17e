"""The S3 test server works with the real dvc + dvc-s3: push, fresh clone, pull, fast failure.

One moto server for the module (vml_testkit.s3); each test writes under its own prefix.
The dvc executable is taken from the directory of the running interpreter, so the suite uses
the dvc installed next to pytest.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from vml_testkit.git import run
from vml_testkit.net import unreachable_endpoint
from vml_testkit.paths import BIN
from vml_testkit.s3 import s3_environ, s3_server_fixture

pytestmark = [pytest.mark.s3, pytest.mark.slow]

s3 = s3_server_fixture(scope="module", bucket="dvc-store")

def _env(base: dict[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_NO_UPDATE_CHECK"] = "1"  # harmless if unknown
    env["GIT_TERMINAL_PROMPT"] = "0"
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(key, None)
    return env


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
    return _env(env)


def make_repo(path: Path, remote_url: str, env: dict[str, str]) -> Path:
    """git + dvc repo whose committed config names the S3 remote and nothing else."""
    path.mkdir()
    run(path, "git", "init", "-q", "-b", "main", env=env)
    run(path, "dvc", "init", "-q", env=env)
    run(path, "dvc", "remote", "add", "-d", "storage", remote_url, env=env)
    run(path, "git", "add", ".dvc", ".dvcignore", env=env)
    run(path, "git", "commit", "-q", "-m", "dvc init + remote", env=env)
    return path


def add_data(repo: Path, env: dict[str, str]) -> bytes:
    payload = os.urandom(256 * 1024) + b"model-registry s3 test\n"
    (repo / "data").mkdir()
    (repo / "data" / "blob.bin").write_bytes(payload)
    run(repo, "dvc", "add", "data/blob.bin", env=env)
    run(repo, "git", "add", "data/blob.bin.dvc", "data/.gitignore", env=env)
    run(repo, "git", "commit", "-q", "-m", "add blob", env=env)
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
    run(repo, "dvc", "push", env=env)
    push_s = time.monotonic() - t0
    keys = s3.list_keys(prefix + "/")
    assert keys, "dvc push wrote nothing to the S3 server"
    assert_committed_config_has_no_endpoint(repo, s3.endpoint_url)

    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(repo), str(clone), env=no_aws_env)
    assert not (clone / "data" / "blob.bin").exists()
    assert not (clone / ".dvc" / "cache").exists(), "a fresh clone must start with no cache"
    t0 = time.monotonic()
    run(clone, "dvc", "pull", env=env)
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
            run(path, "dvc", "remote", "modify", "--local", "storage", key, value, env=env)
        ignored = run(path, "git", "check-ignore", "-q", ".dvc/config.local", env=env, check=False)
        assert ignored.returncode == 0, ".dvc/config.local must be git-ignored"

    configure_local(repo)
    payload = add_data(repo, env)
    run(repo, "dvc", "push", env=env)
    assert s3.list_keys(prefix + "/")
    assert_committed_config_has_no_endpoint(repo, s3.endpoint_url)
    status = run(repo, "git", "status", "--porcelain", "--ignored=no", env=env).stdout
    assert "config.local" not in status, status

    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(repo), str(clone), env=env)
    assert not (clone / ".dvc" / "config.local").exists(), "config.local must not travel"
    # each teammate writes their own (here: the same values, copied)
    (clone / ".dvc" / "config.local").write_text((repo / ".dvc" / "config.local").read_text())
    run(clone, "dvc", "pull", env=env)
    assert (clone / "data" / "blob.bin").read_bytes() == payload


def test_push_to_unreachable_endpoint_fails_fast(tmp_path, s3, no_aws_env):
    repo = make_repo(tmp_path / "repo", s3.url("unreachable"), no_aws_env)
    add_data(repo, no_aws_env)
    env = s3_environ(unreachable_endpoint(), no_aws_env)

    t0 = time.monotonic()
    proc = run(repo, "dvc", "push", env=env, check=False, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert elapsed < 20, f"dvc push took {elapsed:.1f}s to fail"
    assert "127.0.0.1" in proc.stderr or "connect" in proc.stderr.lower() or \
        "failed to push" in proc.stderr.lower(), proc.stderr
    assert s3.list_keys("unreachable/") == []
    print(f"unreachable push failed in {elapsed:.2f}s (exit {proc.returncode}): "
          f"{proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ''}")
