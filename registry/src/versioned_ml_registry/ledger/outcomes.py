"""True outcomes, beside the decisions they judge: ``POST /v1/feedback`` writes them here.

One row per judged decision in the ``outcomes`` table of the ledger's file, keyed by the
decision's row (``seq``: a V2 client chooses its request ids, so two decisions may share one):
the request id, the outcome (JSON) and when it arrived. Recording is all or nothing per call and idempotent: the same outcome again
changes nothing; a different outcome for a request that has one is refused. Outcomes are not
hash-chained: each names a chained decision, and the evidence they give is recomputed from them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from typing import Dict, List, Optional

from ..errors import RegistryError
from .store import canonical, connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    time REAL NOT NULL
);
"""


class Conflict(RegistryError):
    """An outcome that differs from the one already recorded for its request."""


class OutcomeStore:
    """The outcomes of one ledger file (its own connection; thread-safe)."""

    def __init__(self, path):
        self.conn: sqlite3.Connection = connect(path)
        self.conn.executescript(SCHEMA)
        self.lock = threading.Lock()

    def decisions(self, request_ids: List[str]) -> Dict[str, List[dict]]:
        """The answered (not shadow) decisions of each known request id (more than one when a
        client reused an id)."""
        found: Dict[str, List[dict]] = {}
        with self.lock:
            for start in range(0, len(request_ids), 500):
                chunk = request_ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.conn.execute(
                        f"SELECT seq, request_id, family, version, route, output FROM decisions "  # noqa: S608 - marks only
                        f"WHERE route != 'shadow' AND request_id IN ({marks})", chunk):
                    found.setdefault(row["request_id"], []).append(
                        {"seq": row["seq"], "family": row["family"], "version": row["version"],
                         "route": row["route"], "output": json.loads(row["output"])})
        return found

    def record(self, outcomes: List[tuple]) -> dict:
        """Write (decision row, request id, outcome) triples in one transaction: ``{"recorded",
        "unchanged"}``; Conflict (nothing written) when one differs from what its decision has,
        here or earlier in the same call."""
        texts: Dict[int, tuple] = {}
        for seq, request_id, outcome in outcomes:
            text = canonical(outcome)
            if texts.get(seq, (request_id, text))[1] != text:
                raise Conflict(f"request {request_id} has two different outcomes in this call; nothing recorded")
            texts[seq] = (request_id, text)
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                new, unchanged = [], 0
                for seq, (request_id, text) in texts.items():
                    row = self.conn.execute("SELECT outcome FROM outcomes WHERE seq = ?", (seq,)).fetchone()
                    if row is None:
                        new.append((seq, request_id, text, time.time()))
                    elif row["outcome"] == text:
                        unchanged += 1
                    else:
                        raise Conflict(f"request {request_id} already has the outcome {row['outcome'][:60]}: "
                                       "an outcome is recorded once; nothing recorded")
                self.conn.executemany("INSERT INTO outcomes VALUES (?, ?, ?, ?)", new)
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return {"recorded": len(new), "unchanged": unchanged}

    def judged(self, family: str, since: float, versions: Dict[str, str]) -> Dict[str, List[tuple]]:
        """Per route in ``versions`` (route -> version): (predictions, outcome) of its decisions
        since ``since`` that have an outcome."""
        found: Dict[str, List[tuple]] = {route: [] for route in versions}
        with self.lock:
            rows = self.conn.execute(
                "SELECT d.route, d.version, d.output, o.outcome FROM decisions d JOIN outcomes o "
                "ON o.seq = d.seq WHERE d.family = ? AND d.time >= ? AND d.route != 'shadow'",
                (family, since)).fetchall()
        for row in rows:
            if versions.get(row["route"]) == row["version"]:
                found[row["route"]].append((json.loads(row["output"]), json.loads(row["outcome"])))
        return found

    def close(self) -> None:
        self.conn.close()


def outcome_values(outcome, predictions: list) -> Optional[list]:
    """The outcome as one value per predicted record, or None when its shape does not fit."""
    if isinstance(outcome, list):
        return outcome if len(outcome) == len(predictions) else None
    return [outcome] if len(predictions) == 1 else None
