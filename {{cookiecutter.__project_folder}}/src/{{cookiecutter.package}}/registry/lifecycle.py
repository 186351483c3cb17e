"""Lifecycle commands: release, promote, rollback, drill, deprecate, archive.

Every command reads the tags once, checks everything, then writes all its tags in one
``git update-ref --stdin`` transaction: all of them or none. Bad input raises
:class:`RegistryError` before anything is written.

Order: candidate -> staging -> (canary ->) production; shadow from candidate or staging.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import semver

from . import gitrefs
from .errors import RegistryError
from .gitrefs import NewTag
from .state import FamilyState, RegistryState, VersionInfo
from .tags import (
    load_stages,
    parse_version,
    stage_tag,
    validate_family,
    validate_stage,
    version_tag,
)

BUMPS = ("patch", "minor", "major")
ORDERED = ("candidate", "staging", "canary", "production")

# artifacts_check(toplevel, family, version_info) -> None when the artifacts are in the
# DVC remote, else a one-line problem (or raise RegistryError). Plugged in by the caller
# because it needs DVC; None means "not checked".
ArtifactsCheck = Callable[[str, str, VersionInfo], Optional[str]]


def _dump_yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def version_message(family: str, vstring: str, body: dict) -> str:
    return f"Registering artifact {family} version {vstring}\n\n{_dump_yaml(body)}"


def stage_message(family: str, vstring: str, stage: str, body: dict) -> str:
    return f"Assigning stage {stage} to artifact {family} version {vstring}\n\n{_dump_yaml(body)}"


@dataclass
class Result:
    """What a command wrote, plus lines for the user."""

    command: str
    family: str
    tags: List[str] = field(default_factory=list)
    version: Optional[str] = None
    messages: List[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = {"command": self.command, "family": self.family, "version": self.version,
             "tags": self.tags, "messages": self.messages}
        d.update(self.data)
        return d


class Repo:
    """A git repository seen through the registry. Reads all tags once on creation."""

    def __init__(self, path: Optional[str] = None, *, now: Optional[Callable[[], float]] = None):
        self.toplevel = gitrefs.find_toplevel(path)
        self.stages = load_stages(self.toplevel)
        self._now = now or _time.time
        self.reload()

    def reload(self) -> "Repo":
        self.state = RegistryState(gitrefs.read_tags(self.toplevel), self.stages)
        return self

    # ---- lookups --------------------------------------------------------------------
    def family(self, name: str) -> FamilyState:
        validate_family(name)
        fam = self.state.family(name)
        if fam is None:
            known = ", ".join(sorted(self.state.families)) or "none"
            raise RegistryError(f"unknown family {name!r} (known: {known})")
        return fam

    def version(self, fam: FamilyState, version: str) -> VersionInfo:
        vstring = "v" + str(parse_version(version))
        info = fam.get(vstring)
        if info is None:
            raise RegistryError(f"{fam.name} {vstring} was never released")
        return info

    def stage(self, stage: str) -> str:
        return validate_stage(stage, self.stages)

    def who(self) -> str:
        name, email = gitrefs.identity(self.toplevel)
        return f"{name} <{email}>"

    # ---- writing --------------------------------------------------------------------
    def write(self, fam_name: str, tags: Sequence[NewTag]) -> List[str]:
        """Time-stamp ``tags`` (strictly increasing within the family) and write atomically."""
        who = gitrefs.identity(self.toplevel)
        fam = self.state.family(fam_name)
        last = fam.last_time if fam else 0
        t = max(int(self._now()), last + 1)
        for tag in tags:
            tag.time = t
            t += 1
        gitrefs.write_tags(self.toplevel, tags, who)
        return [t.name for t in tags]


def _stage_tag(repo: Repo, fam: FamilyState, info: VersionInfo, stage: str, counter: int,
               event: str, by: str, reason: Optional[str], extra: Optional[dict] = None,
               from_stage: Optional[str] = "__auto__") -> NewTag:
    if from_stage == "__auto__":
        from_stage = fam.status(info.vstring)
    body = {
        "registry": 1, "event": event, "family": fam.name, "version": info.vstring,
        "stage": stage, "from_stage": from_stage, "by": by, "reason": reason,
    }
    if extra:
        body.update(extra)
    return NewTag(stage_tag(fam.name, stage, counter), info.commit,
                  stage_message(fam.name, info.vstring, stage, body))


# ====================================================================================
# release
# ====================================================================================

def next_version(current: Optional["semver.Version"], bump: Optional[str],
                 explicit_major: bool = False) -> "semver.Version":
    """The version after ``current`` for ``bump``.

    * first release: ``0.1.0`` whatever the bump;
    * 0.y.z policy: while the family is below 1.0.0, a MAJOR bump derived from the evidence
      (a breaking signature change) goes to the next MINOR (``0.3.1`` -> ``0.4.0``), as the
      SemVer spec allows for initial development. Going to ``1.0.0`` is a human decision:
      ``release --bump major`` (explicit) does it. From ``1.0.0`` on, bumps are plain SemVer.
    """
    if current is None:
        return semver.Version(0, 1, 0)
    if bump == "major":
        if current.major == 0 and not explicit_major:
            return current.bump_minor()
        return current.bump_major()
    if bump == "minor":
        return current.bump_minor()
    if bump == "patch":
        return current.bump_patch()
    raise RegistryError(f"invalid bump {bump!r}: expected major, minor or patch")


def release(repo: Repo, family: str, proposal, bump_override: Optional[str] = None,
            force: bool = False, reason: Optional[str] = None,
            preflight: Optional[Callable[[Repo], None]] = None,
            commit: str = "HEAD", if_changed: bool = False) -> Result:
    """Write ``<family>@vX.Y.Z`` (+ ``<family>#candidate#N`` when the gates passed).

    ``proposal`` has ``family``, ``bump``, ``reasons``, ``identical_to``, ``provenance``,
    ``gates_passed`` and ``gate_report``. ``preflight(repo)`` runs extra checks (DVC status)
    and raises RegistryError to refuse. ``if_changed``: an identical bundle is not an error
    but a release of nothing (for CI on every merge); every other check still applies.
    """
    validate_family(family)
    if getattr(proposal, "family", family) != family:
        raise RegistryError(f"proposal is for family {proposal.family!r}, not {family!r}")
    # The workspace first: a proposal read from an uncommitted or unreproduced workspace says
    # nothing about what would be tagged.
    if gitrefs.porcelain_status(repo.toplevel).strip():
        raise RegistryError("the workspace has uncommitted changes: commit them first")
    if preflight is not None:
        preflight(repo)
    if getattr(proposal, "identical_to", None):
        nothing = f"the {family} bundle is identical to {proposal.identical_to}: nothing to release"
        if if_changed:
            return Result("release", family, version=proposal.identical_to, messages=[nothing])
        raise RegistryError(nothing)
    if bump_override is not None and bump_override not in BUMPS:
        raise RegistryError(f"invalid bump {bump_override!r}: expected major, minor or patch")
    if force and not reason:
        raise RegistryError("--force needs --reason")
    fam = repo.state.family(family)
    evidence = getattr(proposal, "bump", None)
    if evidence is not None and evidence not in BUMPS:
        raise RegistryError(f"proposal has an invalid bump {evidence!r}")
    forced = None
    bump = evidence
    highest = fam.highest() if fam else None
    if bump_override is not None:
        # Compare the versions the bumps lead to: under 0.y.z a MAJOR and a MINOR give the same.
        current = highest.version if highest else None
        wanted = next_version(current, bump_override, explicit_major=(bump_override == "major"))
        if evidence and wanted < next_version(current, evidence):
            if not force:
                raise RegistryError(
                    f"--bump {bump_override} is lower than the evidence ({evidence}); "
                    "use --force --reason \"...\" to override"
                )
            forced = {"from": evidence, "reason": reason}
        bump = bump_override
    if highest is not None and bump is None:
        raise RegistryError(f"no change to release for {family} (no bump derived)")
    head = gitrefs.rev_parse_commit(repo.toplevel, commit)
    if head is None:
        raise RegistryError(f"no commit at {commit}: commit first")
    if fam is not None:
        at = [v.vstring for v in fam.versions.values() if v.commit == head]
        if at:
            raise RegistryError(f"{commit} is already released as {family} {at[0]}")
    new = next_version(highest.version if highest else None, bump,
                       explicit_major=(bump_override == "major"))
    vstring = "v" + str(new)
    by = repo.who()
    body = {
        "registry": 1, "event": "release", "family": family, "version": vstring, "by": by,
        "bump": bump if highest else "initial",
        "reasons": list(getattr(proposal, "reasons", None) or []),
    }
    if bump_override is not None and bump_override != evidence:
        body["requested_bump"] = bump_override
        body["evidence_bump"] = evidence
    if forced:
        body["forced"] = forced
    body["gates"] = {"passed": bool(getattr(proposal, "gates_passed", False)),
                     "report": list(getattr(proposal, "gate_report", None) or [])}
    for k, v in (getattr(proposal, "provenance", None) or {}).items():
        if k not in body:
            body[k] = v
    tags = [NewTag(version_tag(family, new), head, version_message(family, vstring, body))]
    if body["gates"]["passed"]:
        counter = fam.next_counter if fam else 1
        sbody = {"registry": 1, "event": "release", "family": family, "version": vstring,
                 "stage": "candidate", "from_stage": None, "by": by,
                 "reason": reason or "gates passed at release"}
        tags.append(NewTag(stage_tag(family, "candidate", counter), head,
                           stage_message(family, vstring, "candidate", sbody)))
    written = repo.write(family, tags)
    res = Result("release", family, written, vstring)
    res.messages.append(f"released {family} {vstring} ({body['bump']}) at {head[:12]}")
    if not body["gates"]["passed"]:
        res.messages.append("gates did not pass: not a candidate (" +
                            "; ".join(body["gates"]["report"]) + ")")
    return res


# ====================================================================================
# promote
# ====================================================================================

def _threshold_failures(repo: Repo, info: VersionInfo) -> List[str]:
    """Compare the version's metrics with ``registry.gates.production`` in params.yaml as
    committed at HEAD: the gates in force now, which a version's own commit cannot loosen."""
    text = gitrefs.read_blob(repo.toplevel, "HEAD", "params.yaml")
    if not text:
        return []
    import yaml

    try:
        params = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return ["params.yaml at HEAD is not valid YAML"]
    gates = (((params.get("registry") or {}) if isinstance(params, dict) else {})
             .get("gates") or {}).get("production") or {}
    if not isinstance(gates, dict):
        return []
    metrics = info.meta.get("metrics") or {}
    failures = []
    for name, spec in gates.items():
        value = _lookup(metrics, name)
        lo, hi = (spec.get("min"), spec.get("max")) if isinstance(spec, dict) else (spec, None)
        if any(bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float)))
               for bound in (lo, hi)):
            raise RegistryError(f"registry.gates.production.{name} in params.yaml must be a number, "
                                f"not {spec!r}: fix conf/registry/")
        if value is None:
            failures.append(f"metric {name} missing (needs {'>= ' + str(lo) if lo is not None else '<= ' + str(hi)})")
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            failures.append(f"metric {name}={value!r} is not a number")
            continue
        if lo is not None and value < float(lo):
            failures.append(f"{name} {value:g} < {float(lo):g}")
        if hi is not None and value > float(hi):
            failures.append(f"{name} {value:g} > {float(hi):g}")
    return failures


