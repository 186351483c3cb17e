"""`decisions seal` signs the ledger's head as a git tag with a real ssh key, so `decisions
verify` detects a ledger file rewritten whole with a new, self-consistent chain."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from versioned_ml_registry.ledger.store import Decision, LedgerWriter
from vml_testkit.git import git
from vml_testkit.registry import make_repo
from vml_testkit.signing import make_key, sign_as, signer_line, verify_tag


def write(path: Path, n: int, label: str = "barolo") -> None:
    writer = LedgerWriter(path)
    for i in range(n):
        writer.append(Decision(f"req-{i}", 1_700_000_000.0 + i, "cultivar", "v0.1.0", "c" * 40, "production",
                               [{"alcohol": 13.0 + i}], [label], 1.0))
    writer.close()


def decisions(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", *args], cwd=repo,
                          capture_output=True, text=True)


@pytest.fixture
def sealed(tmp_path):
    repo = make_repo(tmp_path / "repo")
    key = make_key(tmp_path / "keys", "alice")
    sign_as(repo, key, "alice@example.com")
    ledger = tmp_path / "ledger.sqlite"
    write(ledger, 5)
    done = decisions(repo, "seal", "--ledger", str(ledger))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sealed row 5 (head ") and "as ledger-seal/default/5" in done.stdout
    (tmp_path / "allowed").write_text(signer_line("alice@example.com", key))
    return repo, ledger, tmp_path / "allowed"


def test_a_seal_is_a_signed_tag_and_an_intact_ledger_verifies(sealed):
    repo, ledger, allowed = sealed
    assert verify_tag(repo, "ledger-seal/default/5", allowed).returncode == 0
    done = decisions(repo, "verify", "--ledger", str(ledger))
    assert done.returncode == 0 and "5 rows" in done.stdout and "1 seal(s)" in done.stdout
    write(ledger, 2)  # more decisions after the seal change nothing
    assert decisions(repo, "verify", "--ledger", str(ledger)).returncode == 0


def test_a_ledger_rewritten_whole_is_detected(sealed):
    repo, ledger, _ = sealed
    ledger.unlink()
    write(ledger, 5, label="nebbiolo")  # a new chain, consistent in itself
    done = decisions(repo, "verify", "--ledger", str(ledger))
    assert done.returncode == 1
    assert "ledger-seal/default/5: row 5 has hash" in done.stdout
    assert "the ledger was rewritten since it was sealed" in done.stdout


def test_a_ledger_cut_short_and_rewritten_is_detected(sealed):
    repo, ledger, _ = sealed
    ledger.unlink()
    write(ledger, 3)
    done = decisions(repo, "verify", "--ledger", str(ledger))
    assert done.returncode == 1 and "the ledger has no row 5 any more" in done.stdout


def test_sealing_needs_a_signing_key_and_an_intact_chain(sealed, tmp_path):
    repo, ledger, _ = sealed
    write(ledger, 1)
    git(repo, "config", "modelRegistry.sign", "false")
    done = decisions(repo, "seal", "--ledger", str(ledger))
    assert done.returncode == 2 and done.stderr.startswith("error: decisions seal signs with git's key")
    git(repo, "config", "modelRegistry.sign", "true")
    import sqlite3

    with sqlite3.connect(ledger) as conn:
        conn.execute("UPDATE decisions SET output = '[\"x\"]' WHERE seq = 2")
    conn.close()
    done = decisions(repo, "seal", "--ledger", str(ledger))
    assert done.returncode == 2 and "chain is broken" in done.stderr and len(done.stderr.splitlines()) == 1
    assert git(repo, "tag", "--list", "ledger-seal/*").split() == ["ledger-seal/default/5"]
