"""The decision ledger: which version made every prediction, on what, in embedded SQLite.

One row per decision: request id, time, family, version, commit, route (production, canary,
shadow, or pinned: a V2 request naming its version), the sha256 of the canonical input, the
input itself (or only its hash), the output and the latency. Rows are hash-chained: a row's
``hash`` is the sha256 of its content and the previous row's hash, and a one-row ``head``
table holds the last row's number and hash. So an edited row breaks its own hash, a deleted
row breaks the chain at the next one, and a deleted tail no longer reaches the head.
(Whoever can rewrite the whole file can rewrite the chain: keep the head hash ``verify``
prints somewhere else to detect that.)

:class:`LedgerWriter` appends off the request path: ``append`` puts a decision on a queue;
one thread takes what arrives within 50 ms (up to 1,000 rows) and inserts it in one
transaction. ``close`` drains the queue, so a clean shutdown loses no row. A durable writer
(``durable=True``) is for when a crash must not lose an answered decision: ``append`` returns
a future that completes once the row is committed (``synchronous=FULL``: on disk, not only in
the OS), and the server answers only then. It does not linger: it commits at once everything
queued, so requests that arrive during one commit share the next (group commit). The database is in
WAL mode: readers (``model-registry decisions``) never block the writer. Reading:
:mod:`.queries`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, List, Optional

from ..errors import RegistryError

log = logging.getLogger("model_registry.serve")

GENESIS = "0" * 64
COLUMNS = ("seq", "request_id", "time", "family", "version", "commit_sha", "route", "input_sha256",
           "input", "output", "latency_ms", "prev_hash")
SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    time REAL NOT NULL,
    family TEXT NOT NULL,
    version TEXT NOT NULL,
    commit_sha TEXT,
    route TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    input TEXT,
    output TEXT NOT NULL,
    latency_ms REAL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_request ON decisions (request_id);
CREATE INDEX IF NOT EXISTS decisions_family_time ON decisions (family, time);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""


def canonical(value: Any) -> str:
    """The one JSON text of ``value`` that is hashed: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_hash(row: dict) -> str:
    """The hash of a row: its content (every column but ``hash``) including ``prev_hash``."""
    return sha256(canonical([row[name] for name in COLUMNS]))


@dataclass(frozen=True)
class Decision:
    """One answer of one version to one request, as the server hands it to the ledger."""

    request_id: str
    time: float
    family: str
    version: str
    commit: Optional[str]
    route: str
    records: list
    predictions: list
    latency_ms: float
    committed: Optional[Future] = field(default=None, compare=False, repr=False)  # a durable writer's
    input_text: Optional[str] = field(default=None, compare=False, repr=False)  # canonical(records), if known

    def row(self, seq: int, prev_hash: str, store_inputs: bool) -> dict:
        text = self.input_text if self.input_text is not None else canonical(self.records)
        row = {"seq": seq, "request_id": self.request_id, "time": self.time, "family": self.family,
               "version": self.version, "commit_sha": self.commit, "route": self.route,
               "input_sha256": sha256(text), "input": text if store_inputs else None,
               "output": canonical(self.predictions), "latency_ms": round(self.latency_ms, 3),
               "prev_hash": prev_hash}
        row["hash"] = row_hash(row)
        return row


def connect(path, readonly: bool = False, durable: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit); WAL for the writer, each
    commit synced to disk when ``durable``."""
    if readonly:
        if not Path(path).is_file():
            raise RegistryError(f"no decision ledger at {path} (the server writes it; see --ledger)")
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.row_factory = sqlite3.Row
    return conn


def open_ledger(path, durable: bool = False) -> sqlite3.Connection:
    """The ledger at ``path`` ready to append to (created with its schema when new)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(path, durable=durable)
        conn.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise RegistryError(f"cannot open the decision ledger at {path}: {exc}") from None
    return conn


