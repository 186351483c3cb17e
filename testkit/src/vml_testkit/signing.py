"""Real ssh signing keys for the trust tests: people with keys made by ``ssh-keygen``, an
allowed-signers file, an authority policy committed on main and pushed, and a repository
configured to sign as one of them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .git import git

POLICY = """\
signers: allowed_signers
groups:
  release-managers: [alice@example.com]
  on-call: [bob@example.com]
  team: ["*@example.com"]
allow:
  production: [release-managers]
  rollback: [release-managers, on-call]
  canary: [release-managers]
  staging: [team]
"""


def make_key(folder: Path, who: str) -> Path:
    """A new ed25519 key pair ``folder/<who>`` (no passphrase); the private key's path."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / who
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(key)], check=True)
    return key


def signer_line(principal: str, key: Path, options: str = "") -> str:
    """One allowed-signers line for ``key``'s public half."""
    public = " ".join(Path(f"{key}.pub").read_text().split()[:2])
    return f"{principal} {options + ' ' if options else ''}{public}\n"


def sign_as(repo: Path, key: Path, email: str) -> None:
    """Configure ``repo`` to sign tags with ``key`` and to write as ``email``."""
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingKey", str(key))
    git(repo, "config", "user.email", email)
    git(repo, "config", "user.name", email.split("@")[0])


def commit_policy(repo: Path, policy: str, signers: str, branch: str = "main", push: bool = True) -> None:
    """Commit ``registry/authority.yaml`` and ``registry/allowed_signers`` on ``branch`` (checked
    out for it, then back) and push it to origin, so ``origin/<branch>`` has it."""
    current = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if branch != current:
        git(repo, "checkout", "-q", "-B", branch)
    folder = repo / "registry"
    folder.mkdir(exist_ok=True)
    (folder / "authority.yaml").write_text(policy)
    (folder / "allowed_signers").write_text(signers)
    git(repo, "add", "registry")
    git(repo, "-c", "commit.gpgsign=false", "commit", "-q", "-m", f"chore: authority policy on {branch}")
    if push:
        git(repo, "push", "-q", "origin", branch)
    if branch != current:
        git(repo, "checkout", "-q", current)


def verify_tag(repo: Path, tag: str, signers_file: Path) -> subprocess.CompletedProcess:
    """``git verify-tag`` with ``signers_file`` as git's allowed signers."""
    return subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={signers_file}", "verify-tag", tag],
                          cwd=repo, capture_output=True, text=True)
