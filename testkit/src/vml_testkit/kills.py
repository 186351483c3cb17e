"""SIGKILL the registry's write commands at random instants and inside git's lock window, then
check that the next registry command finds all of the killed command's tags or none, and is
not blocked.

    python -m vml_testkit.kills --kills 100     # the full run: a table per command
    pytest registry/tests/test_kills.py         # a sample of 20 kills per command

Each trial copies a prepared repository (and its bare origin), starts one command as a real
process in its own process group, and kills the whole group (the command and its git
children): at a random instant, or while a `reference-transaction` hook holds git's ref locks
(the "prepared" window) or right after git renamed them (the "committed" window). The origin
runs `receive-pack` in its own session, as a server does, so a killed `push` client does not
kill the server. Then `model-registry show` runs (it recovers what the kill left).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .git import commit, git
from .registry import make_repo, release
from .signing import make_key, sign_as

COMMANDS = ("release", "promote", "rollback", "drill", "push")
HOOK = """#!/bin/sh
# blocks the Nth ref transaction of a process that asked for it, so a test can kill it there
[ "$1" = "$REGISTRY_KILL_WINDOW" ] || exit 0
cat >/dev/null
count=$(($(cat "$REGISTRY_KILL_MARKER.count" 2>/dev/null || echo 0) + 1))
echo $count >"$REGISTRY_KILL_MARKER.count"
[ "$count" = "${REGISTRY_KILL_NTH:-1}" ] || exit 0
touch "$REGISTRY_KILL_MARKER"
exec sleep 60
"""
DRIVER = """
import sys
command, repo = sys.argv[1], sys.argv[2]
if command == "release":
    from vml_testkit.registry import FakeProposal, write_release
    write_release(repo, "m", FakeProposal("m"))
else:
    from versioned_ml_registry.cli import main
    args = {"promote": ["promote", "m", "v0.3.0", "production", "--reason", "kill test"],
            "rollback": ["rollback", "m", "--reason", "kill test"],
            "drill": ["drill", "m"],
            "push": ["push"]}[command]
    sys.exit(main(["--repo", repo, *args]))
