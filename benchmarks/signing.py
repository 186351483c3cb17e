#!/usr/bin/env python
"""The cost of signing: `model-registry promote` unsigned, signed, and signed under an
authority policy, next to GTO's `gto assign` and git's own `git tag -a` / `git tag -s`.

Three identical repositories hold one family with VERSIONS released candidates. Each round
promotes the next candidate to staging in every repository (a real state change each time),
the kinds taking turns so that load on the machine hits them alike. The key is a real ed25519
key made by `ssh-keygen`; the policy restricts staging to its principal, so the signed-and-checked
row pays for the signature check too.

    python benchmarks/signing.py              # 15 rounds
    python benchmarks/signing.py --rounds 3   # smoke run
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from versioned_ml_registry.tags.annotation import stage_message, version_message
from versioned_ml_registry.tags.refs import NewTag, write_tags

BIN = Path(sys.executable).parent
OURS = str(BIN / "model-registry")
GTO = str(BIN / "gto") if (BIN / "gto").exists() else shutil.which("gto")
BY = ("Bench", "bench@example.com")
POLICY = "signers: allowed_signers\nallow:\n  staging: [bench@example.com]\n"


def sh(cwd, *args) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def timed(cwd, *args) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}: {proc.stderr.strip()[-300:]}")
    return took


def make_repo(path: Path, versions: int) -> Path:
    """A repository whose family `m` has ``versions`` releases, each a candidate."""
    path.mkdir(parents=True)
    sh(path, "git", "init", "-q", "-b", "main")
    for key, value in (("user.name", BY[0]), ("user.email", BY[1]), ("tag.gpgsign", "false")):
        sh(path, "git", "config", key, value)
    (path / ".gto").write_text("stages: [candidate, staging, canary, production, shadow, deprecated, archived]\n")
    tags, when = [], int(time.time()) - 10 * versions
    for n in range(1, versions + 1):
        (path / "work.txt").write_text(f"{n}\n")
        sh(path, "git", "add", "-A")
        sh(path, "git", "commit", "-q", "-m", f"feat: work {n}")
        commit = sh(path, "git", "rev-parse", "HEAD").strip()
        vstring = f"v0.{n}.0"
        body = {"event": "release", "family": "m", "version": vstring, "by": "Bench <bench@example.com>"}
        tags.append(NewTag(f"m@{vstring}", commit, version_message("m", vstring, body), when + 2 * n))
        tags.append(NewTag(f"m#candidate#{n}", commit, stage_message("m", vstring, "candidate", dict(body, event="release")),
                           when + 2 * n + 1))
    write_tags(str(path), tags, BY)
    return path


def sign_with(repo: Path, key: Path) -> None:
    sh(repo, "git", "config", "gpg.format", "ssh")
    sh(repo, "git", "config", "user.signingKey", str(key))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-signing-"))
    try:
        key = scratch / "key"
        sh(scratch, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", BY[1], "-f", str(key))
        repos = {kind: make_repo(scratch / kind, args.rounds + 1)
                 for kind in ("unsigned", "signed", "signed+policy", "gto", "git")}
        sign_with(repos["signed"], key)
        sign_with(repos["signed+policy"], key)
        policy_repo = repos["signed+policy"]
        (policy_repo / "registry").mkdir()
        (policy_repo / "registry" / "authority.yaml").write_text(POLICY)
        public = " ".join(Path(f"{key}.pub").read_text().split()[:2])
        (policy_repo / "registry" / "allowed_signers").write_text(f"{BY[1]} {public}\n")
        sh(policy_repo, "git", "add", "-A")
        sh(policy_repo, "git", "commit", "-q", "-m", "chore: authority policy")
        rows = {name: [] for name in ("promote (unsigned)", "promote (signed)", "promote (signed, policy checked)",
                                      "gto assign (unsigned)", "git tag -a", "git tag -s")}
        for n in range(1, args.rounds + 1):
            version = f"v0.{n}.0"
            promote = (OURS, "promote", "m", version, "staging", "--reason", "bench")
            rows["promote (unsigned)"].append(timed(repos["unsigned"], *promote))
            rows["promote (signed)"].append(timed(repos["signed"], *promote))
            rows["promote (signed, policy checked)"].append(timed(policy_repo, *promote))
            if GTO:
                rows["gto assign (unsigned)"].append(timed(repos["gto"], GTO, "assign", "m", "--version", version,
                                                           "--stage", "staging"))
            rows["git tag -a"].append(timed(repos["git"], "git", "tag", "-a", f"plain-{n}", "-m", "bench"))
            rows["git tag -s"].append(timed(repos["git"], "git", "-c", "gpg.format=ssh", "-c",
                                            f"user.signingKey={key}", "tag", "-s", f"signed-{n}", "-m", "bench"))
        signed = sh(repos["signed"], "git", "for-each-ref", "--format=%(contents:signature)", "refs/tags/m#staging#*")
        assert signed.count("BEGIN SSH SIGNATURE") == args.rounds, "signed promotions must write signed tags"
        base = statistics.median(rows["promote (unsigned)"])
        print(f"{'command':<36} {'median s':>9} {'min s':>7} {'max s':>7} {'x unsigned':>11}")
        for name, times in rows.items():
            if times:
                median = statistics.median(times)
                print(f"{name:<36} {median:>9.3f} {min(times):>7.3f} {max(times):>7.3f} {median / base:>11.2f}")
        print(f"\n{args.rounds} promotions per row, each to a new version; peer rows from the same rounds")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
