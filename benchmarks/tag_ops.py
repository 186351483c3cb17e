#!/usr/bin/env python
"""Tag operations: our `model-registry` vs GTO and `dvc artifacts get`, same repos, same run.

Builds repos with 1,200 tags (10 families) and 6,000 tags (50 families) using the
registry's own git layer (one hash-object call + one update-ref transaction), then times
each command as a subprocess and prints one table with medians and ratios.

    python benchmarks/tag_ops.py            # both sizes, small repeat counts (a few minutes)
    python benchmarks/tag_ops.py --quick    # 1,200 tags only, one repeat: smoke run
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

ROOT = Path(__file__).resolve().parents[1]
REGISTRY_PARENT = ROOT / "{{cookiecutter.__project_folder}}" / "src" / "{{cookiecutter.package}}"
sys.path.insert(0, str(REGISTRY_PARENT))

from registry import gitrefs  # noqa: E402
from registry.lifecycle import stage_message, version_message  # noqa: E402

BIN = Path(sys.executable).parent
STAGE_CYCLE = ("candidate", "staging", "production")


def tool(name):
    p = BIN / name
    return str(p) if p.exists() else shutil.which(name)


def sh(cwd, *args, check=True, env=None):
    return subprocess.run(args, cwd=cwd, check=check, capture_output=True, text=True, env=env)


def build_repo(path: Path, families: int, tags: int, with_dvc: bool) -> dict:
    """`tags` tags over `families` families: per family V versions and 2V stage tags
    (candidate, staging, production for each version, in order)."""
    path.mkdir(parents=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "config", "user.name", "Bench")
    sh(path, "git", "config", "user.email", "bench@example.com")
    per_family = tags // families
    versions = per_family // 4  # each version: 1 version tag + 3 stage tags
    fams = [f"model{i:02d}" for i in range(families)]
    (path / ".gto").write_text("stages: [candidate, staging, canary, production, shadow, deprecated, archived]\n")
    dvc_ok = False
    if with_dvc and tool("dvc"):
        try:
            dvc = tool("dvc")
            sh(path, dvc, "init", "-q")
            sh(path, dvc, "config", "core.analytics", "false")
            remote = path.parent / (path.name + "-remote")
            sh(path, dvc, "remote", "add", "-d", "local", str(remote))
            (path / "models").mkdir()
            lines = ["artifacts:"]
            for f in fams[:1]:  # one artifact is enough to time `dvc artifacts get`
                (path / "models" / f"{f}.bin").write_bytes(os.urandom(1024))
                sh(path, dvc, "add", "-q", f"models/{f}.bin")
                lines += [f"  {f}:", f"    path: models/{f}.bin", "    type: model"]
            (path / "dvc.yaml").write_text("\n".join(lines) + "\n")
            sh(path, dvc, "push", "-q")
            dvc_ok = True
        except subprocess.CalledProcessError as exc:
            print(f"dvc setup failed, skipping dvc artifacts get: {exc.stderr.strip()[:200]}")
    sh(path, "git", "add", "-A")
    sh(path, "git", "commit", "-q", "-m", "init")
    # one commit per version index, shared by all families
    commits = []
    parent = sh(path, "git", "rev-parse", "HEAD").stdout.strip()
    tree = sh(path, "git", "rev-parse", "HEAD^{tree}").stdout.strip()
    for i in range(versions):
        parent = sh(path, "git", "commit-tree", tree, "-p", parent, "-m", f"v{i}").stdout.strip()
        commits.append(parent)
    sh(path, "git", "update-ref", "refs/heads/main", parent)
    new = []
    t0 = int(time.time()) - 10 * per_family - 100
    by = "Bench <bench@example.com>"
    for f in fams:
        t = t0
        n = 0
        for i in range(versions):
            v = f"v0.{i + 1}.0"
            new.append(gitrefs.NewTag(f"{f}@{v}", commits[i], version_message(
                f, v, {"registry": 1, "event": "release", "family": f, "version": v, "by": by,
                       "bump": "minor", "reasons": ["bench"]}), t))
            t += 1
            prev = None
            for stage in STAGE_CYCLE:
                n += 1
                new.append(gitrefs.NewTag(f"{f}#{stage}#{n}", commits[i], stage_message(
                    f, v, stage, {"registry": 1, "event": "promote", "family": f, "version": v,
                                  "stage": stage, "from_stage": prev, "by": by, "reason": "bench"}), t))
                prev = stage
                t += 1
    start = time.perf_counter()
    gitrefs.write_tags(str(path), new, ("Bench", "bench@example.com"))
    sh(path, "git", "pack-refs", "--all")
    sh(path, "git", "repack", "-adq")  # as after a clone: refs and objects packed
    took = time.perf_counter() - start
    return {"path": path, "families": fams, "versions": versions, "tags": len(new),
            "write_seconds": took, "dvc": dvc_ok}


def timed(cwd, args, env=None):
    start = time.perf_counter()
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed: {(p.stderr or p.stdout).strip()[-300:]}")
    return took, p.stdout


def bench_size(info: dict, repeat: int, gto_repeat: int) -> list:
    repo = info["path"]
    fam = info["families"][0]
    env = dict(os.environ, PYTHONPATH=str(REGISTRY_PARENT))
    ours = [sys.executable, "-m", "registry"]
    gto = tool("gto")
    rows = []

    def med(fn, n):
        times = []
        out = None
        for i in range(n):
            t, out = fn(i)
            times.append(t)
        return statistics.median(times), out

    r_show, _ = med(lambda i: timed(repo, ours + ["show"], env), repeat)
    r_hist, _ = med(lambda i: timed(repo, ours + ["history", fam], env), repeat)
    r_res, our_holder = med(lambda i: timed(repo, ours + ["resolve", fam, "--stage", "production"], env), repeat)
    # promote: versions that are candidates-only are the last one; promote older versions to
    # staging (each a new tag; allowed because they held candidate)
    r_prom, _ = med(lambda i: timed(repo, ours + ["promote", fam, f"0.{i + 1}.0", "staging"], env), repeat)
    r_roll, _ = med(lambda i: timed(repo, ours + ["rollback", fam, "--reason", "bench"], env), repeat)
    _, our_holder = timed(repo, ours + ["resolve", fam, "--stage", "production"], env)
    if gto:
        g_show, _ = med(lambda i: timed(repo, [gto, "show"]), gto_repeat)
        g_hist, _ = med(lambda i: timed(repo, [gto, "history", fam]), gto_repeat)
        g_res, g_holder = med(lambda i: timed(repo, [gto, "show", f"{fam}#production", "--version"]), gto_repeat)
        fam2 = info["families"][1]
        g_assign, _ = med(lambda i: timed(repo, [gto, "assign", fam2, "--version", f"v0.{i + 1}.0",
                                                 "--stage", "shadow", "--force"]), gto_repeat)
        agree = "yes" if g_holder.strip() == our_holder.strip() else f"NO ({g_holder.strip()} vs {our_holder.strip()})"
    else:
        g_show = g_hist = g_res = g_assign = None
        agree = "gto missing"
    d_get = None
    if info["dvc"]:
        out = repo.parent / (repo.name + "-out.bin")
        try:
            d_get, _ = med(lambda i: timed(repo, [tool("dvc"), "artifacts", "get", ".", fam, "--stage",
                                                  "production", "-o", str(out), "--force"]), gto_repeat)
        except RuntimeError as exc:
            print(f"dvc artifacts get failed, skipped: {exc}")
    size = f"{info['tags']} tags/{len(info['families'])} fam"
    rows.append((size, "show", r_show, "gto show", g_show))
    rows.append((size, "history", r_hist, "gto history", g_hist))
    rows.append((size, "resolve", r_res, "gto show f#production --version", g_res))
    rows.append((size, "resolve", r_res, "dvc artifacts get --stage", d_get))
    rows.append((size, "promote", r_prom, "gto assign", g_assign))
    rows.append((size, "rollback", r_roll, "-", None))
    rows.append((size, f"holder agrees with gto: {agree}", None, "", None))
    return rows


def fmt(x):
    return "-" if x is None else f"{x:8.3f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,200 tags only, one repeat")
    ap.add_argument("--repeat", type=int, default=5, help="repeats of our commands")
    ap.add_argument("--gto-repeat", type=int, default=3, help="repeats of gto/dvc at 1,200 tags")
    ap.add_argument("--no-dvc", action="store_true", help="skip dvc artifacts get")
    args = ap.parse_args(argv)
    sizes = [(10, 1200)] if args.quick else [(10, 1200), (50, 6000)]
    repeat = 1 if args.quick else args.repeat
    base = Path(tempfile.mkdtemp(prefix="tag-ops-"))
    rows = []
    try:
        for families, tags in sizes:
            info = build_repo(base / f"r{tags}", families, tags, with_dvc=not args.no_dvc)
            print(f"built {info['tags']} tags in {info['write_seconds']:.2f} s "
                  f"({families} families, {info['versions']} versions each)", flush=True)
            # gto takes ~18 s per call at 6,000 tags: one repeat there
            gto_repeat = 1 if (args.quick or tags > 2000) else args.gto_repeat
            rows += bench_size(info, repeat, gto_repeat)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print(f"{'repo':<20} {'ours':<10} {'median s':>8}   {'other':<32} {'median s':>8} {'ratio':>8}")
    for size, ours, t_ours, other, t_other in rows:
        if t_ours is None:
            print(f"{size:<20} {ours}")
            continue
        ratio = f"{t_other / t_ours:7.1f}x" if t_other and t_ours else "-"
        print(f"{size:<20} {ours:<10} {fmt(t_ours)}   {other:<32} {fmt(t_other)} {ratio:>8}")
    print("\nratio = other / ours (higher: ours faster). Medians of subprocess wall time.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
