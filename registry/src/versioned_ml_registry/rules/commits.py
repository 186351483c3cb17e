"""Conventional Commits: the bump that commit messages ask for. They raise the bump the
evidence derives, never lower it.

- ``!`` right before the colon (``feat(model)!: ...``, any type) or a ``BREAKING CHANGE:`` /
  ``BREAKING-CHANGE:`` footer (the token is upper-case) -> major
- ``feat`` -> minor, ``fix`` -> patch (types are case-insensitive)
- any other type, or a message that is not a Conventional Commit -> nothing

Commits only ever raise the bump the bundle evidence gives; proposal.py combines the two.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from ..dvc.files import artifact_path, stage_graph, upstream_stages
from ..errors import RegistryError
from .bump import Bump, higher

_HEADER = re.compile(r"^(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\([^()\r\n]*\))?(?P<bang>!)?:\s")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:\s", re.MULTILINE)

# git log record separators: ASCII unit / record separators never occur in commit messages.
_FIELD, _RECORD = "\x1f", "\x1e"


def classify(message: str) -> tuple[Bump, str]:
    """The bump one commit message asks for, and why (``"feat"``, ``"! before the colon"``...)."""
    lines = message.strip().splitlines()
    if not lines:
        return Bump.NONE, ""
    header, body = lines[0], "\n".join(lines[1:])
    match = _HEADER.match(header)
    if match and match.group("bang"):
        return Bump.MAJOR, "! before the colon"
    if _BREAKING_FOOTER.search(body):
        token = "BREAKING-CHANGE" if "BREAKING-CHANGE:" in body else "BREAKING CHANGE"
        return Bump.MAJOR, f"{token} footer"
    if not match:
        return Bump.NONE, ""
    kind = match.group("type").lower()
    if kind == "feat":
        return Bump.MINOR, "feat"
    if kind == "fix":
        return Bump.PATCH, "fix"
    return Bump.NONE, kind


def bump_from_commits(messages) -> tuple[Bump, list[str]]:
    """The highest bump asked for by ``messages`` and one reason per commit that asks for one.

    ``messages`` holds plain message strings or ``(sha, message)`` pairs (as ``commits_since``
    returns them). A reason reads ``commit 1a2b3c4 "feat: add proline" → minor``.
    """
    best = Bump.NONE
    reasons: list[str] = []
    for item in messages:
        sha, message = item if isinstance(item, (tuple, list)) else ("", item)
        bump, why = classify(message)
        if bump is Bump.NONE:
            continue
        best = higher(best, bump)
        subject = message.strip().splitlines()[0]
        if len(subject) > 72:
            subject = subject[:69] + "..."
        label = f"commit {sha[:7]} " if sha else "commit "
        detail = f" ({why})" if bump is Bump.MAJOR else ""
        reasons.append(f'{label}"{subject}" → {bump.label}{detail}')
    return best, reasons


def commits_since(repo, since_commit: str | None, paths: list[str],
                  concerns=lambda path: True) -> list[tuple[str, str]]:
    """``(sha, full message)`` of the commits after ``since_commit`` up to HEAD that touch a
    file of ``paths`` for which ``concerns(file)`` holds. Newest first; ``since_commit=None``
    means the whole history."""
    revs = f"{since_commit}..HEAD" if since_commit else "HEAD"
    command = ["git", "log", "--name-only", f"--format={_RECORD}%H{_FIELD}%B{_FIELD}", revs, "--"]
    command += list(paths) if paths else ["."]
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if "does not have any commits" in result.stderr or "bad default revision" in result.stderr:
            return []
        error = (result.stderr.strip().splitlines() or ["git log failed"])[0]
        raise RegistryError(f"cannot read commits since {since_commit or 'the start'}: {error}")
    commits = []
    for record in result.stdout.split(_RECORD):
        if record.count(_FIELD) < 2:
            continue
        sha, message, files = record.split(_FIELD, 2)
        if any(concerns(name) for name in files.split()):
            commits.append((sha.strip(), message.strip()))
    return commits


FAMILY_CONFS = "conf/families/"
# Written for all families at once (composed params, the lock, the family list and the
# tools' block of dvc.yaml): adding one family changes them, which concerns no other family.
SHARED_OUTPUTS = ("params.yaml", "params.conf.yaml", "dvc.lock", "families.yaml", "dvc.yaml")


def family_paths(repo, family: str) -> list[str]:
    """The files whose commits concern ``family``: the dependencies and parameter files of the
    stages that make its bundle (resolved per family from dvc.lock: ``train@<family>``...), the
    ``.dvc`` files of its data, the bundle, and ``conf/`` (see ``concerns_family``); not the
    files every family's change rewrites (``SHARED_OUTPUTS``)."""
    root = Path(repo)
    bundle = artifact_path(repo, family)
    graph = stage_graph(repo)
    paths = {"conf", bundle}
    for name in upstream_stages(graph, bundle):
        paths.update(graph[name]["deps"])
        paths.update(graph[name]["params"])
    paths.difference_update(SHARED_OUTPUTS)
    for path in list(paths):
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            dvc_file = "/".join(parts[:end]) + ".dvc"
            if (root / dvc_file).is_file():
                paths.add(dvc_file)
    return sorted(paths)


def concerns_family(family: str):
    """Whether a changed file concerns ``family``: ``conf/families/<name>.yaml`` is one family's
    own configuration (only ``family``'s counts); every other file under ``family_paths`` is
    shared by all families, or the family's own."""
    own = f"{FAMILY_CONFS}{family}.yaml"
    return lambda path: not path.startswith(FAMILY_CONFS) or path == own
