"""Publishing the registry to the team: DVC artifacts first, then tags, atomically, and
linearizable per family.

* :func:`push` (``model-registry push``): every local registry tag the git remote lacks. The
  versions those tags name get their DVC artifacts pushed to the DVC remote first and checked
  there; only then are all the tags pushed with ONE ``git push --atomic``, which also moves
  each family's lease (:mod:`..tags.remote`). When anything fails, no tag is published.
* :func:`promote_and_push` (``model-registry promote ... --push``): read the family's lease,
  fetch its tags, promote on that state, and push the new tags before they exist locally.
  When another clone published first, the lease (or a tag name) rejects the push whole:
  nothing was written anywhere, the state is fetched again and the promotion retried while
  the stage's holder is still the one the command started from; otherwise it says who won.

Unpublished local tags are published only as an extension of the remote's history: their
stage counters and tagger times must be above every tag the remote has of that family.

Only git is used at import time; DVC is imported when artifacts are pushed or checked.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

from ..errors import RegistryError
from ..result import Result
from ..rules.stages import SERVED
from ..tags.names import StageTagName, VersionTagName, parse_tag, version_key
from ..tags.refs import TagRecord
from ..tags.remote import (
    LEASES,
    RemoteRefs,
    fetch_tags,
    local_tag_objects,
    push_atomically,
    remote_refs,
)
from ..tags.repo import Repo
from ..tags.state import VersionInfo, iso
from . import promote as promotion

DEFAULT_GIT_REMOTE = "origin"
MAX_ATTEMPTS = 4  # the first try and three retries after a lost race


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
    from ..dvc.store import missing_in_remote  # imports DVC

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
        try:
            from ..dvc.store import push_revisions  # imports DVC

            pushed = push_revisions(toplevel, commits, dvc_remote)
        except RegistryError as exc:
            still = _still_missing(toplevel, versions, dvc_remote, todo)
            raise RegistryError(f"cannot push the artifacts of {', '.join(still)} to {where}: {exc}; "
                                "no tag published") from None
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


# ---- what is unpublished, and whether it extends the remote's history ---------------------

class LostRace(RegistryError):
    """Another clone published to the family first; nothing was written."""


def unpublished(repo: Repo, family: str, theirs: RemoteRefs) -> List[TagRecord]:
    """The family's local tags the remote lacks; refused when they do not extend the remote's
    history (a counter or tagger time not above every tag the remote has of the family)."""
    repo.family_state(family)
    records = repo._records[family]
    mine = [rec for rec in records if rec.name not in theirs.tags]
    published = [rec for rec in records if rec.name in theirs.tags]
    top_time = max((rec.time for rec in published), default=0)
    top_counter = max((p.counter for rec in published if isinstance(p := parse_tag(rec.name), StageTagName)),
                      default=0)
    behind = [rec.name for rec in mine if rec.time <= top_time or (
        isinstance(p := parse_tag(rec.name), StageTagName) and p.counter <= top_counter)]
    if behind:
        raise RegistryError(
            f"local tag {behind[0]} was written before tags the remote got since (its counter or time is not "
            f"above theirs): it was never published; delete it (git tag -d '{behind[0]}'), then redo the "
            "command on the fetched state; nothing published")
    return mine


def versions_named(fam, names) -> List[VersionInfo]:
    """The versions whose tags (version or stage) are among ``names``."""
    versions = {}
    for name in names:
        parsed = parse_tag(name)
        if isinstance(parsed, VersionTagName):
            info = fam.get(parsed.vstring)
        else:
            info = next((fam.get(e.version) for e in fam.events if e.tag == name), None)
        if info is not None:
            versions[info.tag] = info
    return sorted(versions.values(), key=lambda v: version_key(v.vstring))


def _check_same_content(local: Dict[str, str], theirs: RemoteRefs, remote: str) -> None:
    differ = sorted(n for n in local if n in theirs.tags and theirs.tags[n] != local[n])
    if differ:
        raise RegistryError(
            f"tag {differ[0]} exists on {remote} with other content"
            + (f" (and {len(differ) - 1} more)" if len(differ) > 1 else "")
            + ": someone published it first; yours was never published: delete it "
            f"(git tag -d '{differ[0]}'), fetch the tags and redo the command; nothing published")


def _refspecs(records) -> List[str]:
    return [f"refs/tags/{rec.name}:refs/tags/{rec.name}" for rec in records]


def _publish_or_raise(toplevel: str, remote: str, refspecs: List[str], leases: Dict[str, str]) -> None:
    outcome = push_atomically(toplevel, remote, refspecs, leases)
    if outcome.ok:
        return
    if outcome.raced:
        raise LostRace(f"another clone published to {remote} first ({outcome.detail}); nothing published")
    raise RegistryError(f"{outcome.detail}; nothing published")


# ---- model-registry push --------------------------------------------------------------------

def push(repo: Repo, remote: str = DEFAULT_GIT_REMOTE, dvc_remote: Optional[str] = None,
         family: Optional[str] = None) -> Result:
    """Publish: artifacts of the unpublished versions, then all their tags and the families'
    leases in one atomic push."""
    theirs = remote_refs(repo.toplevel, remote, family)
    _check_same_content(local_tag_objects(repo.toplevel), theirs, remote)
    fetch_tags(repo.toplevel, remote, family)
    repo.reload()
    families = [family] if family else [f.name for f in repo.all_families()]
    refspecs, leases, versions = [], {}, []
    for name in families:
        mine = unpublished(repo, name, theirs)
        if not mine:
            continue
        newest = max(mine, key=lambda rec: (rec.time, rec.name))
        refspecs += _refspecs(sorted(mine, key=lambda rec: (rec.time, rec.name)))
        refspecs.append(f"{newest.oid}:{LEASES}{name}")
        leases[name] = theirs.leases.get(name, "")
        versions += versions_named(repo.family_state(name), [rec.name for rec in mine])
    res = Result("push", family or "*")
    if not refspecs:
        res.messages.append(f"nothing to publish: every registry tag is on {remote}")
        return res
    res.messages += push_artifacts(repo.toplevel, versions, dvc_remote)
    _publish_or_raise(repo.toplevel, remote, refspecs, leases)
    res.tags = [spec.split(":")[-1].removeprefix("refs/tags/") for spec in refspecs if ":refs/tags/" in spec]
    res.messages.append(f"published {len(res.tags)} tag(s) to {remote} atomically")
    return res


# ---- model-registry promote --push --------------------------------------------------------

class Publisher:
    """Sends a family's prepared tags to the remote before they are written locally."""

    def __init__(self, remote: str, theirs: RemoteRefs, dvc_remote: Optional[str]):
        self.remote, self.theirs, self.dvc_remote = remote, theirs, dvc_remote
        self.published: List[str] = []

    def publish(self, repo: Repo, family: str, group) -> None:
        mine = unpublished(repo, family, self.theirs)
        push_artifacts(repo.toplevel, versions_named(repo.family_state(family), [rec.name for rec in mine]),
                       self.dvc_remote)
        refspecs = _refspecs(mine) + [f"{sha}:refs/tags/{name}" for name, sha in group]
        refspecs.append(f"{group[-1][1]}:{LEASES}{family}")
        _publish_or_raise(repo.toplevel, self.remote, refspecs, {family: self.theirs.leases.get(family, "")})
        self.published = [rec.name for rec in mine] + [name for name, _ in group]


