"""Publishing the registry to the team: DVC artifacts first, then tags, atomically.

* :func:`push` (``model-registry push``): every local registry tag that the git remote lacks.
  The versions those tags name get their DVC artifacts pushed to the DVC remote first and
  checked there (``verify.missing_in_remote``); only then are ALL the tags pushed with ONE
  ``git push --atomic``. A tag is never published whose artifacts are not in the DVC remote;
  when anything fails, no tag is published.
* :func:`promote_and_push` (``model-registry promote ... --push``): fetch the tags, promote
  with the rules recomputed on the fetched state, push the new stage tag(s) atomically. When
  another clone published first (the push is rejected: same tag name, the counter ``N`` was
  taken), the tags this command just wrote are deleted locally (they were never published;
  version tags are never touched), the tags are fetched again and the promotion is retried
  while the stage's holder is still the one the command started from and the rules still
  pass; otherwise it reports who won and exits 2.

Only git is used at import time; DVC is imported when artifacts are pushed or checked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from . import gitrefs, lifecycle
from .errors import RegistryError
from .lifecycle import Repo, Result
from .state import SERVED_STAGES, VersionInfo, iso
from .tags import VersionTagName, parse_tag

DEFAULT_GIT_REMOTE = "origin"
MAX_ATTEMPTS = 4  # the first try and three retries after a lost race
# git push --porcelain reasons meaning "someone else published that ref first"
_RACE_REASONS = ("already exists", "fetch first", "stale info", "non-fast-forward")


def _git_env() -> dict:
    # never wait for a password prompt: a push in CI or a test must fail, not hang
    return dict(os.environ, GIT_TERMINAL_PROMPT="0")


def _first_line(text: str, default: str = "") -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    line = (errors or lines or [default])[0]
    return line.removeprefix("fatal: ").removeprefix("error: ")


# ---- git: what the remote has, fetch, atomic push, local delete ----------------------

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


def remote_tag_objects(toplevel: str, remote: str) -> Dict[str, str]:
    """``{tag name: object id}`` of every tag on the git remote (``git ls-remote``)."""
    proc = gitrefs.git(toplevel, "ls-remote", "--tags", "--refs", remote, check=False,
                       env=_git_env())
    if proc.returncode != 0:
        raise RegistryError(f"cannot read the tags of git remote {remote!r}: "
                            f"{_first_line(proc.stderr.decode('utf-8', 'replace'), 'exit ' + str(proc.returncode))}")
    tags = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        oid, _, ref = line.partition("\t")
        if ref.startswith("refs/tags/"):
            tags[ref[len("refs/tags/"):]] = oid
    return tags


def fetch_tags(toplevel: str, remote: str) -> None:
    """``git fetch <remote> 'refs/tags/*:refs/tags/*'``: never overwrites a local tag."""
    proc = gitrefs.git(toplevel, "fetch", "--no-tags", remote, "refs/tags/*:refs/tags/*",
                       check=False, env=_git_env())
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
                            f"{_first_line(err, 'exit ' + str(proc.returncode))}")


@dataclass
class PushOutcome:
    ok: bool
    raced: List[str] = field(default_factory=list)  # refs someone else published first
    detail: str = ""


def rejected_refs(porcelain: str, stderr: str = "") -> tuple[List[str], List[str]]:
    """From `git push --porcelain` output (and its stderr): the tags someone else published
    first, and every other rejection as "<tag>: <reason>"."""
    # When both pushes reach the server at the same instant, the porcelain line only says
    # `[remote rejected] (atomic transaction failed)`; the server's stderr says why.
    locked = set(re.findall(r"cannot lock ref 'refs/tags/([^']+)': reference already exists", stderr))
    raced, reasons = [], []
    for line in porcelain.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0] != "!":
            continue
        ref = parts[1].split(":")[-1].removeprefix("refs/tags/")
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


def push_tags_atomically(toplevel: str, remote: str, names: List[str]) -> PushOutcome:
    """ONE ``git push --atomic`` of ``refs/tags/<name>`` for every name: all land or none."""
    refs = [f"refs/tags/{n}:refs/tags/{n}" for n in names]
    proc = gitrefs.git(toplevel, "push", "--atomic", "--porcelain", "--no-verify", remote, *refs,
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
                                  f"{_first_line(err, 'exit ' + str(proc.returncode))}")


def delete_local_tags(toplevel: str, names: List[str]) -> None:
    """Delete tags this command wrote and never published, in one transaction (each only if
    it still points at what we wrote)."""
    current = local_tag_objects(toplevel)
    lines = ["start"] + [f"delete refs/tags/{n} {current[n]}" for n in names if n in current]
    lines += ["prepare", "commit", ""]
    gitrefs.git(toplevel, "update-ref", "--stdin", input="\n".join(lines).encode())


# ---- DVC: push a version's artifacts and check they are there -----------------------

def _bundle_path(info: VersionInfo) -> str:
    try:
        return info.bundle_path
    except RegistryError as error:
        raise RegistryError(f"{error}; nothing published") from None


def missing_artifacts(toplevel: str, versions: List[VersionInfo],
                      dvc_remote: Optional[str]) -> Dict[str, List[str]]:
    """``{version tag: [missing objects]}`` for the versions whose bundle is incomplete in the
    DVC remote. Raises RegistryError when the remote is unreachable."""
    from .verify import missing_in_remote  # imports DVC

    missing = {}
    for info in versions:
        gaps = missing_in_remote(toplevel, info.commit, _bundle_path(info), remote=dvc_remote)
        if gaps:
            missing[info.tag] = gaps
    return missing


def push_artifacts(toplevel: str, versions: List[VersionInfo], dvc_remote: Optional[str]) -> List[str]:
    """Push the DVC outputs of the versions' commits, then check every bundle is in the DVC
    remote. Returns lines for the user; raises RegistryError (nothing published) otherwise."""
    if not versions or not os.path.isdir(os.path.join(toplevel, ".dvc")):
        return []
    where = f"DVC remote {dvc_remote!r}" if dvc_remote else "the DVC remote"
    todo = missing_artifacts(toplevel, versions, dvc_remote)  # also: is the remote reachable?
    lines = []
    if todo:
        commits = sorted({v.commit for v in versions if v.tag in todo})
        from dvc.repo import Repo as DvcRepo  # lazy: DVC only when something must be pushed

        import logging

        loggers = [logging.getLogger(name) for name in ("dvc", "dvc_data", "dvc_objects")]
        levels = [lg.level for lg in loggers]
        for lg in loggers:  # our own one-line report follows, not DVC's multi-line warnings
            lg.setLevel(logging.CRITICAL)
        try:
            with DvcRepo(toplevel) as dvc_repo:
                pushed = dvc_repo.push(revs=commits, remote=dvc_remote, workspace=False)
        except Exception as exc:  # noqa: BLE001 - network, credentials, missing cache: one line
            still = _still_missing(toplevel, versions, dvc_remote, todo)
            raise RegistryError(f"cannot push the artifacts of {', '.join(still)} to {where}: "
                                f"{_first_line(str(exc), type(exc).__name__)}; no tag published") from None
        finally:
            for lg, lvl in zip(loggers, levels):
                lg.setLevel(lvl)
        lines.append(f"pushed {pushed or 0} DVC object(s) of {', '.join(sorted(todo))} to {where}")
    after = missing_artifacts(toplevel, versions, dvc_remote) if todo else {}
    if after:
        tag, gaps = sorted(after.items())[0]
        raise RegistryError(f"artifacts of {', '.join(sorted(after))} are not in {where} after "
                            f"dvc push ({len(gaps)} missing, e.g. {gaps[0]}; is the DVC cache "
                            "complete? try `dvc fetch` or `dvc repro` at that commit); no tag published")
    lines.append(f"artifacts of {len(versions)} version(s) are in {where}")
    return lines


def _still_missing(toplevel, versions, dvc_remote, todo) -> List[str]:
    try:
        return sorted(missing_artifacts(toplevel, versions, dvc_remote)) or sorted(todo)
    except RegistryError:
        return sorted(todo)


# ---- model-registry push ------------------------------------------------------------

@dataclass
class Pending:
    tags: List[str]  # local registry tags the git remote lacks (names)
    versions: List[VersionInfo]  # versions those tags name: their artifacts go first


def pending(repo: Repo, remote: str, family: Optional[str] = None) -> Pending:
    local = local_tag_objects(repo.toplevel)
    theirs = remote_tag_objects(repo.toplevel, remote)
    differ = sorted(n for n in local if n in theirs and theirs[n] != local[n])
    if differ:
        raise RegistryError(
            f"tag {differ[0]} exists on {remote} with other content"
            + (f" (and {len(differ) - 1} more)" if len(differ) > 1 else "")
            + ": someone published it first; yours was never published: delete it "
            f"(git tag -d '{differ[0]}'), fetch the tags and redo the command; nothing published")
    names = sorted(n for n in local if n not in theirs)
    versions: Dict[str, VersionInfo] = {}
    keep = []
    for name in names:
        parsed = parse_tag(name)
        if family and parsed.family != family:
            continue
        fam = repo.state.family(parsed.family)
        if fam is None:
            continue
        if isinstance(parsed, VersionTagName):
            info = fam.get(parsed.vstring)
        else:
            info = next((fam.get(e.version) for e in fam.events if e.tag == name and e.version), None)
        if info is None:  # a lightweight tag or a stage tag at an unreleased commit
            continue
        keep.append(name)
        versions[info.tag] = info
    # a stage tag must never be published without its version tag
    for info in versions.values():
        if info.tag not in keep and info.tag not in theirs:
            keep.append(info.tag)
    order = sorted(versions.values(), key=lambda v: (v.family, v.version))
    return Pending(sorted(keep, key=_push_order), order)


def _push_order(name: str):
    parsed = parse_tag(name)
    return (parsed.family, 0 if isinstance(parsed, VersionTagName) else 1, name)


def push(repo: Repo, remote: str = DEFAULT_GIT_REMOTE, dvc_remote: Optional[str] = None,
         family: Optional[str] = None) -> Result:
    """Publish: artifacts of the unpublished versions, then all their tags in one atomic push."""
    todo = pending(repo, remote, family)
    res = Result("push", family or "*")
    if not todo.tags:
        res.messages.append(f"nothing to publish: every registry tag is on {remote}")
        return res
    res.messages += push_artifacts(repo.toplevel, todo.versions, dvc_remote)
    outcome = push_tags_atomically(repo.toplevel, remote, todo.tags)
    if not outcome.ok:
        raise RegistryError(f"{outcome.detail}; no tag published"
                            + (": fetch the tags and check `model-registry show`" if outcome.raced else ""))
    res.tags = todo.tags
    res.messages.append(f"published {len(todo.tags)} tag(s) to {remote} atomically")
    return res


# ---- model-registry promote --push --------------------------------------------------

def _event_key(repo: Repo, family: str, stage: str):
    fam = repo.state.family(family)
    ev = fam.newest_event(stage) if fam else None
    return ev.tag if ev else None


def _winner(repo: Repo, family: str, stage: str, our_version: str) -> str:
    fam = repo.state.family(family)
    ev = fam.newest_event(stage)
    return (f"{stage} is now {ev.label} by {ev.by} at {iso(ev.time)} (tag {ev.tag}); "
            f"nothing written for {our_version}")


def promote_and_push(path: Optional[str], family: str, version: str, stage: str,
                     reason: Optional[str] = None, force: bool = False, skip_staging: bool = False,
                     artifacts_check: Optional[Callable] = None, remote: str = DEFAULT_GIT_REMOTE,
                     dvc_remote: Optional[str] = None, attempts: int = MAX_ATTEMPTS) -> Result:
    """Promote on the freshly fetched state and publish the new tag(s) atomically, retrying
    after a lost race while the promotion is still valid (see the module docstring)."""
    repo = Repo(path)
    fetch_tags(repo.toplevel, remote)
    repo.reload()
    fam = repo.family(family)
    info = repo.version(fam, version)
    stage = repo.stage(stage)
    # the holder this promotion replaces: if another clone changes it first, we stop
    seen = _event_key(repo, family, stage) if stage in SERVED_STAGES else None
    retried = []
    for attempt in range(1, attempts + 1):
        res = lifecycle.promote(repo, family, version, stage, reason, force, skip_staging,
                                artifacts_check)
        written = list(res.tags)
        try:
            names = list(written)
            theirs = remote_tag_objects(repo.toplevel, remote)
            if info.tag not in theirs:  # never publish a stage tag without its version
                push_artifacts(repo.toplevel, [info], dvc_remote)
                names.insert(0, info.tag)
            outcome = push_tags_atomically(repo.toplevel, remote, names)
        except BaseException:
            delete_local_tags(repo.toplevel, written)
            raise
        if outcome.ok:
            if retried:
                res.messages.append(f"retried after losing a race ({'; '.join(retried)})")
            res.messages.append(f"published {' '.join(names)} to {remote}")
            res.data["published"] = names
            res.data["attempts"] = attempt
            return res
        delete_local_tags(repo.toplevel, written)  # never published: ours to remove
        if not outcome.raced:
            raise RegistryError(f"{outcome.detail}; nothing published (the local tags were removed)")
        retried.append(outcome.detail)
        fetch_tags(repo.toplevel, remote)
        repo.reload()
        if stage in SERVED_STAGES and _event_key(repo, family, stage) != seen:
            raise RegistryError(_winner(repo, family, stage, info.vstring))
    raise RegistryError(f"gave up after {attempts} attempts: other clones kept publishing first "
                        f"({retried[-1]}); nothing written")