def _lookup(metrics, dotted: str):
    if not isinstance(metrics, dict):
        return None
    if dotted in metrics:
        return metrics[dotted]
    cur = metrics
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def promote(repo: Repo, family: str, version: str, stage: str, reason: Optional[str] = None,
            force: bool = False, skip_staging: bool = False,
            artifacts_check: Optional[ArtifactsCheck] = None) -> Result:
    """Assign ``stage`` to ``version``.

    Rules: the version must be released; candidate -> staging -> (canary ->) production;
    shadow from candidate or staging; a deprecated or archived version needs ``force``;
    no canary for the version already in production; production needs the version to have
    held staging (or ``skip_staging`` with a reason), its metrics to meet
    ``registry.gates.production`` from params.yaml at its commit, and (when
    ``artifacts_check`` is given) its artifacts in the DVC remote. ``force`` (with a reason)
    overrides the order and the metric gates, never the artifacts check; it is recorded.
    Promoting to production while a canary is live ends the canary: canary := the new
    production version, in the same transaction.
    """
    fam = repo.family(family)
    info = repo.version(fam, version)
    stage = repo.stage(stage)
    v = info.vstring
    if force and not reason:
        raise RegistryError("--force needs --reason")
    if skip_staging and not reason:
        raise RegistryError("--skip-staging needs --reason")
    if stage in ("deprecated", "archived"):
        return _retire(repo, family, v, stage, reason, force=force)
    status = fam.status(v)
    if status in ("deprecated", "archived") and not force:
        raise RegistryError(f"{family} {v} is {status}: promoting it needs --force --reason")
    prod = fam.holder("production")
    if stage == "canary" and prod == v:
        raise RegistryError(
            f"{family} {v} is already in production: a canary must be another version"
            + (" (to end the live canary use abort-canary)" if fam.canary_live else "")
        )
    if stage in ("staging", "canary", "production") and fam.holder(stage) == v:
        raise RegistryError(f"{family} {v} already holds {stage}")
    if stage == "candidate" and status == "candidate":
        raise RegistryError(f"{family} {v} is already a candidate")
    problems: List[str] = []

    def ever(held_stage: str) -> bool:
        return fam.held(v, held_stage)

    gates = info.meta.get("gates")
    if stage == "candidate" and isinstance(gates, dict) and gates.get("passed") is False:
        problems.append(f"{family} {v} did not pass the candidate gates at release")
    if stage == "staging" and not (ever("candidate") or ever("staging") or ever("production")):
        problems.append(f"{family} {v} was never a candidate (candidate -> staging)")
    elif stage == "canary" and not ever("staging"):
        problems.append(f"{family} {v} never held staging (staging -> canary)")
    elif stage == "shadow" and status not in ("candidate", "staging"):
        problems.append(f"shadow needs a candidate or staging version; {family} {v} is {status or 'unassigned'}")
    elif stage == "production":
        if not ever("staging"):
            if skip_staging:
                if not (ever("candidate") or ever("production")):
                    problems.append(f"{family} {v} was never a candidate")
            else:
                problems.append(
                    f"{family} {v} never held staging: promote it to staging first or use "
                    "--skip-staging --reason \"...\""
                )
        problems += [f"gate: {p}" for p in _threshold_failures(repo, info)]
    if problems and not force:
        raise RegistryError("; ".join(problems))
    if stage == "production" and artifacts_check is not None:
        problem = artifacts_check(repo.toplevel, family, info)
        if problem:
            raise RegistryError(f"gate: {problem}")
    by = repo.who()
    extra = {}
    if force and (problems or status in ("deprecated", "archived")):
        extra["forced"] = {"overrode": problems or [f"status {status}"], "reason": reason}
    if skip_staging and stage == "production" and not ever("staging"):
        extra["skipped_staging"] = True
    n = fam.next_counter
    tags = []
    res = Result("promote", family, version=v)
    canary = fam.holder("canary") if stage == "production" else None
    if canary is not None and canary != v:
        # no split may remain: canary := the new production version (written first so the
        # version's status stays "production")
        tags.append(_stage_tag(repo, fam, info, "canary", n, "promote", by,
                               reason or f"canary follows production ({v})"))
        n += 1
        if fam.canary_live and canary != v:
            res.messages.append(f"the live canary ({canary}) is ended: canary := {v}")
    tags.append(_stage_tag(repo, fam, info, stage, n, "promote", by, reason, extra,
                           from_stage=status))
    res.tags = repo.write(family, tags)
    res.messages.insert(0, f"{family} {v} -> {stage}" + (f" (was {status})" if status else ""))
    return res