def _holder_tag(repo: Repo, family: str, stage: str):
    ev = repo.family_state(family).newest_event(stage)
    return ev.tag if ev else None


def _winner(repo: Repo, family: str, stage: str, our_version: str) -> str:
    ev = repo.family_state(family).newest_event(stage)
    return (f"{stage} is now {ev.label} by {ev.by} at {iso(ev.time)} (tag {ev.tag}); "
            f"nothing written for {our_version}")


def promote_and_push(repo: Repo, family: str, version: str, stage: str,
                     reason: Optional[str] = None, force: bool = False, skip_staging: bool = False,
                     breaking: bool = False, remote: str = DEFAULT_GIT_REMOTE,
                     dvc_remote: Optional[str] = None, attempts: int = MAX_ATTEMPTS) -> Result:
    """Promote on the remote's current state of the family and publish it in one atomic push,
    retrying after a lost race while the promotion is still valid (module docstring)."""
    seen, retried = None, []
    for attempt in range(1, attempts + 1):
        theirs = remote_refs(repo.toplevel, remote, family)  # the lease first, then the state
        fetch_tags(repo.toplevel, remote, family)
        repo.reload()
        state_stage = repo.stage(stage)
        if attempt == 1:
            seen = _holder_tag(repo, family, state_stage)
        elif state_stage in SERVED and _holder_tag(repo, family, state_stage) != seen:
            raise RegistryError(_winner(repo, family, state_stage, version))
        res, tags = promotion.plan(repo, family, version, stage, reason, force, skip_staging, breaking, dvc_remote)
        prepared = repo.prepare(family, [tags])
        publisher = Publisher(remote, theirs, dvc_remote)
        try:
            publisher.publish(repo, family, prepared.pairs())
        except LostRace as race:
            retried.append(str(race))
            continue
        res.tags = repo.write_prepared(prepared, published=True)
        published = publisher.published
        if retried:
            res.messages.append(f"retried after losing {len(retried)} race(s)")
        res.messages.append(f"published {' '.join(published)} to {remote}")
        res.data["published"] = published
        res.data["attempts"] = attempt
        return res
    raise RegistryError(f"gave up after {attempts} attempts: other clones kept publishing first; nothing written")
