"""Promotions of one family from several clones at the same moment are linearizable.

Four clones of one bare origin run `model-registry promote ... --push` as real processes,
released together through a pipe (a barrier, not a sleep). Every stage's history stays one
chain (no two successful promotions built on the same holder: no lost update, so no two
clones both believe they replaced it), every stage counter and tagger time is unique, and
every success a clone printed is on the origin. Two clones wanting production for different
versions may both succeed one after the other (the second replaced the first, knowingly), or
the second stops and names the winner.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from vml_testkit.git import clone, git
from vml_testkit.registry import make_repo, release

import versioned_ml_registry as reg

pytestmark = [pytest.mark.races, pytest.mark.slow]

ROUNDS = int(os.environ.get("RACE_ROUNDS", "20"))
LAUNCH = ("import sys\nfrom versioned_ml_registry.cli import main\n"
          "sys.stdin.read(1)\nsys.exit(main(sys.argv[1:]))\n")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("race")
    origin = base / "origin.git"
    git(base, "init", "-q", "--bare", str(origin))
    seed = make_repo(base / "seed")
    git(seed, "remote", "add", "origin", str(origin))
    git(seed, "push", "-q", "origin", "main")
    # per round: a production candidate and a canary candidate (both held staging), a
    # staging candidate and a shadow candidate (both candidates)
    versions = {}
    for r in range(ROUNDS):
        for role in ("production", "canary", "staging", "shadow"):
            versions[(r, role)] = release(seed, "m", message=f"round {r} {role}")
            if role in ("production", "canary"):
                reg.promote(str(seed), "m", versions[(r, role)], "staging")
    reg.promote(str(seed), "m", versions[(0, "production")], "production")
    reg.push(str(seed))
    clones = [clone(origin, base / f"clone{i}", who=f"clone{i}") for i in range(4)]
    return origin, clones, versions


def race(clones, commands):
    """Start one process per clone, release them together, return (exit code, stdout) each."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    procs = [subprocess.Popen([sys.executable, "-c", LAUNCH, "--repo", str(c), *args], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for c, args in zip(clones, commands)]
    for proc in procs:  # every process is blocked on its pipe: this is the barrier
        proc.stdin.write("x")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out + err))
    return results


def remote_family(origin: Path):
    out = git(origin, "for-each-ref", "--format=%(refname:lstrip=2) %(taggerdate:unix)", "refs/tags/m#*",
              "refs/tags/m@*")
    return [line.split() for line in out.splitlines()]


def lost_updates(origin: Path) -> list:
    """Stage tags that follow a tag another one already followed: each stage's history must be
    one chain (every tag records which tag of its stage it replaced), or an update was lost."""
    import yaml

    followed = Counter()
    for name, _ in remote_family(origin):
        if "#" in name:
            body = yaml.safe_load(git(origin, "tag", "-l", "--format=%(contents)", name).partition("\n")[2])
            followed[(name.split("#")[1], body.get("replaces"))] += 1
    return [key for key, count in followed.items() if count > 1]


def test_four_clones_promoting_at_once_never_both_win_nor_share_a_counter_or_second(setup):
    origin, clones, versions = setup
    base_lost = lost_updates(origin)
    for r in range(1, ROUNDS):
        contest = r % 2 == 0  # every other round two clones want production for different versions
        commands = [
            ["promote", "m", versions[(r, "production")], "production", "--reason", "race", "--push"],
            ["promote", "m", versions[(r, "canary")], "production" if contest else "canary",
             "--reason", "race", "--push"],
            ["promote", "m", versions[(r, "staging")], "staging", "--reason", "race", "--push"],
            ["promote", "m", versions[(r, "shadow")], "shadow", "--reason", "race", "--push"],
        ]
        results = race(clones, commands)
        for code, output in results:
            assert code in (0, 2), output
            assert "Traceback" not in output
        wins = [json_tags(output) for code, output in results if code == 0]
        for code, output in results[:2] if contest else []:
            if code != 0:
                assert "production is now" in output  # the loser says who won
        on_origin = {name for name, _ in remote_family(origin)}
        for tags in wins:
            assert set(tags) <= on_origin
        for c in clones:  # every clone converges on the origin's state
            git(c, "fetch", "-q", "origin", "refs/tags/*:refs/tags/*")
        holders = {reg.resolve(str(c), "m", "production") for c in clones}
        assert len(holders) == 1
    # a double success is two promotions that both built on the same holder: a lost update
    assert lost_updates(origin) == base_lost == []
    names = remote_family(origin)
    counters = Counter(int(name.rsplit("#", 1)[1]) for name, _ in names if "#" in name)
    assert [n for n, count in counters.items() if count > 1] == []
    seconds = Counter(int(when) for _, when in names)
    assert [s for s, count in seconds.items() if count > 1] == []


def json_tags(output: str):
    return [line.split("published ", 1)[1].split(" to ")[0].split() for line in output.splitlines()
            if line.startswith("published ")][0]


def test_a_push_built_on_a_state_the_remote_has_since_changed_is_refused_whole(setup, tmp_path):
    origin, _, versions = setup
    a, b = clone(origin, tmp_path / "a", who="a"), clone(origin, tmp_path / "b", who="b")
    for c in (a, b):
        git(c, "fetch", "-q", "origin", "refs/tags/*:refs/tags/*")
    v = versions[(0, "shadow")]  # round 0 is never raced
    reg.promote(str(a), "m", v, "shadow", reason="from a")
    reg.promote(str(b), "m", versions[(0, "staging")], "staging", reason="from b")
    reg.push(str(a))
    before = git(origin, "for-each-ref", "refs/tags", "refs/registry")
    with pytest.raises(reg.RegistryError) as refused:
        reg.push(str(b))
    assert "\n" not in str(refused.value) and "nothing published" in str(refused.value)
    assert git(origin, "for-each-ref", "refs/tags", "refs/registry") == before
    assert json.loads(json.dumps(reg.show(str(origin.parent / "seed"), "m")))  # readers unaffected