def abort_canary(repo: Repo, family: str, reason: str) -> Result:
    """End a live canary: canary := the production version."""
    fam = repo.family(family)
    if not reason:
        raise RegistryError("abort-canary needs --reason")
    if not fam.canary_live:
        raise RegistryError(f"{family} has no live canary")
    prod = fam.holder("production")
    if prod is None or fam.get(prod) is None:
        raise RegistryError(f"{family} has no production version to return the canary to")
    info = fam.get(prod)
    old = fam.holder("canary")
    tag = _stage_tag(repo, fam, info, "canary", fam.next_counter, "abort-canary",
                     repo.who(), reason, from_stage="production")
    res = Result("abort-canary", family, repo.write(family, [tag]), prod)
    res.messages.append(f"{family} canary {old} ended: canary := {prod} (production)")
    return res


# ====================================================================================
# rollback / drill
# ====================================================================================

def previous_production(fam: FamilyState) -> Optional[str]:
    """The production holder before the current one, skipping the current version and
    versions since deprecated or archived."""
    current = fam.holder("production")
    for ev in reversed(fam.holders_sequence("production")):
        if ev.version is None or ev.version == current:
            continue
        if fam.status(ev.version) in ("deprecated", "archived"):
            continue
        return ev.version
    return None


def verify_hints(family: str) -> List[str]:
    return [
        "verify with any of:",
        f"  model-registry resolve {family} --stage production",
        f"  gto show '{family}#production' --version",
        f"  dvc artifacts get . {family} --stage production",
    ]


