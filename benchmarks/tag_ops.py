#!/usr/bin/env python
"""Tag operations: `model-registry` at 360, 6,000 and 30,000 tags, next to git, Python and GTO.

Every repo has the same shape per family: 120 tags (30 versions, each with a candidate,
staging and production tag), so the work of a one-family command is the same at every size
and only the other families' tags grow. 3 families give 360 tags (the issue's "300 tags"),
50 give 6,000 and 250 give 30,000. Tags are written with the registry's own git layer, then
refs and objects are packed (`git pack-refs --all`, `git repack -ad`), as after a clone.

Each command runs as a subprocess; the table prints medians of wall time next to a peer
measured in the same run: `python -c pass` and `git for-each-ref` over one family's two
patterns (the floor of any one-family command), the same command at 360 tags, and GTO or
`dvc artifacts get` at 6,000 tags (GTO takes 4-15 s a call there: one repeat; never at
30,000). The sizes take turns on every repetition of our commands, so load on the machine
hits them alike. Every promote and rollback is a real state change, checked with `resolve`.

    python benchmarks/tag_ops.py            # all three sizes (a few minutes)
    python benchmarks/tag_ops.py --quick    # 360 tags only, one repeat: smoke run
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from versioned_ml_registry.tags.annotation import stage_message, version_message
from versioned_ml_registry.tags.refs import FOR_EACH_REF_FORMAT, NewTag, write_tags
from versioned_ml_registry.tags.names import family_patterns

BIN = Path(sys.executable).parent
OURS = [str(BIN / "model-registry")]  # the console script users run
VERSIONS = 30  # per family; each version has 1 version tag + 3 stage tags
STAGE_CYCLE = ("candidate", "staging", "production")
FAMILIES = (3, 50, 250)  # 360, 6,000 and 30,000 tags
GTO_FAMILIES = 50  # GTO and DVC run at this size only
BY = ("Bench", "bench@example.com")


def tool(name):
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name)


def sh(cwd, *args):
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True)


def run(cwd, args):
    """(seconds, stdout) of one command; stops the benchmark when it fails."""
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-300:]
        raise RuntimeError(f"{' '.join(map(str, args))} exited {proc.returncode}: {detail}")
    return took, proc.stdout


def median_time(n, call):
    """(median seconds, last stdout) of ``call(i)`` for i in 0..n-1."""
    times, out = [], ""
    for i in range(n):
        took, out = call(i)
        times.append(took)
    return statistics.median(times), out


# ---- building a repo ----------------------------------------------------------------------

def setup_dvc(path: Path, family: str) -> bool:
    """One DVC-tracked artifact for `family`, pushed to a local remote, so that
    `dvc artifacts get --stage` has something to fetch."""
    dvc = tool("dvc")
    if not dvc:
        return False
    try:
        sh(path, dvc, "init", "-q")
        sh(path, dvc, "config", "core.analytics", "false")
        sh(path, dvc, "remote", "add", "-d", "local", str(path.parent / (path.name + "-remote")))
        (path / "models").mkdir()
        (path / "models" / f"{family}.bin").write_bytes(os.urandom(1024))
        sh(path, dvc, "add", "-q", f"models/{family}.bin")
        (path / "dvc.yaml").write_text(
            f"artifacts:\n  {family}:\n    path: models/{family}.bin\n    type: model\n")
        sh(path, dvc, "push", "-q")
    except subprocess.CalledProcessError as exc:
        print(f"dvc setup failed, skipping dvc artifacts get: {exc.stderr.strip()[:200]}")
        return False
    return True


def version_commits(path: Path) -> list:
    """One commit per version index, shared by all families (same tree as HEAD)."""
    parent = sh(path, "git", "rev-parse", "HEAD").stdout.strip()
    tree = sh(path, "git", "rev-parse", "HEAD^{tree}").stdout.strip()
    commits = []
    for i in range(VERSIONS):
        parent = sh(path, "git", "commit-tree", tree, "-p", parent, "-m", f"v{i}").stdout.strip()
        commits.append(parent)
    sh(path, "git", "update-ref", "refs/heads/main", parent)
    return commits


def family_tags(family: str, commits: list, t0: int) -> list:
    """v0.1.0 .. v0.30.0, each released and then assigned candidate, staging, production:
    production is v0.30.0 and every earlier version was production once."""
    by = f"{BY[0]} <{BY[1]}>"
    tags, t, n = [], t0, 0
    for i, commit in enumerate(commits):
        v = f"v0.{i + 1}.0"
        body = {"event": "release", "family": family, "version": v, "by": by, "bump": "minor",
                "reasons": ["bench"]}
        tags.append(NewTag(f"{family}@{v}", commit, version_message(family, v, body), t))
        t += 1
        prev = None
        for stage in STAGE_CYCLE:
            n += 1
            body = {"event": "promote", "family": family, "version": v, "stage": stage,
                    "from_stage": prev, "by": by, "reason": "bench"}
            tags.append(NewTag(f"{family}#{stage}#{n}", commit, stage_message(family, v, stage, body), t))
            prev, t = stage, t + 1
    return tags


def build_repo(path: Path, families: int, with_dvc: bool) -> dict:
    path.mkdir(parents=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "config", "user.name", BY[0])
    sh(path, "git", "config", "user.email", BY[1])
    names = [f"model{i:03d}" for i in range(families)]
    (path / ".gto").write_text(
        "stages: [candidate, staging, canary, production, shadow, deprecated, archived]\n")
    dvc_ok = with_dvc and setup_dvc(path, names[0])
    sh(path, "git", "add", "-A")
    sh(path, "git", "commit", "-q", "-m", "init")
    commits = version_commits(path)
    t0 = int(time.time()) - 10 * VERSIONS * len(STAGE_CYCLE) - 100  # all tags in the past
    tags = [tag for name in names for tag in family_tags(name, commits, t0)]
    start = time.perf_counter()
    write_tags(str(path), tags, BY)
    sh(path, "git", "pack-refs", "--all")
    sh(path, "git", "repack", "-adq")
    return {"path": path, "families": names, "tags": len(tags),
            "write_seconds": time.perf_counter() - start, "dvc": dvc_ok}


# ---- measuring ----------------------------------------------------------------------------

def expect_holder(repo, family, stage, version):
    _, out = run(repo, OURS + ["resolve", family, "--stage", stage])
    if out.strip() != version:
        raise RuntimeError(f"{family} {stage} is {out.strip()!r}, expected {version}")


def commands(family: str, i: int) -> dict:
    """name -> argv of repetition ``i`` at one size, in the order they run."""
    return {
        "show": OURS + ["show"],
        "history": OURS + ["history", family],
        "resolve": OURS + ["resolve", family, "--stage", "production"],
        # v0.1.0, v0.2.0, ... held candidate once, so each may move to staging: one new tag each
        "promote": OURS + ["promote", family, f"0.{i + 1}.0", "staging"],
        # each rollback deprecates the current holder and moves production one version down
        "rollback": OURS + ["rollback", family, "--reason", "bench"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "for-each-ref (1 family)": ["git", "for-each-ref", "--format", FOR_EACH_REF_FORMAT,
                                    *family_patterns(family)],
        "for-each-ref (all tags)": ["git", "for-each-ref", "--format", FOR_EACH_REF_FORMAT, "refs/tags"],
    }


WRITES = ("promote", "rollback")


def measure_ours(infos: list, repeat: int) -> dict:
    """tags -> {name: median seconds} of our commands and the peers every size gets.

    The sizes take turns on every repetition, so a change in the machine's load (such as the
    write-back after building 30,000 tags) hits all of them alike."""
    samples = {info["tags"]: {} for info in infos}
    for name in commands("f", 0):  # the names, in order
        first = 0 if name in WRITES else -1  # -1: one untimed warm-up run of a read command
        for i in range(first, repeat):
            for info in infos:
                took, _ = run(info["path"], commands(info["families"][0], i)[name])
                if i >= 0:
                    samples[info["tags"]].setdefault(name, []).append(took)
        for info in infos:  # every write was a state change
            if name == "promote":
                expect_holder(info["path"], info["families"][0], "staging", f"v0.{repeat}.0")
            if name == "rollback":
                expect_holder(info["path"], info["families"][0], "production", f"v0.{VERSIONS - repeat}.0")
    medians = {}
    for tags, by_name in samples.items():
        t = {name: statistics.median(times) for name, times in by_name.items()}
        t["python -c pass + for-each-ref"] = t["python -c pass"] + t["for-each-ref (1 family)"]
        medians[tags] = t
    return medians


def measure_others(info: dict, repeat: int) -> dict:
    """GTO and `dvc artifacts get`, after our commands (so they read our rollback's tags)."""
    repo, family, t = info["path"], info["families"][0], {}
    gto = tool("gto")
    if gto:
        t["gto show"], _ = median_time(repeat, lambda i: run(repo, [gto, "show"]))
        t["gto history"], _ = median_time(repeat, lambda i: run(repo, [gto, "history", family]))
        t["gto show f#production --version"], holder = median_time(
            repeat, lambda i: run(repo, [gto, "show", f"{family}#production", "--version"]))
        _, ours = run(repo, OURS + ["resolve", family, "--stage", "production"])
        t["holder agrees with gto"] = holder.strip() == ours.strip() or f"NO: gto {holder.strip()}, ours {ours.strip()}"
        # another family, so ours above stays as it was
        t["gto assign"], _ = median_time(repeat, lambda i: run(repo, [
            gto, "assign", info["families"][1], "--version", f"v0.{i + 1}.0", "--stage", "shadow", "--force"]))
    if info["dvc"]:
        out = repo.parent / (repo.name + "-out.bin")
        get = [tool("dvc"), "artifacts", "get", ".", family, "--stage", "production", "-o", str(out), "--force"]
        try:
            t["dvc artifacts get --stage"], _ = median_time(repeat, lambda i: run(repo, get))
        except RuntimeError as exc:
            print(f"dvc artifacts get failed, skipped: {exc}")
    return t


# ---- reporting ----------------------------------------------------------------------------

OUR_COMMANDS = ("show", "history", "resolve", "promote", "rollback")


def size_rows(tags: int, by_tags: dict) -> list:
    """(command, ours, peer, peer seconds) rows of one size; peers not measured are skipped,
    and the same command at the smallest size is a peer of the larger sizes."""
    t, base_tags = by_tags[tags], min(by_tags)
    peers = [
        ("show", "for-each-ref (all tags)"),
        ("show", "gto show"),
        ("history", "gto history"),
        ("resolve", "python -c pass"),
        ("resolve", "for-each-ref (1 family)"),
        ("resolve", "python -c pass + for-each-ref"),
        ("resolve", "gto show"),
        ("resolve", "gto show f#production --version"),
        ("resolve", "dvc artifacts get --stage"),
        ("promote", "gto assign"),
    ]
    rows = [(cmd, t[cmd], peer, t[peer]) for cmd, peer in peers if peer in t]
    if tags != base_tags:
        for cmd in ("resolve", "promote", "rollback"):
            rows.append((cmd, t[cmd], f"{cmd} at {base_tags:,} tags", by_tags[base_tags][cmd]))
    for cmd in OUR_COMMANDS:
        if not any(row[0] == cmd for row in rows):
            rows.append((cmd, t[cmd], "-", None))
    return sorted(rows, key=lambda row: OUR_COMMANDS.index(row[0]))


def print_table(infos: list, by_tags: dict) -> None:
    print(f"{'size':<20} {'command':<9} {'median s':>8}   {'peer':<32} {'median s':>8} {'ratio':>7}")
    for info in infos:
        size = f"{info['tags']:,} tags/{len(info['families'])} fam"
        for cmd, ours, peer, theirs in size_rows(info["tags"], by_tags):
            peer_s = f"{theirs:8.3f}" if theirs is not None else f"{'-':>8}"
            ratio = f"{ours / theirs:6.2f}x" if theirs else f"{'-':>7}"
            print(f"{size:<20} {cmd:<9} {ours:8.3f}   {peer:<32} {peer_s} {ratio}")
    print("ratio = ours / peer (below 1: ours is faster). Medians of subprocess wall time.")
    for info in infos:
        agree = by_tags[info["tags"]].get("holder agrees with gto")
        if agree is not None:
            print(f"production holder at {info['tags']:,} tags agrees with gto: {'yes' if agree is True else agree}")


def check(label: str, value: float, limit: float, at_most: bool, detail: str) -> None:
    ok = value <= limit if at_most else value >= limit
    bound = f"<= {limit:g}x" if at_most else f">= {limit:g}x"
    print(f"{'PASS' if ok else 'FAIL'}  {label}: {value:.2f}x (need {bound}; {detail})")


def print_checks(by_tags: dict) -> None:
    print("\nchecks")
    small, large, mid = by_tags.get(min(by_tags)), by_tags.get(30000), by_tags.get(6000)
    if large and small is not large:
        for cmd in ("resolve", "promote", "rollback"):
            check(f"{cmd} at 30,000 tags / at {min(by_tags):,}", large[cmd] / small[cmd], 1.5, True,
                  f"{large[cmd]:.3f} s vs {small[cmd]:.3f} s")
        floor = large["python -c pass + for-each-ref"]
        check("resolve at 30,000 tags / (python -c pass + for-each-ref)", large["resolve"] / floor, 4, True,
              f"{large['resolve']:.3f} s vs {large['python -c pass']:.3f} + {large['for-each-ref (1 family)']:.3f} s")
    else:
        print("skip  30,000-tag checks: not measured in this run")
    if mid and "gto show" in mid:
        for cmd in ("show", "resolve"):
            check(f"gto show / {cmd} at 6,000 tags", mid["gto show"] / mid[cmd], 50, False,
                  f"{mid['gto show']:.3f} s vs {mid[cmd]:.3f} s")
    else:
        print("skip  GTO checks: gto not run at 6,000 tags in this run")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="360 tags only, one repeat")
    ap.add_argument("--repeat", type=int, default=11, help="repeats of our commands and their peers")
    ap.add_argument("--no-dvc", action="store_true", help="skip dvc artifacts get")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    if not 1 <= repeat < VERSIONS:
        ap.error(f"--repeat must be 1..{VERSIONS - 1}: each rollback deprecates one of {VERSIONS} versions")
    sizes = FAMILIES[:1] if args.quick else FAMILIES
    # as `pip install` does: with PYTHONDONTWRITEBYTECODE set, an editable install would
    # otherwise recompile the package on every call
    import versioned_ml_registry

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(versioned_ml_registry.__file__).parent)],
                   check=True)
    base = Path(tempfile.mkdtemp(prefix="tag-ops-"))
    try:
        infos = []
        for families in sizes:
            with_dvc = families == GTO_FAMILIES and not args.no_dvc
            infos.append(build_repo(base / f"r{families}", families, with_dvc))
            print(f"built {infos[-1]['tags']:,} tags ({families} families, {VERSIONS} versions each) "
                  f"in {infos[-1]['write_seconds']:.2f} s", flush=True)
        os.sync()  # the repos' write-back should not land in the timings
        by_tags = measure_ours(infos, repeat)
        for info in infos:
            if len(info["families"]) == GTO_FAMILIES:
                by_tags[info["tags"]].update(measure_others(info, 1))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print_table(infos, by_tags)
    print_checks(by_tags)
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"{sh('.', 'git', '--version').stdout.strip()}; {repeat} repeat(s) of ours, 1 of gto/dvc.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
