"""DVC's ``.dvc/tmp/rwlock``, as a killed DVC process can leave it.

DVC rewrites that JSON file (which stage paths running DVC commands read or write) by truncating
it and writing it anew. A DVC process killed in between (an OOM kill, a cancelled CI job) leaves
it empty or cut short, and every later ``dvc`` command then fails with
``RWLockFileCorruptedError`` until someone deletes it. The registry removes such a file when no
DVC process is editing it and no process it names is alive, and says so in one line; otherwise
it stops with one line naming the file.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .. import processes
from ..errors import RegistryError

log = logging.getLogger(__name__)
PIDS = re.compile(r'"pid":\s*(\d+)')


def _readable(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def heal(repo) -> None:
    """Remove a corrupted rwlock that nothing holds; RegistryError when a live process may."""
    path = Path(repo, ".dvc", "tmp", "rwlock")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    if _readable(text):
        return
    from dvc.lock import LockError, make_lock

    fix = f"delete {path} once no dvc command is running"
    guard = make_lock(f"{path}.lock", tmp_dir=str(path.parent))
    try:
        guard.lock()
    except LockError:
        raise RegistryError(f"{path} is corrupted and a dvc command is editing it: {fix}") from None
    try:
        if _readable(path.read_text(encoding="utf-8", errors="replace")):
            return  # rewritten whole meanwhile
        living = sorted({int(pid) for pid in PIDS.findall(text) if processes.alive(int(pid))})
        if living:
            raise RegistryError(f"{path} is corrupted and names running process(es) "
                                f"{', '.join(map(str, living))}: {fix}")
        path.unlink()
    finally:
        guard.unlock()
    log.warning("removed %s: a killed dvc process left it %s", path, "empty" if not text.strip() else "cut short")