def _rollback_tags(repo: Repo, fam: FamilyState, target: VersionInfo, current: Optional[str],
                   event: str, by: str, reason: str, counter: int) -> List[NewTag]:
    tags = []
    status = fam.status(target.vstring)
    canary = fam.holder("canary")
    if canary is not None and canary == current:
        # the canary was not live: keep it aligned with production (written first so the
        # target's status is "production")
        tags.append(_stage_tag(repo, fam, target, "canary", counter, event, by, reason))
        counter += 1
    tags.append(_stage_tag(repo, fam, target, "production", counter, event, by, reason,
                           from_stage=status))
    return tags


def rollback(repo: Repo, family: str, to: Optional[str] = None, reason: Optional[str] = None,
             force: bool = False) -> Result:
    """production := the previous production holder (or ``to``); the rolled-back version
    becomes ``deprecated``; all in one transaction."""
    fam = repo.family(family)
    if not reason:
        raise RegistryError("rollback needs --reason")
    current = fam.holder("production")
    if current is None:
        raise RegistryError(f"{family} has no production version to roll back")
    if to is not None:
        target = repo.version(fam, to)
        if target.vstring == current:
            raise RegistryError(f"{family} {target.vstring} is already in production")
        if not fam.held(target.vstring, "production") and not force:
            raise RegistryError(
                f"{family} {target.vstring} was never in production: use --force to roll back to it"
            )
        st = fam.status(target.vstring)
        if st in ("deprecated", "archived") and not force:
            raise RegistryError(f"{family} {target.vstring} is {st}: use --force to roll back to it")
    else:
        prev = previous_production(fam)
        if prev is None:
            raise RegistryError(f"{family} has no previous production version to roll back to")
        target = fam.get(prev)
    by = repo.who()
    n = fam.next_counter
    tags = _rollback_tags(repo, fam, target, current, "rollback", by, reason, n)
    cur_info = fam.get(current)
    if cur_info is not None:
        tags.append(_stage_tag(repo, fam, cur_info, "deprecated", n + len(tags), "rollback",
                               by, reason, from_stage=fam.status(current)))
    res = Result("rollback", family, repo.write(family, tags), target.vstring)
    res.data["from"] = current
    res.messages.append(f"{family} production: {current} -> {target.vstring}; {current} deprecated")
    res.messages += verify_hints(family)
    return res


