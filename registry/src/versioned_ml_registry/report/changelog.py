"""Release notes of a family in Markdown, in the Keep a Changelog spirit, newest version first.

Everything comes from the tags and the commits between them: the bump and its reasons from the
version tag, the Conventional Commits since the previous version (in SemVer order) grouped by
type, the metric deltas against that version, who released it and when.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from ..errors import RegistryError
from ..rules.bump import Bump
from ..rules.commits import classify
from ..rules.evidence import flatten_metrics
from ..tags.refs import git
from ..tags.state import FamilyState, VersionInfo, iso
from .text import person

GROUPS = ("Breaking", "Features", "Fixes", "Other")
_FIELD, _RECORD = "\x1f", "\x1e"


def commits_between(toplevel: str, old: Optional[str], new: str) -> List[tuple]:
    """``(sha, message)`` of the commits in ``old..new`` (all of ``new``'s history without
    ``old``), newest first."""
    revs = f"{old}..{new}" if old else new
    proc = git(toplevel, "log", f"--format={_RECORD}%H{_FIELD}%B", revs, "--", check=False)
    if proc.returncode != 0:
        error = (proc.stderr.decode(errors="replace").strip().splitlines() or ["git log failed"])[0]
        raise RegistryError(f"cannot read the commits {revs}: {error}")
    records = proc.stdout.decode(errors="replace").split(_RECORD)
    return [tuple(part.strip() for part in record.split(_FIELD, 1)) for record in records if _FIELD in record]


def group_commits(commits: List[tuple]) -> Dict[str, List[str]]:
    """Commit subjects by group: a breaking change of any type, feat, fix, everything else."""
    groups: Dict[str, List[str]] = {name: [] for name in GROUPS}
    for sha, message in commits:
        bump, why = classify(message)
        group = ("Breaking" if bump is Bump.MAJOR else "Features" if why == "feat"
                 else "Fixes" if why == "fix" else "Other")
        subject = (message.splitlines() or [""])[0]
        groups[group].append(f"{subject} ({sha[:7]})")
    return groups


def _number(value: float) -> str:
    return f"{value:.4g}"


def metric_deltas(before: Optional[dict], after: Optional[dict]) -> List[str]:
    """``accuracy 0.91 → 0.93 (+0.02)`` for every numeric metric of either version."""
    old, new = flatten_metrics(before or {}), flatten_metrics(after or {})
    lines = []
    for name in sorted({**old, **new}):
        if name not in old:
            lines.append(f"{name} {_number(new[name])} (new)")
        elif name not in new:
            lines.append(f"{name} removed (was {_number(old[name])})")
        else:
            lines.append(f"{name} {_number(old[name])} → {_number(new[name])} ({new[name] - old[name]:+.4g})")
    return lines


def version_section(toplevel: str, info: VersionInfo, previous: Optional[VersionInfo]) -> str:
    meta = info.meta
    bump = meta.get("bump") if isinstance(meta.get("bump"), str) else "unknown"
    lines = [f"## [{info.vstring}] - {iso(info.time)[:10]}", "",
             f"Released by {person(info.by)} on {iso(info.time).replace('T', ' ')} · bump: {bump}"]
    reasons = meta.get("reasons") if isinstance(meta.get("reasons"), list) else []
    if reasons:
        lines += ["", "Why this bump:", ""] + [f"- {reason}" for reason in reasons]
    for group, subjects in group_commits(commits_between(toplevel, previous and previous.commit, info.commit)).items():
        if subjects:
            lines += ["", f"### {group}", ""] + [f"- {subject}" for subject in subjects]
    deltas = metric_deltas(previous.meta.get("metrics") if previous else None, meta.get("metrics"))
    if deltas:
        title = f"### Metrics (against {previous.vstring})" if previous else "### Metrics"
        lines += ["", title, ""] + [f"- {line}" for line in deltas]
    return "\n".join(lines) + "\n"


def render(toplevel: str, fam: FamilyState, since: Optional[VersionInfo] = None) -> str:
    """The family's changelog; with ``since``, only the versions above it."""
    versions = fam.sorted_versions()
    sections = []
    for index in range(len(versions) - 1, -1, -1):
        info = versions[index]
        if since is not None and not info.version > since.version:
            break
        sections.append(version_section(toplevel, info, versions[index - 1] if index else None))
    header = f"# Changelog: {fam.name}\n\nVersions of `{fam.name}`, newest first.\n"
    if not sections:
        sections = [f"No versions after {since.vstring}.\n" if since else "No versions yet.\n"]
    return "\n".join([header] + sections)
