"""The outbox: ``<git dir>/model-registry/outbox/``, where events wait until every endpoint has
them. It lives beside the refs, so nothing of it is committed or pushed.

* ``<id>.json`` is the body exactly as it is signed and sent: written whole (a temporary file
  linked into place, so a second announcement of the same tag finds it there) and never changed.
* ``<id>.attempts`` has one JSON line per attempt: which endpoint, when, the answer, and whether
  it was a 2xx.

A process delivering an event holds an exclusive ``flock`` on its ``.json`` file from reading
what was delivered to recording the last attempt; an event whose every endpoint answered 2xx
leaves the outbox (attempts first, then the body) before the lock is released. So two delivering
processes never send one event to one endpoint twice; the only repeat left is a process killed
between an endpoint's 2xx and its record, and the unchanged ``webhook-id`` lets the receiver
drop it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

from .events import Event

SUFFIX, ATTEMPTS = ".json", ".attempts"


def outbox_dir(git_dir: str) -> Path:
    return Path(git_dir) / "model-registry" / "outbox"


def _records(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by a killed process: that attempt is not recorded
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def delivered_to(records: list[dict]) -> set[str]:
    return {r.get("endpoint") for r in records if r.get("ok")}


class Pending:
    """An event in the outbox as a listing sees it (no lock taken)."""

    def __init__(self, path: Path):
        self.path, self.id = path, path.name.removesuffix(SUFFIX)
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            data = None
        self.payload = data if isinstance(data, dict) else None
        self.attempts = _records(path.with_name(self.id + ATTEMPTS))

    @property
    def order(self) -> tuple:
        p = self.payload or {}
        return (str(p.get("timestamp", "")), str(p.get("family", "")), str(p.get("tag", "")), self.id)


class Claim:
    """An event this process holds the lock of: what it owes, and how to record an attempt."""

    def __init__(self, path: Path, fd: int):
        self.path, self.id = path, path.name.removesuffix(SUFFIX)
        self.attempts_path = path.with_name(self.id + ATTEMPTS)
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        self.body = b"".join(chunks)
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        self.payload = data if isinstance(data, dict) else None

    def delivered(self) -> set[str]:
        return delivered_to(_records(self.attempts_path))

    def attempts_to(self, endpoint: str) -> int:
        return sum(1 for r in _records(self.attempts_path) if r.get("endpoint") == endpoint)

    def record(self, endpoint: str, url: str, attempt: int, ok: bool, answer: str) -> None:
        line = json.dumps({"endpoint": endpoint, "url": url, "attempt": attempt, "at": int(time.time()),
                           "ok": ok, "answer": answer})
        with open(self.attempts_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self) -> None:
        self.attempts_path.unlink(missing_ok=True)
        self.path.unlink(missing_ok=True)


class Outbox:
    def __init__(self, git_dir: str):
        self.dir = outbox_dir(git_dir)

    def add(self, events: list[Event]) -> list[str]:
        """Queue ``events``; returns the ids that were not already waiting."""
        self.dir.mkdir(parents=True, exist_ok=True)
        added = []
        for event in events:
            final = self.dir / f"{event.id}{SUFFIX}"
            tmp = self.dir / f".{event.id}.{os.getpid()}.tmp"
            tmp.write_bytes(event.body)
            try:
                os.link(tmp, final)
                added.append(event.id)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return added

    def pending(self) -> list[Pending]:
        """Every waiting event, oldest stage change first."""
        if not self.dir.is_dir():
            return []
        return sorted((Pending(path) for path in self.dir.glob(f"msg_*{SUFFIX}")), key=lambda p: p.order)

    @contextlib.contextmanager
    def claim(self, event_id: str, wait: bool):
        """The event's :class:`Claim` while this process holds its lock; None when it is gone
        (delivered by another process meanwhile) or, without ``wait``, when another process holds it."""
        path = self.dir / f"{event_id}{SUFFIX}"
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield None
                return
            try:  # the holder before us may have delivered and removed it
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            yield Claim(path, fd) if current else None
        finally:
            os.close(fd)


def listing(git_dir: str, webhooks=None) -> list[dict]:
    """The waiting events for people and scripts: what changed, the attempts, the endpoints that
    have it and (given the :class:`~.config.Webhooks`) those still owed."""
    rows = []
    for item in Outbox(git_dir).pending():
        p = item.payload or {}
        done = delivered_to(item.attempts)
        row = {key: p.get(key) for key in ("tag", "family", "stage", "version", "previous", "event", "timestamp")}
        row.update(id=item.id, attempts=sum(1 for r in item.attempts if r.get("attempt")),
                   delivered_to=sorted({str(r.get("url")) for r in item.attempts if r.get("ok")}),
                   last=item.attempts[-1] if item.attempts else None)
        if webhooks is not None:
            targets = webhooks.targets(str(p.get("family")), str(p.get("stage")))
            row["owed"] = [endpoint.shown for endpoint in targets if endpoint.key not in done]
        rows.append(row)
    return rows
