"""The release proposal: which bump the evidence and the commits ask for, and why.

``propose`` compares the bundle in the working tree with the family's highest released
version (read at its commit through DVC), lets Conventional Commits since that version raise
(never lower) the bump, gathers the provenance that goes into the version tag, and checks
the candidate gates. ``format_report`` is what ``model-registry propose`` prints, and so
what ``dvc repro`` prints when a family's propose stage runs (its bundle or settings changed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..bundle.digests import folder_sha256, recorded_sha256
from ..bundle.reading import read_bundle_at, read_bundle_from_workspace
from ..dvc.files import artifact_path, lock_md5s
from ..errors import RegistryError
from ..rules.bump import Bump, higher, next_version
from ..rules.commits import (
    bump_from_commits,
    commits_since,
    concerns_family,
    family_paths,
)
from ..rules.evidence import compare
from ..rules.gates import candidate_gates
from ..rules.settings import load_settings


@dataclass
class Proposal:
    family: str
    bump: str | None
    reasons: list[str]
    evidence_bump: str | None = None
    commit_bump: str | None = None
    identical_to: str | None = None
    provenance: dict = field(default_factory=dict)
    gates_passed: bool = True
    gate_report: list[str] = field(default_factory=list)
    released: str | None = None  # the version compared with, e.g. "v1.2.0" (None: first)
    next_version: str | None = None  # what `release` would write, without --bump

    def to_dict(self) -> dict:
        return asdict(self)


def _version_text(released) -> str:
    return f"v{released.version}"


def propose(repo, family: str, released=None) -> Proposal:
    """Compare the working-tree bundle of ``family`` with ``released`` and propose a bump.

    ``released`` is None for a first release (bump ``minor``: 0.0.0 → 0.1.0), else an object
    with ``.version`` (semver.Version), ``.commit`` (sha) and ``.tag`` (tag name).
    """
    repo = str(repo)
    settings = load_settings(repo, family)
    bundle_path = artifact_path(repo, family)
    new = read_bundle_from_workspace(repo, bundle_path)
    provenance = _provenance(repo, bundle_path, new, settings.params)
    card_metrics = new.card.get("metrics") or {}
    gates_passed, gate_report = candidate_gates(card_metrics, settings.gates)

    proposal = Proposal(family=family, bump=None, reasons=[], provenance=provenance,
                        gates_passed=gates_passed, gate_report=gate_report)
    if released is None:
        proposal.bump = proposal.evidence_bump = Bump.MINOR.label
        proposal.reasons = [f"first release of {family}"]
        proposal.next_version = f"v{next_version(None, Bump.MINOR)}"
        return proposal

    proposal.released = _version_text(released)
    old = _released_bundle(repo, released, bundle_path)
    evidence_bump, reasons = compare(old, new, settings.agreement_threshold, settings.metric_tolerance,
                                     settings.prediction_tolerance, settings.probability_tolerance)
    proposal.evidence_bump = evidence_bump.label
    if evidence_bump is Bump.NONE:
        proposal.identical_to = _version_text(released)
        proposal.reasons = [f"bundle identical to {released.tag or proposal.identical_to}"]
        return proposal

    commits = commits_since(repo, released.commit, family_paths(repo, family), concerns_family(family))
    commit_bump, commit_reasons = bump_from_commits(commits)
    proposal.commit_bump = commit_bump.label
    proposal.bump = higher(evidence_bump, commit_bump).label
    proposal.reasons = reasons + commit_reasons
    if commit_bump > evidence_bump:
        proposal.reasons.append(f"commits raise the bump from {evidence_bump.label} to {commit_bump.label}")
    proposal.next_version = f"v{next_version(released.version, higher(evidence_bump, commit_bump))}"
    return proposal


def _released_bundle(repo: str, info, bundle_path: str):
    """The bundle of a released version, its bytes checked against the sha256 its tag records
    (``info`` without a parsed tag, or an older tag: md5 only)."""
    label = f"{getattr(info, 'family', '')} {_version_text(info)}".strip()
    return read_bundle_at(repo, info.commit, bundle_path,
                          recorded_sha256(getattr(info, "meta", None), label), label)


def _provenance(repo: str, bundle_path: str, bundle, params: dict) -> dict:
    """What the version tag records: bundle md5 (dvc.lock) and the sha256 of every bundle
    file (:mod:`..bundle.digests`), data, code, params, metrics, requirements."""
    try:
        lock = lock_md5s(repo, bundle_path)
    except RegistryError:
        lock = {"md5": {}, "data_version": {}, "preprocessing": {}}
    card = bundle.card
    composed = {key: value for key, value in (params or {}).items() if key != "registry"}
    return {
        "path": bundle_path,
        "md5": lock["md5"],
        "sha256": folder_sha256(Path(repo) / bundle_path),
        "data_version": card.get("data_version") or lock["data_version"],
        "preprocessing": card.get("preprocessing") or lock["preprocessing"],
        "params": card.get("params") or composed,
        "metrics": card.get("metrics") or {},
        "requirements": card.get("requirements") or {},
        "signature": bundle.signature,
        "flavor": {key: bundle.flavor[key] for key in ("flavor", "estimator", "trusted_types") if key in bundle.flavor},
    }


def format_report(proposal: Proposal) -> str:
    """A readable report: the decision, then every reason and the gates."""
    name = proposal.family
    lines = []
    if proposal.identical_to:
        lines.append(f"{name}: no release, the bundle is identical to {proposal.identical_to}")
    elif proposal.bump is None:
        lines.append(f"{name}: no release proposed")
    else:
        target = f" → {proposal.next_version}" if proposal.next_version else ""
        since = f" (released: {proposal.released})" if proposal.released else " (first release)"
        lines.append(f"{name}: {proposal.bump.upper()}{target}{since}")
        if proposal.released:
            lines.append(f"  evidence: {proposal.evidence_bump or 'none'}; "
                         f"commits: {proposal.commit_bump or 'none'}")
    for reason in proposal.reasons:
        lines.append(f"  - {reason}")
    md5 = ", ".join(f"{path} {value}" for path, value in (proposal.provenance.get("md5") or {}).items())
    if md5:
        lines.append(f"  bundle: {md5}")
    state = "passed" if proposal.gates_passed else "FAILED"
    lines.append(f"candidate gates: {state}")
    lines.extend(f"  - {line}" for line in proposal.gate_report)
    if proposal.bump and not proposal.identical_to:
        lines.append("commit, then run `model-registry release` to write the tags")
    return "\n".join(lines)


def diff_versions(toplevel: str, fam, before, after) -> dict:
    """Params, metrics and the bundle-evidence bump between two released versions."""
    settings = load_settings(toplevel, fam.name)
    bump, reasons = compare(_released_bundle(toplevel, before, before.bundle_path),
                            _released_bundle(toplevel, after, after.bundle_path),
                            settings.agreement_threshold, settings.metric_tolerance,
                            settings.prediction_tolerance, settings.probability_tolerance)
    return {"family": fam.name, "old": before.vstring, "new": after.vstring, "bump": bump.label,
            "reasons": reasons,
            "params": _changed(_flat(before.meta.get("params")), _flat(after.meta.get("params"))),
            "metrics": _changed(_flat(before.meta.get("metrics")), _flat(after.meta.get("metrics")))}


def _flat(tree, prefix: str = "") -> dict:
    flat = {}
    for key, value in (tree if isinstance(tree, dict) else {}).items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _changed(before: dict, after: dict) -> dict:
    return {key: (before.get(key), after.get(key)) for key in sorted({**before, **after})
            if before.get(key) != after.get(key)}
