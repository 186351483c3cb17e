"""Concurrent promotions from two clones of one bare origin, with real processes.

Both clones hold cultivar v0.1.0 in production and v0.2.0, v0.3.0 having passed staging.
`promote ... --push` fetches, promotes on the fetched state, pushes atomically; the loser of a
race keeps no tag the origin does not have, fetches, and retries while the stage holder it
started from is unchanged, or reports the winner (exit 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vml_testkit.bake import copy_project
from vml_testkit.git import add_origin, bare_origin, clean_git_env, git, origin_tags, write_hook
from vml_testkit.paths import MODEL_REGISTRY
from vml_testkit.registry import registry
from vml_testkit.team import FAMILY, first_release, new_version, newest_stage_tag, teammate

pytestmark = [pytest.mark.races, pytest.mark.slow]

PROMOTE = [str(MODEL_REGISTRY), "promote"]


@pytest.fixture(scope="module")
def team(reproduced, tmp_path_factory):
    """A published origin (bare) and the shared local DVC remote holding every version."""
    base = tmp_path_factory.mktemp("team-race")
    storage = base / "storage"
    project = copy_project(reproduced, base / "wine-cultivar", storage)
    first_release(project)
    new_version(project, 2)
    new_version(project, 3)
    origin = bare_origin(base / "origin.git")
    add_origin(project, origin)
    registry(project, "push")  # artifacts of all three versions, then the tags
    for version, stage in (("v0.1.0", "staging"), ("v0.1.0", "production"), ("v0.2.0", "staging"),
                           ("v0.3.0", "staging")):
        registry(project, "promote", FAMILY, version, stage, "--reason", "setup", "--push")
    return origin, storage


@pytest.fixture
def clones(team, tmp_path):
    origin_template, storage = team
    origin = tmp_path / "origin.git"
    shutil.copytree(origin_template, origin)
    alice = teammate(origin, tmp_path / "alice", "Alice", storage)
    bob = teammate(origin, tmp_path / "bob", "Bob", storage)
    return origin, alice, bob


def published(stdout: str) -> list[str]:
    """The tags a `promote --push` reports as published."""
    for line in stdout.splitlines():
        if line.startswith("published "):
            return line.split()[1:-2]
    return []


def holder_everywhere(origin: Path, *clones: tuple[Path, dict]) -> str:
    """The production holder read on the origin (newest tag) and, after a fetch, by
    `model-registry resolve` in every clone: they must all agree."""
    newest = newest_stage_tag(origin, "production")
    commit = subprocess.run(["git", "rev-parse", f"{newest}^{{commit}}"], cwd=origin, capture_output=True,
                            text=True, check=True).stdout.strip()
    versions = [t.split("@")[1] for t, _ in origin_tags(origin).items() if t.startswith(f"{FAMILY}@")
                and subprocess.run(["git", "rev-parse", f"{t}^{{commit}}"], cwd=origin, capture_output=True,
                                   text=True).stdout.strip() == commit]
    assert len(versions) == 1
    for path, env in clones:
        git(path, "fetch", "-q", "origin", "refs/tags/*:refs/tags/*")
        assert registry(path, "resolve", FAMILY, "--stage", "production", env=env).stdout.strip() == versions[0]
        local = {t for t in git(path, "tag", "-l").split()}
        assert local == set(origin_tags(origin)), "a clone kept a tag the origin does not have"
    return versions[0]


def test_simultaneous_production_promotions_leave_one_holder(clones):
    """Two real processes released together by one pipe (EOF wakes both), no sleeps."""
    origin, (alice, alice_env), (bob, bob_env) = clones
    read_end, write_end = os.pipe()
    gate = "import os, sys; os.read(int(sys.argv[1]), 1); os.execv(sys.argv[2], sys.argv[2:])"
    procs = {}
    for name, path, env, version in (("alice", alice, alice_env, "v0.2.0"), ("bob", bob, bob_env, "v0.3.0")):
        procs[name] = (version, subprocess.Popen(
            [sys.executable, "-c", gate, str(read_end), *PROMOTE, FAMILY, version, "production",
             "--reason", f"{name} ships", "--push"],
            cwd=path, env=env, pass_fds=(read_end,), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    os.close(read_end)
    os.close(write_end)  # both start now
    results = {name: (version, proc.wait(timeout=120), proc.stdout.read(), proc.stderr.read())
               for name, (version, proc) in procs.items()}
    for name, (_, code, out, err) in results.items():
        print(f"{name}: exit {code}\n{out}{err}")
    codes = sorted(code for _, code, _, _ in results.values())
    assert codes in ([0, 0], [0, 2]), results
    on_origin = origin_tags(origin)
    for _, code, out, _ in results.values():  # no tag lost
        assert code != 0 or (published(out) and set(published(out)) <= set(on_origin)), out
    holder = holder_everywhere(origin, (alice, alice_env), (bob, bob_env))
    production_tags = [t for t in on_origin if t.startswith(f"{FAMILY}#production#")]
    if codes == [0, 2]:
        winner = next(v for v, code, _, _ in results.values() if code == 0)
        loser_err = next(err for _, code, _, err in results.values() if code == 2)
        assert holder == winner
        assert f"production is now {winner} by " in loser_err and "nothing written" in loser_err, loser_err
        assert len(loser_err.strip().splitlines()) == 1
        assert len(production_tags) == 2  # setup's v0.1.0 + the winner's
    else:  # the later one saw the first one's tag (or retried): both events are in history
        assert len(production_tags) == 3
        history = registry(alice, "history", FAMILY, "--json", env=alice_env).stdout
        assert '"v0.2.0"' in history and '"v0.3.0"' in history


def _race_hook(origin: Path, winner: Path, winner_env: dict, winner_args: list[str], log: Path) -> Path:
    """On the origin: when the loser's push of its promotion arrives (pre-receive, before any
    ref moves), the winner's complete `promote --push` runs and lands first; then the loser's
    push proceeds and finds its tag name taken. One-shot (marker file): the winner's own push
    passes through. The loser computed everything before pushing, so this is the tightest race:
    whatever the loser does locally, the server sees the winner first."""
    marker = origin / "race-once"
    marker.write_text("armed\n")
    env = clean_git_env(winner_env)
    write_hook(origin, "pre-receive", (
        "import os, subprocess, sys\n"
        "updates = sys.stdin.read()\n"
        f"marker = {str(marker)!r}\n"
        "if '#' not in updates or not os.path.exists(marker):\n"
        "    sys.exit(0)\n"
        "os.remove(marker)\n"
        f"done = subprocess.run({PROMOTE + winner_args!r}, cwd={str(winner)!r}, env={env!r},\n"
        "                      capture_output=True, text=True)\n"
        f"open({str(log)!r}, 'w').write(f'{{done.returncode}}\\n{{done.stdout}}{{done.stderr}}')\n"))
    return marker


def test_the_loser_of_a_production_race_reports_the_winner(clones, tmp_path):
    origin, (alice, alice_env), (bob, bob_env) = clones
    log = tmp_path / "alice.log"
    _race_hook(origin, alice, alice_env, [FAMILY, "v0.2.0", "production", "--reason", "alice ships", "--push"], log)
    done = registry(bob, "promote", FAMILY, "v0.3.0", "production", "--reason", "bob ships", "--push",
                    check=False, env=bob_env)
    assert log.read_text().startswith("0\n"), log.read_text()
    assert done.returncode == 2, done
    assert done.stderr.startswith("error: production is now v0.2.0 by Alice <alice@example.com> at "), done.stderr
    assert "(tag cultivar#production#" in done.stderr and "nothing written" in done.stderr
    assert holder_everywhere(origin, (alice, alice_env), (bob, bob_env)) == "v0.2.0"


def test_the_loser_retries_when_its_promotion_is_still_valid(clones, tmp_path):
    """Both assign shadow: the same counter N, so Bob's push is rejected; shadow is not a
    served stage whose holder a retry must protect, the rules still pass: Bob retries with N+1
    and his version, published last, holds shadow."""
    origin, (alice, alice_env), (bob, bob_env) = clones
    log = tmp_path / "alice.log"
    _race_hook(origin, alice, alice_env, [FAMILY, "v0.2.0", "shadow", "--reason", "alice mirrors", "--push"], log)
    done = registry(bob, "promote", FAMILY, "v0.3.0", "shadow", "--reason", "bob mirrors", "--push", env=bob_env)
    alice_tags = published(log.read_text())
    bob_tags = published(done.stdout)
    assert "retried after losing" in done.stdout, done.stdout
    assert alice_tags and bob_tags and set(alice_tags + bob_tags) <= set(origin_tags(origin))
    n_alice, n_bob = int(alice_tags[0].rsplit("#", 1)[1]), int(bob_tags[0].rsplit("#", 1)[1])
    assert n_bob == n_alice + 1
    assert holder_everywhere(origin, (alice, alice_env), (bob, bob_env)) == "v0.1.0"
    show = json.loads(registry(alice, "show", FAMILY, "--json", env=alice_env).stdout)["families"][FAMILY]
    assert show["holders"]["shadow"] == "v0.3.0"
    assert show["status"]["v0.2.0"] == show["status"]["v0.3.0"] == "shadow"
    history = json.loads(registry(alice, "history", FAMILY, "--json", env=alice_env).stdout)
    shadows = [(e["version"], e["by"]) for e in history if e["stage"] == "shadow"]
    assert shadows == [("v0.2.0", "Alice <alice@example.com>"), ("v0.3.0", "Bob <bob@example.com>")], shadows
