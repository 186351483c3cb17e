"""The release proposal: which bump the evidence and the commits ask for, and why.

``propose`` compares the bundle in the working tree with the family's highest released
version (read at its commit through DVC), lets Conventional Commits since that version raise
(never lower) the bump, gathers the provenance that goes into the version tag, and checks
the candidate gates. ``format_report`` is what ``dvc repro`` prints as its last stage.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .bundles import (
    PARAMS_FILE,
    artifact_path,
    load_yaml_file,
    lock_md5s,
    read_bundle_at,
    read_bundle_from_workspace,
)
from .commits import bump_from_commits, commits_since, family_paths, highest, rank
from .errors import RegistryError
from .evidence import compare, flatten_metrics

DEFAULT_AGREEMENT = 0.99
DEFAULT_TOLERANCE = 0.01


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

    def to_dict(self) -> dict:
        return asdict(self)


def registry_settings(repo) -> dict:
    """``registry:`` from params.yaml: thresholds and gates, with the defaults filled in."""
    params = load_yaml_file(Path(repo) / PARAMS_FILE)
    settings = params.get("registry") or {}
    if not isinstance(settings, dict):
        raise RegistryError("params.yaml: registry must be a mapping")
    try:
        agreement = float(settings.get("agreement_threshold", DEFAULT_AGREEMENT))
        tolerance = float(settings.get("metric_tolerance", DEFAULT_TOLERANCE))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"params.yaml: registry thresholds must be numbers ({exc})") from exc
    if agreement > 1:  # written as a percentage (99) rather than a fraction (0.99)
        agreement /= 100
    gates = settings.get("gates") or {}
    return {"agreement_threshold": agreement, "metric_tolerance": tolerance, "gates": gates,
            "params": params}


def check_gates(metrics: dict, gates: dict | None, stage: str = "candidate") -> tuple[bool, list[str]]:
    """Whether every gated metric meets its minimum; one line per gate."""
    if not gates:
        return True, [f"no {stage} gates configured"]
    flat = flatten_metrics(metrics or {})
    passed, report = True, []
    for name, minimum in sorted(gates.items()):
        value = flat.get(name)
        if value is None:
            passed = False
            report.append(f"{name} missing (needs ≥ {minimum})")
        elif value < float(minimum):
            passed = False
            report.append(f"{name} {value:.4g} < {float(minimum):.4g}: fails")
        else:
            report.append(f"{name} {value:.4g} ≥ {float(minimum):.4g}")
    return passed, report


def _version_text(released) -> str:
    return f"v{released.version}"


def propose(repo, family: str, released=None) -> Proposal:
    """Compare the working-tree bundle of ``family`` with ``released`` and propose a bump.

    ``released`` is None for a first release (bump ``minor``: 0.0.0 → 0.1.0), else an object
    with ``.version`` (semver.Version), ``.commit`` (sha) and ``.tag`` (tag name).
    """
    repo = str(repo)
    settings = registry_settings(repo)
    bundle_path = artifact_path(repo, family)
    new = read_bundle_from_workspace(repo, bundle_path)
    provenance = _provenance(repo, bundle_path, new, settings["params"])
    card_metrics = new.card.get("metrics") or {}
    gates = (settings["gates"] or {}).get("candidate") or {}
    gates_passed, gate_report = check_gates(card_metrics, gates, "candidate")

    proposal = Proposal(family=family, bump=None, reasons=[], provenance=provenance,
                        gates_passed=gates_passed, gate_report=gate_report)
    if released is None:
        proposal.bump = proposal.evidence_bump = "minor"
        proposal.reasons = [f"first release of {family}"]
        return proposal

    proposal.released = _version_text(released)
    old = read_bundle_at(repo, released.commit, bundle_path)
    evidence_bump, reasons = compare(old, new, settings["agreement_threshold"],
                                     settings["metric_tolerance"])
    proposal.evidence_bump = evidence_bump
    if evidence_bump is None:
        proposal.identical_to = _version_text(released)
        proposal.reasons = [f"bundle identical to {released.tag or proposal.identical_to}"]
        return proposal

    commits = commits_since(repo, released.commit, family_paths(repo, family))
    commit_bump, commit_reasons = bump_from_commits(commits)
    proposal.commit_bump = commit_bump
    proposal.bump = highest(evidence_bump, commit_bump)
    proposal.reasons = reasons + commit_reasons
    if rank(commit_bump) > rank(evidence_bump):
        proposal.reasons.append(f"commits raise the bump from {evidence_bump} to {commit_bump}")
    return proposal


def _provenance(repo: str, bundle_path: str, bundle, params: dict) -> dict:
    """What the version tag records: bundle md5 (dvc.lock), data, code, params, metrics, requirements."""
    try:
        lock = lock_md5s(repo, bundle_path)
    except RegistryError:
        lock = {"md5": {}, "data_version": {}, "preprocessing": {}}
    card = bundle.card
    composed = {key: value for key, value in (params or {}).items() if key != "registry"}
    return {
        "path": bundle_path,
        "md5": lock["md5"],
        "data_version": card.get("data_version") or lock["data_version"],
        "preprocessing": card.get("preprocessing") or lock["preprocessing"],
        "params": card.get("params") or composed,
        "metrics": card.get("metrics") or {},
        "requirements": card.get("requirements") or {},
    }


def format_report(proposal: Proposal, next_version: str | None = None) -> str:
    """A readable report: the decision, then every reason and the gates."""
    name = proposal.family
    lines = []
    if proposal.identical_to:
        lines.append(f"{name}: no release, the bundle is identical to {proposal.identical_to}")
    elif proposal.bump is None:
        lines.append(f"{name}: no release proposed")
    else:
        target = f" → {next_version}" if next_version else ""
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
