"""Crash safety for a family's writes: a command killed at any instant leaves all of its tags
or none, as seen by the next registry command.

git's ``update-ref --stdin`` transaction is atomic only while its process lives: killed
between renaming one loose ref's lock and the next, it leaves part of the group and ``.lock``
files that make every later write fail. So a group is written as:

1. its tag objects go into the object store (invisible to readers);
2. ``<git dir>/model-registry/<family>.journal`` is created exclusively (one writer per family
   and clone), naming the writing process (pid and start time), the family's refs the group
   was computed from, and every ref and object of the group;
3. one ``update-ref`` transaction creates the refs;
4. the journal is removed.

The next command that finds the journal of a dead process removes the lock files of the
journal's own refs (no others), and completes the group if the family is still as the group
found it, else discards it; then removes the journal. A live writer's journal is never touched.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from .. import processes
from ..errors import RegistryError
from . import refs as gitrefs

WAIT_SECONDS = 10.0  # how long a writer waits for another live writer of the same family


def process_start(pid: int) -> Optional[str]:
    """The start time of ``pid`` (Linux ``/proc``), so a reused pid is not taken for the writer."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def alive(pid: int, started: Optional[str]) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs (not a reused pid)."""
    if not processes.alive(pid):
        return False
    now = process_start(pid)
    return now is None or started is None or now == started


@dataclass
class Journal:
    family: str
    base: str  # fingerprint of the family's refs the group was computed from
    refs: List[Tuple[str, str]]  # (tag name, tag object id)
    pid: int = field(default_factory=os.getpid)
    started: Optional[str] = None

    def __post_init__(self):
        if self.started is None and self.pid == os.getpid():
            self.started = process_start(self.pid)


def journal_path(git_dir: str, family: str) -> Path:
    return Path(git_dir) / "model-registry" / f"{family}.journal"


def _create_exclusively(path: Path, journal: Journal) -> bool:
    """Write the journal whole, then link it into place: False when one exists already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(journal)))
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path) -> Optional[Journal]:
    try:
        data = json.loads(path.read_text())
        return Journal(data["family"], data["base"], [tuple(ref) for ref in data["refs"]],
                       int(data["pid"]), data.get("started"))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{path} is not a registry journal: move it away if no registry command is running") from None


def fingerprint(records) -> str:
    """What the family's refs are: a group computed from one state is valid only on it."""
    import hashlib

    lines = sorted(f"{rec.name} {rec.oid}" for rec in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _remove_stale_locks(git_dir: str, refs) -> List[str]:
    removed = []
    for name, _ in refs:
        lock = Path(git_dir) / "refs" / "tags" / f"{name}.lock"
        if lock.exists():
            lock.unlink()
            removed.append(lock.name)
    return removed


def recover(toplevel: str, git_dir: str, family: str, read_records) -> Optional[str]:
    """Finish or discard the group a dead writer left; None when there was none.

    ``read_records()`` reads the family's refs now. RegistryError when a live process is
    writing the family (its journal is never touched)."""
    path = journal_path(git_dir, family)
    journal = _read(path)
    if journal is None:
        return None
    if alive(journal.pid, journal.started):
        raise RegistryError(f"another model-registry command (pid {journal.pid}) is writing {family}: "
                            "wait for it to finish, then run this again")
    removed = _remove_stale_locks(git_dir, journal.refs)
    ours = {name for name, _ in journal.refs}
    records = read_records()
    present = {rec.name: rec.oid for rec in records if rec.name in ours}
    others = [rec for rec in records if rec.name not in ours]
    if fingerprint(others) == journal.base and all(present.get(n, sha) == sha for n, sha in journal.refs):
        gitrefs.create_refs(toplevel, [(n, sha) for n, sha in journal.refs if n not in present])
        outcome = f"completed {len(journal.refs)} tag(s) of {family} that pid {journal.pid} left unfinished"
    else:
        gitrefs.delete_refs(toplevel, [(n, sha) for n, sha in journal.refs if present.get(n) == sha])
        outcome = f"discarded the unfinished tags of {family} left by pid {journal.pid}: {family} changed since"
    path.unlink(missing_ok=True)
    return outcome + (f" (removed stale {', '.join(removed)})" if removed else "")


class FamilyWrite:
    """The journal of one group, held while its refs are written (see the module docstring)."""

    def __init__(self, toplevel: str, git_dir: str, journal: Journal, read_records):
        self.toplevel, self.git_dir, self.journal = toplevel, git_dir, journal
        self.path = journal_path(git_dir, journal.family)
        self.read_records = read_records

    def __enter__(self) -> "FamilyWrite":
        deadline = time.monotonic() + WAIT_SECONDS
        while not _create_exclusively(self.path, self.journal):
            try:
                recover(self.toplevel, self.git_dir, self.journal.family, self.read_records)
            except RegistryError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if fingerprint(self.read_records()) != self.journal.base:
            self.path.unlink(missing_ok=True)
            raise RegistryError(f"{self.journal.family} changed while this command ran (another command "
                                "wrote to it): run it again; nothing written")
        return self

    def __exit__(self, kind, error, trace) -> None:
        self.path.unlink(missing_ok=True)
