"""``model-registry history`` cuts names and reasons to fit only when it writes to a terminal:
piped into a file or another program, every name and reason is whole."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from vml_testkit.registry import make_repo, release

import versioned_ml_registry as reg

FAMILY = "customer-lifetime-value-" + "x" * 40
REASON = "the launch review signed this off after " + " and ".join(f"check {i}" for i in range(30))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = make_repo(tmp_path_factory.mktemp("history") / "repo")
    version = release(repo, FAMILY)
    reg.promote(str(repo), FAMILY, version, "staging", reason=REASON)
    return repo


COMMAND = [sys.executable, "-m", "versioned_ml_registry", "history"]


def test_piped_history_keeps_every_name_and_reason_whole(repo):
    proc = subprocess.run(COMMAND, cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    staged = [line for line in lines if " staging " in line]
    assert len(staged) == 1 and FAMILY in staged[0] and staged[0].endswith(REASON)
    assert "…" not in proc.stdout


def test_history_on_a_terminal_fits_its_rows_in_100_columns(repo):
    """A real pseudo-terminal as standard output: rows are cut to fit, with an ellipsis."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(COMMAND, cwd=repo, stdout=follower, stderr=subprocess.PIPE,
                              env=dict(os.environ, COLUMNS="100"))
        os.close(follower)
        follower = None
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0, proc.stderr
    lines = b"".join(chunks).decode().replace("\r\n", "\n").splitlines()
    assert lines and all(len(line) <= 100 for line in lines), lines
    assert FAMILY not in "\n".join(lines) and "…" in "\n".join(lines)