def drill(repo: Repo, family: str, reason: Optional[str] = None) -> Result:
    """Roll back to the previous production version, verify, roll forward, verify.

    Deprecates nothing. Prints the time of each step."""
    fam = repo.family(family)
    current = fam.holder("production")
    if current is None or fam.get(current) is None:
        raise RegistryError(f"{family} has no production version to drill")
    prev = previous_production(fam)
    if prev is None:
        raise RegistryError(f"{family} has no previous production version to roll back to")
    reason = reason or "rollback drill"
    by = repo.who()
    timings = []
    written = []
    t0 = _time.perf_counter()
    tags = _rollback_tags(repo, fam, fam.get(prev), current, "drill", by, reason + " (back)",
                          fam.next_counter)
    written += repo.write(family, tags)
    timings.append(("roll back", _time.perf_counter() - t0))
    try:  # production is on the previous version now: a failure must say so, and how to undo it
        t1 = _time.perf_counter()
        repo.reload()
        fam2 = repo.family(family)
        got = fam2.holder("production")
        timings.append(("verify", _time.perf_counter() - t1))
        if got != prev:
            raise RegistryError(f"drill failed: production resolves to {got}, expected {prev}")
        t2 = _time.perf_counter()
        tags = _rollback_tags(repo, fam2, fam2.get(current), prev, "drill", by,
                              reason + " (forward)", fam2.next_counter)
        written += repo.write(family, tags)
        timings.append(("roll forward", _time.perf_counter() - t2))
        t3 = _time.perf_counter()
        repo.reload()
        got = repo.family(family).holder("production")
        timings.append(("verify", _time.perf_counter() - t3))
        if got != current:
            raise RegistryError(f"drill failed: production resolves to {got}, expected {current}")
    except RegistryError as error:
        raise RegistryError(
            f"{error}; the drill stopped after rolling back, so production may still be {prev}: "
            f"restore it with `model-registry promote {family} {current} production --reason \"drill aborted\"`"
        ) from None
    total = _time.perf_counter() - t0
    res = Result("drill", family, written, current)
    res.data["timings"] = {name + (f" {i}" if name == "verify" else ""): round(s, 4)
                           for i, (name, s) in enumerate(timings)}
    res.data["total_seconds"] = round(total, 4)
    res.messages.append(f"drill {family}: {current} -> {prev} -> {current}, ok")
    for name, s in timings:
        res.messages.append(f"  {name:<13} {s * 1000:8.1f} ms")
    res.messages.append(f"  {'total':<13} {total * 1000:8.1f} ms")
    return res


