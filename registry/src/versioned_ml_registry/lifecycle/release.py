"""``release``: write ``<family>@vX.Y.Z`` (+ ``<family>#candidate#N`` when the candidate gates
passed) for a proposal, after checking everything; all tags in one transaction or none."""

from __future__ import annotations

from typing import Optional

from ..errors import RegistryError
from ..result import Result
from ..rules.bump import Bump, next_version
from ..rules.gates import lock_mismatches
from ..rules.stages import Stage
from ..tags import refs as gitrefs
from ..tags.annotation import stage_assignment, version_message
from ..tags.names import validate_family, version_tag
from ..tags.refs import NewTag
from ..tags.remote import remote_refs
from ..tags.repo import Repo


def require_committed(repo: Repo) -> None:
    if gitrefs.porcelain_status(repo.toplevel).strip():
        raise RegistryError("the workspace has uncommitted changes: commit them first")


def check_releasable(repo: Repo) -> None:
    """The workspace must be committed, and (in a DVC repository) match dvc.lock, so the tag
    pins exactly what was built. ``api.release`` runs this before deriving the proposal;
    ``release`` itself re-checks only the cheap half (``dvc status`` takes a second)."""
    require_committed(repo)
    changed = lock_mismatches(repo.toplevel)
    if changed:
        raise RegistryError(f"dvc.lock does not match the workspace ({changed[0]}): "
                            "run `dvc repro` and commit dvc.lock")


def _ever_named(repo: Repo, fam, remote: Optional[str]) -> set:
    """Every version any tag of the family has named: stage tags, tag objects still in the
    object store (a deleted tag's, until garbage collection) and the git remote's tags. A
    deleted version tag's number stays used."""
    named = set(fam.versions)
    named.update(v for ev in fam.events if isinstance(v := ev.meta.get("version"), str))
    named.update(name.split("@", 1)[1] for name in gitrefs.tag_objects_named(repo.toplevel, f"{fam.name}@v"))
    if remote and remote in gitrefs.git(repo.toplevel, "remote").stdout.decode().split():
        try:
            theirs = remote_refs(repo.toplevel, remote, fam.name).tags
        except RegistryError as error:
            raise RegistryError(f"{error}: the version number must be new there too; fix the remote, "
                                "or release with --offline") from None
        named.update(name.split("@", 1)[1] for name in theirs if "@" in name)
    return named


def _choose_bump(evidence: Bump, requested: Optional[str], current, force: bool, reason) -> tuple[Bump, Optional[dict]]:
    """The bump to release and, when a human lowered the evidence, the record of it."""
    if requested is None:
        return evidence, None
    bump = Bump.parse(requested)
    if bump is Bump.NONE:
        raise RegistryError(f"invalid bump {requested!r}: expected major, minor or patch")
    # compare the versions the bumps lead to: under 0.y.z a MAJOR and a MINOR give the same
    wanted = next_version(current, bump, explicit_major=bump is Bump.MAJOR)
    if evidence is not Bump.NONE and wanted < next_version(current, evidence):
        if not force:
            raise RegistryError(f"--bump {bump.label} is lower than the evidence ({evidence.label}); "
                                "use --force --reason \"...\" to override")
        return bump, {"from": evidence.label, "reason": reason}
    return bump, None


def release(repo: Repo, family: str, proposal, bump: Optional[str] = None, force: bool = False,
            reason: Optional[str] = None, commit: str = "HEAD", if_changed: bool = False,
            remote: Optional[str] = None) -> Result:
    """Tag ``commit`` as the family's next version for ``proposal`` (see :mod:`.propose`);
    the caller has run ``check_releasable`` before deriving the proposal.

    ``if_changed``: an identical bundle is a release of nothing, not an error (CI on every
    merge); every other check still applies."""
    validate_family(family)
    if proposal.family != family:
        raise RegistryError(f"proposal is for family {proposal.family!r}, not {family!r}")
    if force and not reason:
        raise RegistryError("--force needs --reason")
    require_committed(repo)
    if proposal.identical_to:
        nothing = f"the {family} bundle is identical to {proposal.identical_to}: nothing to release"
        if if_changed:
            return Result("release", family, version=proposal.identical_to, messages=[nothing])
        raise RegistryError(nothing)
    fam = repo.family_state(family)
    repo.require_consistent(fam)
    highest = fam.highest()
    current = highest.version if highest else None
    evidence = Bump.parse(proposal.bump)
    chosen, forced = _choose_bump(evidence, bump, current, force, reason)
    if highest is not None and chosen is Bump.NONE:
        raise RegistryError(f"no change to release for {family} (no bump derived)")
    head = gitrefs.rev_parse_commit(repo.toplevel, commit)
    if head is None:
        raise RegistryError(f"no commit at {commit}: commit first")
    at = [v.vstring for v in fam.versions.values() if v.commit == head]
    if at:
        raise RegistryError(f"{commit} is already released as {family} {at[0]}")
    new = next_version(current, chosen, explicit_major=bump is not None and chosen is Bump.MAJOR)
    vstring = f"v{new}"
    if vstring in _ever_named(repo, fam, remote):
        raise RegistryError(f"{family} {vstring} was named before (by a stage tag, a deleted tag or the git remote) "
                            "though its version tag is gone here: version numbers are never reused; "
                            "release with a higher --bump")
    by = repo.who()
    body = {"event": "release", "family": family, "version": vstring, "by": by,
            "bump": chosen.label if highest else "initial", "reasons": list(proposal.reasons or [])}
    if bump is not None and chosen is not evidence:
        body.update(requested_bump=chosen.label, evidence_bump=evidence.label)
    if forced:
        body["forced"] = forced
    body["gates"] = {"passed": bool(proposal.gates_passed), "report": list(proposal.gate_report or [])}
    for key, value in (proposal.provenance or {}).items():
        body.setdefault(key, value)
    tags = [NewTag(version_tag(family, new), head, version_message(family, vstring, body))]
    if proposal.gates_passed:
        tags.append(stage_assignment(fam, vstring, head, Stage.CANDIDATE, fam.next_counter, "release", by,
                                     reason or "gates passed at release"))
    res = Result("release", family, repo.write(family, tags), vstring)
    res.messages.append(f"released {family} {vstring} ({body['bump']}) at {head[:12]}")
    if not proposal.gates_passed:
        res.messages.append("gates did not pass: not a candidate (" + "; ".join(body["gates"]["report"]) + ")")
    return res
