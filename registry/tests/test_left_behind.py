"""What a killed or broken neighbour leaves behind: git ref locks of a killed promote, DVC's
rwlock truncated by a killed DVC process, an unparsable ``.gto``. Each is healed or refused with
one line by the next registry command, whichever family it is about."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vml_testkit.git import commit, git, tag_refs
from vml_testkit.kills import HOOK
from vml_testkit.registry import FakeProposal, make_repo, run_cli, write_release

import versioned_ml_registry as reg


def staged_repo(tmp_path: Path) -> Path:
    """Family `m` with v0.1.0 in staging, family `other` released."""
    repo = make_repo(tmp_path / "repo")
    commit(repo, "work on m")
    write_release(str(repo), "m", FakeProposal("m"))
    reg.promote(str(repo), "m", "0.1.0", "staging")
    commit(repo, "work on other")
    write_release(str(repo), "other", FakeProposal("other"))
    return repo


def kill_promote_holding_ref_locks(repo: Path) -> None:
    """SIGKILL a real `model-registry promote` while git holds its ref locks."""
    hook = repo / ".git" / "hooks" / "reference-transaction"
    hook.write_text(HOOK)
    hook.chmod(0o755)
    marker = repo.parent / "killed-here"
    env = dict(os.environ, REGISTRY_KILL_WINDOW="prepared", REGISTRY_KILL_MARKER=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "versioned_ml_registry", "--repo", str(repo), "promote", "m",
                             "0.1.0", "production", "--skip-staging", "--reason", "kill test"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for the hook's marker, bounded by the deadline
    assert marker.exists(), "the promote never reached git's ref transaction"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    hook.unlink()


def ref_locks(repo: Path) -> list:
    return sorted(p.name for p in (repo / ".git" / "refs" / "tags").rglob("*.lock"))


@pytest.mark.kills
def test_any_registry_command_clears_the_ref_locks_a_killed_promote_left(tmp_path):
    repo = staged_repo(tmp_path)
    kill_promote_holding_ref_locks(repo)
    assert ref_locks(repo), "the kill should leave git's ref locks behind"
    # a command about another family, which reads none of m's refs, still heals m
    p = run_cli(repo, "resolve", "other", "--stage", "candidate")
    assert p.returncode == 0, p.stderr
    assert ref_locks(repo) == []
    assert not list((repo / ".git" / "model-registry").glob("*.journal"))
    production = run_cli(repo, "resolve", "m", "--stage", "production")
    assert production.returncode in (0, 2)  # the group is completed or discarded, all or nothing
    git(repo, "fetch", ".", "refs/tags/*:refs/tags/*")  # plain git can write tags again


def test_verify_of_an_unknown_family_refuses_like_history(tmp_path):
    repo = staged_repo(tmp_path)
    for command in ("verify", "history"):
        p = run_cli(repo, command, "nosuch")
        assert p.returncode == 2, (command, p.stdout)
        assert p.stderr.strip().splitlines() == ["error: unknown family 'nosuch' (known: m, other)"]
    known = run_cli(repo, "verify", "m")  # a known family is checked (the fake md5s are reported)
    assert known.returncode != 2 and known.stdout.startswith("checked 1 version tags")


def test_an_unparsable_gto_stops_every_command_with_one_line(tmp_path):
    repo = staged_repo(tmp_path)
    before = tag_refs(repo)
    (repo / ".gto").write_text("stages: [candidate, staging\n")
    for args in (("show",), ("show", "m"), ("history", "m"), ("resolve", "m", "--stage", "staging"),
                 ("verify",), ("promote", "m", "0.1.0", "canary")):
        p = run_cli(repo, *args)
        assert p.returncode == 2, (args, p.stdout)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: .gto is not valid YAML"), (args, p.stderr)
        assert "gto reads it too" in lines[0]
    assert tag_refs(repo) == before
    (repo / ".gto").write_text("stages: [candidate, staging]\n")
    p = run_cli(repo, "show")
    assert p.returncode == 2 and "lacks the stages the registry needs" in p.stderr
    (repo / ".gto").write_text("stages: [candidate, staging, canary, production, shadow, deprecated, archived]\n")
    assert run_cli(repo, "show").returncode == 0


def test_a_valid_gto_is_parsed_once_so_resolve_stays_light(tmp_path):
    """resolve imports no YAML once this .gto has been checked (the check is remembered by content)."""
    repo = staged_repo(tmp_path)
    assert run_cli(repo, "show").returncode == 0
    code = ("import sys; from versioned_ml_registry.cli import main; status = main(sys.argv[1:]); "
            "print('yaml' in sys.modules); sys.exit(status)")
    p = subprocess.run([sys.executable, "-c", code, "resolve", "m", "--stage", "staging"], cwd=repo,
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.split() == ["v0.1.0", "False"], p.stderr
    (repo / ".gto").write_text("stages: [candidate, staging, canary, production, shadow, deprecated, archived, qa]\n")
    p = subprocess.run([sys.executable, "-c", code, "resolve", "m", "--stage", "staging"], cwd=repo,
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.split() == ["v0.1.0", "True"], p.stderr


KILL_AT_RWLOCK_WRITE = """
import os, signal, sys
keep = sys.argv[1]
def die_while_dvc_rewrites_its_rwlock(event, args):
    if event == "open" and str(args[0]).endswith(os.path.join(".dvc", "tmp", "rwlock")) and "w" in str(args[1]):
        with open(args[0], "r+", encoding="utf-8") as handle:  # what open(..., "w") and a partial write leave
            text = handle.read()
            handle.seek(0)
            handle.truncate()
            handle.write(text[: int(keep)] if keep != "all" else "")
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(die_while_dvc_rewrites_its_rwlock)
from dvc.cli import main
sys.exit(main(["status"]))
"""


@pytest.mark.kills
@pytest.mark.slow
def test_a_dvc_process_killed_while_writing_its_rwlock_does_not_stop_release(tmp_path):
    from vml_testkit.evidence import DVC, init_repo, record, write_bundle

    root = init_repo(tmp_path)
    write_bundle(root, C=1.0)
    record(root, "feat: first cultivar model")
    for keep in ("all", "12"):  # killed after the truncation, and after a partial write
        killed = subprocess.run([sys.executable, "-c", KILL_AT_RWLOCK_WRITE, keep], cwd=root,
                                capture_output=True, text=True)
        assert killed.returncode == -signal.SIGKILL
        broken = subprocess.run([DVC, "status"], cwd=root, capture_output=True, text=True)
        assert broken.returncode != 0 and "RWLock" in broken.stdout + broken.stderr
        p = run_cli(root, "release", "cultivar", "--offline") if keep == "all" else run_cli(root, "verify", "--remote")
        assert "Traceback" not in p.stderr, p.stderr
        assert "removed" in p.stderr and ".dvc/tmp/rwlock: a killed dvc process left it" in p.stderr, p.stderr
        assert p.returncode == 0, p.stdout + p.stderr
        assert subprocess.run([DVC, "status"], cwd=root, capture_output=True).returncode == 0
    assert run_cli(root, "resolve", "cultivar", "--stage", "candidate").stdout.strip() == "v0.1.0"


@pytest.mark.slow
def test_a_corrupted_rwlock_naming_a_live_process_stops_with_one_line(tmp_path):
    from vml_testkit.evidence import init_repo, record, write_bundle

    root = init_repo(tmp_path)
    write_bundle(root, C=1.0)
    record(root, "feat: first cultivar model")
    rwlock = root / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    rwlock.write_text('{"write": {"models/cultivar": {"pid": %d, "cmd": "dvc repro"' % os.getpid())
    before = tag_refs(root)
    p = run_cli(root, "release", "cultivar", "--offline")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [
        f"error: {rwlock} is corrupted and names running process(es) {os.getpid()}: "
        f"delete {rwlock} once no dvc command is running"]
    assert rwlock.exists() and tag_refs(root) == before