# ====================================================================================
# deprecate / archive
# ====================================================================================

def _retire(repo: Repo, family: str, version: str, stage: str, reason: Optional[str],
            force: bool = False) -> Result:
    fam = repo.family(family)
    info = repo.version(fam, version)
    v = info.vstring
    if not reason:
        raise RegistryError(f"{stage} needs --reason")
    status = fam.status(v)
    if status == stage:
        raise RegistryError(f"{family} {v} is already {stage}")
    if stage == "deprecated" and status == "archived" and not force:
        raise RegistryError(f"{family} {v} is archived: use --force to mark it deprecated")
    serving = [s for s in ("production", "canary", "staging") if fam.holder(s) == v]
    if serving and not force:
        raise RegistryError(
            f"{family} {v} holds {', '.join(serving)}: assign another version first"
            + (" (or use rollback)" if "production" in serving else "")
        )
    event = "deprecate" if stage == "deprecated" else "archive"
    tag = _stage_tag(repo, fam, info, stage, fam.next_counter, event, repo.who(), reason,
                     {"forced": {"overrode": [f"holds {', '.join(serving)}"], "reason": reason}}
                     if serving else None)
    res = Result(event, family, repo.write(family, [tag]), v)
    res.messages.append(f"{family} {v} -> {stage}" + (f" (was {status})" if status else ""))
    return res


def deprecate(repo: Repo, family: str, version: str, reason: Optional[str],
              force: bool = False) -> Result:
    return _retire(repo, family, version, "deprecated", reason, force)


def archive(repo: Repo, family: str, version: str, reason: Optional[str],
            force: bool = False) -> Result:
    return _retire(repo, family, version, "archived", reason, force)