def _insert(conn: sqlite3.Connection, decisions: List[Decision], store_inputs: bool) -> None:
    """Append ``decisions`` after the current head, in one transaction (several writers may
    share a ledger: each batch reads the head inside its own write lock)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
        seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS)
        rows = []
        for decision in decisions:
            seq += 1
            rows.append(decision.row(seq, prev, store_inputs))
            prev = rows[-1]["hash"]
        names = (*COLUMNS, "hash")
        conn.executemany(f"INSERT INTO decisions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                         [tuple(row[name] for name in names) for row in rows])
        conn.execute("INSERT INTO head (id, seq, hash) VALUES (1, ?, ?) "
                     "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, prev))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_STOP = object()


class LedgerWriter:
    """Appends decisions on its own thread, in batches of up to ``batch`` rows."""

    def __init__(self, path, store_inputs: bool = True, batch: int = 1000, linger: float = 0.05,
                 durable: bool = False):
        self.path = Path(path)
        self.store_inputs = store_inputs
        self.batch = batch
        self.durable = durable
        self.linger = 0.0 if durable else linger
        self.written = 0
        self.error: Optional[str] = None  # the last write failure, while it lasts
        self._conn = open_ledger(self.path, durable)
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()

    def append(self, decision: Decision) -> Optional[Future]:
        """Queue ``decision``; a durable writer returns a future done once its row is committed
        (its exception: the row could not be written)."""
        if self._closed:
            raise RegistryError("the decision ledger is closed")
        if self.durable:
            decision = replace(decision, committed=Future())
        self._queue.put(decision)
        return decision.committed

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything appended so far is written."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        """Write everything queued, then stop; no row appended before is lost."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
            self._conn.close()

    def _take(self) -> tuple[list, list, bool]:
        """The next batch (blocking for its first item): decisions, flush events, stop. A batch
        gathers for up to ``linger`` seconds, so a busy server commits once per batch, not once
        per request; a flush or stop ends the gathering at once."""
        items = [self._queue.get()]
        deadline = time.monotonic() + self.linger
        while len(items) < self.batch and isinstance(items[-1], Decision):
            try:
                items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        decisions = [item for item in items if isinstance(item, Decision)]
        events = [item for item in items if isinstance(item, threading.Event)]
        return decisions, events, any(item is _STOP for item in items)

    def _run(self) -> None:
        stopping = False
        while True:
            decisions, events, stop = self._take()
            stopping = stopping or stop
            self._write(decisions, stopping)
            for event in events:
                event.set()
            if stopping and self._queue.empty():
                return

    def _write(self, decisions: List[Decision], stopping: bool) -> None:
        try:
            self._insert_retrying(decisions, stopping)
            _settle(decisions, None)
        except (TypeError, ValueError):  # not JSON (the server never sends such): write the others
            for decision in decisions:
                try:
                    self._insert_retrying([decision], stopping)
                    _settle([decision], None)
                except (TypeError, ValueError) as exc:
                    log.error(f"decision {decision.request_id} cannot be written to the ledger: {exc}")
                    _settle([decision], RegistryError(f"decision {decision.request_id} cannot be written: {exc}"))

    def _insert_retrying(self, decisions: List[Decision], stopping: bool) -> None:
        """Insert, retrying while the database refuses (full disk, a long lock): a row is given
        up only after a minute of failures while shutting down, and then said in the log."""
        attempts = 0
        while decisions:
            try:
                _insert(self._conn, decisions, self.store_inputs)
                self.written += len(decisions)
                self.error = None
                return
            except sqlite3.Error as exc:
                attempts += 1
                self.error = f"cannot write the decision ledger {self.path}: {exc}"
                log.error(self.error)
                if stopping and attempts >= 60:
                    log.error(f"{len(decisions)} decisions were not written to {self.path}")
                    _settle(decisions, RegistryError(self.error))
                    return
                time.sleep(1.0)


def _settle(decisions: List[Decision], failure: Optional[Exception]) -> None:
    """Complete the durable futures of ``decisions``: committed, or ``failure``."""
    for decision in decisions:
        committed = decision.committed
        if committed is not None and not committed.done():
            if failure is None:
                committed.set_result(None)
            else:
                committed.set_exception(failure)
