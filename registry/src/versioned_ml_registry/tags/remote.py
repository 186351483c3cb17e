"""The git remote: which registry tags and family leases it has, fetching tags, and one
atomic push. Plain git; nothing else.

A family's lease is the ref ``refs/registry/<family>`` on the remote, moved to the newest tag
object at every publication of that family's tags, with ``--force-with-lease`` on the value
read before the family's state was fetched: a push built on a state someone else has since
changed is rejected whole, so publications of one family are linearizable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..errors import RegistryError
from . import refs as gitrefs
from .names import parse_tag

# git push --porcelain reasons meaning "someone else published that ref first"
_RACE_REASONS = ("already exists", "fetch first", "stale info", "non-fast-forward")


def _git_env() -> dict:
    # never wait for a password prompt: a push in CI or a test must fail, not hang
    return dict(os.environ, GIT_TERMINAL_PROMPT="0")


def first_line(text: str, default: str = "") -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    line = (errors or lines or [default])[0]
    return line.removeprefix("fatal: ").removeprefix("error: ")


def local_tag_objects(toplevel: str) -> Dict[str, str]:
    """``{tag name: object id}`` of the local registry tags (one for-each-ref)."""
    out = gitrefs.git(toplevel, "for-each-ref", "--format=%(objectname) %(refname)",
                      "refs/tags").stdout.decode("utf-8", "replace")
    tags = {}
    for line in out.splitlines():
        oid, _, ref = line.partition(" ")
        name = ref[len("refs/tags/"):]
        if parse_tag(name) is not None:
            tags[name] = oid
    return tags


LEASES = "refs/registry/"


@dataclass
class RemoteRefs:
    tags: Dict[str, str]  # tag name -> object id
    leases: Dict[str, str]  # family -> the object its lease ref points at


def remote_refs(toplevel: str, remote: str, family: Optional[str] = None) -> RemoteRefs:
    """The registry tags and leases on the git remote (one ``git ls-remote``), of one family
    or of all."""
    patterns = ([f"refs/tags/{family}@*", f"refs/tags/{family}#*", f"{LEASES}{family}"] if family
                else ["refs/tags/*", f"{LEASES}*"])
    proc = gitrefs.git(toplevel, "ls-remote", "--refs", remote, *patterns, check=False, env=_git_env())
    if proc.returncode != 0:
        raise RegistryError(f"cannot read the tags of git remote {remote!r}: "
                            f"{first_line(proc.stderr.decode('utf-8', 'replace'), 'exit ' + str(proc.returncode))}")
    found = RemoteRefs({}, {})
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        oid, _, ref = line.partition("\t")
        if ref.startswith("refs/tags/"):
            found.tags[ref[len("refs/tags/"):]] = oid
        elif ref.startswith(LEASES):
            found.leases[ref[len(LEASES):]] = oid
    return found


def remote_tag_objects(toplevel: str, remote: str) -> Dict[str, str]:
    """``{tag name: object id}`` of every tag on the git remote."""
    return remote_refs(toplevel, remote).tags


def fetch_tags(toplevel: str, remote: str, family: Optional[str] = None) -> None:
    """Fetch the remote's tags (of one family, or all): never overwrites a local tag."""
    specs = ([f"refs/tags/{family}@*:refs/tags/{family}@*", f"refs/tags/{family}#*:refs/tags/{family}#*"]
             if family else ["refs/tags/*:refs/tags/*"])
    proc = gitrefs.git(toplevel, "fetch", "--no-tags", remote, *specs, check=False, env=_git_env())
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        # e.g. " ! [rejected]   m#production#3 -> m#production#3  (would clobber existing tag)"
        clobber = [match.group(1) for ln in err.splitlines() if "would clobber existing tag" in ln
                   for match in [re.search(r"\]\s+(\S+)\s+->", ln)] if match]
        if clobber:
            raise RegistryError(
                f"local tag {clobber[0]} differs from the one on {remote}: yours was never "
                f"published; delete it (git tag -d '{clobber[0]}') and run the command again")
        raise RegistryError(f"cannot fetch the tags of git remote {remote!r}: "
                            f"{first_line(err, 'exit ' + str(proc.returncode))}")


@dataclass
class PushOutcome:
    ok: bool
    raced: List[str] = field(default_factory=list)  # refs someone else published first
    detail: str = ""


def rejected_refs(porcelain: str, stderr: str = "") -> tuple[List[str], List[str]]:
    """From `git push --porcelain` output (and its stderr): the refs someone else changed
    first (a tag published, a lease moved), and every other rejection as "<ref>: <reason>"."""
    # When both pushes reach the server at the same instant, the porcelain line only says
    # `[remote rejected] (atomic transaction failed)`; the server's stderr says why.
    locked = {short(ref) for ref in re.findall(
        r"cannot lock ref '(refs/[^']+)': (?:reference already exists|is at \w+ but expected)", stderr)}
    raced, reasons = [], []
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] != "!":
            continue
        ref = short(parts[1].split(":")[-1])
        reason = parts[2]
        if "atomic push failed" in reason:
            continue
        # Someone published the same tag first: `[rejected] (already exists)` when git saw the
        # ref before sending, or a remote rejection whose lock failed on an existing ref.
        if "[rejected]" in reason and any(r in reason for r in _RACE_REASONS) or (
                "[remote rejected]" in reason and ref in locked):
            raced.append(ref)
        else:
            reasons.append(f"{ref}: {reason}")
    return raced, reasons


def short(ref: str) -> str:
    return ref.removeprefix("refs/tags/")


def push_atomically(toplevel: str, remote: str, refspecs: List[str], leases: Dict[str, str]) -> PushOutcome:
    """ONE ``git push --atomic`` of ``refspecs``, each family lease in ``leases`` (family ->
    the value read before, "" for none) checked and moved with it: all land or none."""
    options = [f"--force-with-lease={LEASES}{family}:{expected}" for family, expected in sorted(leases.items())]
    proc = gitrefs.git(toplevel, "push", "--atomic", "--porcelain", "--no-verify", *options, remote, *refspecs,
                       check=False, env=_git_env())
    if proc.returncode == 0:
        return PushOutcome(True)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    raced, reasons = rejected_refs(out, err)
    if raced:
        return PushOutcome(False, raced, f"already on {remote}: {', '.join(raced)}")
    if reasons:
        hook = [ln.removeprefix("remote: ").strip() for ln in err.splitlines()
                if ln.startswith("remote: ") and ln.removeprefix("remote: ").strip()]
        detail = reasons[0] + (f" ({hook[0]})" if hook else "")
        return PushOutcome(False, [], f"{remote} rejected the push: {detail}")
    return PushOutcome(False, [], f"git push to {remote!r} failed: "
                                  f"{first_line(err, 'exit ' + str(proc.returncode))}")