"""


def prepare(base: Path, signed: bool = False) -> Path:
    """A repository whose family `m` allows every command once: v0.1.0 then v0.2.0 in
    production (canary follows it), v0.3.0 in staging, HEAD unreleased, and v0.3.0's staging
    tag not yet on the origin. ``signed``: git signs with an ssh key made here."""
    import versioned_ml_registry as reg

    repo = make_repo(base / "repo")
    if signed:
        sign_as(repo, make_key(base / "keys", "kill"), "kill@example.com")
    origin = base / "origin.git"
    git(base, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", "../origin.git")  # relative: every copy has its own origin
    git(repo, "config", "remote.origin.receivepack", "setsid git-receive-pack")
    for version in ("0.1.0", "0.2.0", "0.3.0"):
        release(repo, "m", message=f"work on {version}")
    for version, stages in (("0.1.0", ("staging", "production")), ("0.2.0", ("staging", "canary", "production"))):
        for stage in stages:
            reg.promote(str(repo), "m", version, stage)
    git(repo, "push", "-q", "origin", "main")
    reg.push(str(repo))
    reg.promote(str(repo), "m", "0.3.0", "staging")
    commit(repo, "unreleased work")
    (repo / ".git" / "hooks" / "reference-transaction").write_text(HOOK)
    (repo / ".git" / "hooks" / "reference-transaction").chmod(0o755)
    return base


def tag_names(repo: Path) -> set:
    return set(git(repo, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags").split())


def start(command: str, repo: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, command, str(repo)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def expected_group(command: str, prepared: Path, scratch: Path) -> tuple[set, float]:
    """The tags the command writes (locally, or on the origin for push) when nothing kills it,
    and how long it takes."""
    copy = scratch / f"expected-{command}"
    shutil.copytree(prepared, copy, symlinks=True)
    where = copy / ("origin.git" if command == "push" else "repo")
    before = tag_names(where)
    began = time.perf_counter()
    proc = start(command, copy / "repo", dict(os.environ))
    out, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{command} failed unkilled: {err.decode()[-400:]}")
    return tag_names(where) - before, time.perf_counter() - began


@dataclass
class Tally:
    kills: int = 0
    none: int = 0
    whole: int = 0
    partial: list = field(default_factory=list)
    blocked: list = field(default_factory=list)
    locks_left: int = 0


def trial(command: str, prepared: Path, scratch: Path, expected: set, duration: float, window: str | None,
          rng: random.Random, tally: Tally) -> None:
    copy = Path(tempfile.mkdtemp(dir=scratch))
    shutil.copytree(prepared, copy, symlinks=True, dirs_exist_ok=True)
    repo, where = copy / "repo", copy / ("origin.git" if command == "push" else "repo")
    before = tag_names(where)
    marker = copy / "killed-here"
    env = dict(os.environ)
    if window:
        env.update(REGISTRY_KILL_WINDOW=window, REGISTRY_KILL_MARKER=str(marker),
                   REGISTRY_KILL_NTH=str(rng.randint(1, 2) if command == "drill" else 1))
    proc = start(command, repo, env)
    if window:
        deadline = time.monotonic() + 30
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # polling for the hook's marker, bounded by the deadline
    else:
        time.sleep(rng.uniform(0, duration * 1.2))  # a random instant of the command's life
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()
    tally.kills += 1
    # the next command: `show` (it recovers what the kill left); for push, the push again
    next_command = ["push"] if command == "push" else ["show", "m"]
    new = tag_names(where) - before if command == "push" else None  # the origin needs no recovery
    follow = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "--repo", str(repo), *next_command],
                            capture_output=True, text=True)
    if follow.returncode != 0:
        tally.blocked.append(follow.stderr.strip()[-200:])
    if new is None:
        new = tag_names(where) - before
    elif tag_names(where) - before != expected:
        tally.blocked.append(f"push again left the origin with {sorted(tag_names(where) - before)}")
    if not new:
        tally.none += 1
    elif new == expected:
        tally.whole += 1
    else:
        tally.partial.append(sorted(new))
    tally.locks_left += len(list((repo / ".git" / "refs").rglob("*.lock")))
    shutil.rmtree(copy, ignore_errors=True)


def run(kills: int, commands=COMMANDS, seed: int = 0, scratch: Path | None = None, signed: bool = False) -> dict:
    """``kills`` trials per command: half at random instants, a quarter in each lock window
    (``signed``: with tags signed by a real ssh key)."""
    rng = random.Random(seed)
    scratch = Path(scratch or tempfile.mkdtemp(prefix="registry-kills-"))
    prepared = prepare(scratch / "prepared", signed)
    tallies = {}
    for command in commands:
        expected, duration = expected_group(command, prepared, scratch)
        tally = tallies[command] = Tally()
        for i in range(kills):
            window = None if command == "push" or i % 4 < 2 else ("prepared" if i % 4 == 2 else "committed")
            trial(command, prepared, scratch, expected, duration, window, rng, tally)
    return tallies


def table(tallies: dict) -> str:
    lines = [f"{'command':<10} {'kills':>6} {'none':>6} {'all':>6} {'partial':>8} {'blocked':>8} {'locks left':>11}"]
    for command, t in tallies.items():
        lines.append(f"{command:<10} {t.kills:>6} {t.none:>6} {t.whole:>6} {len(t.partial):>8} "
                     f"{len(t.blocked):>8} {t.locks_left:>11}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="kills per command (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    identity = {"GIT_AUTHOR_NAME": "Kill Test", "GIT_AUTHOR_EMAIL": "kill@example.com",
                "GIT_COMMITTER_NAME": "Kill Test", "GIT_COMMITTER_EMAIL": "kill@example.com"}
    os.environ.update(identity)
    began = time.perf_counter()
    tallies = run(args.kills, seed=args.seed)
    print(table(tallies))
    print(f"\n{sum(t.kills for t in tallies.values())} kills in {time.perf_counter() - began:.0f} s")
    bad = sum(len(t.partial) + len(t.blocked) + t.locks_left for t in tallies.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
