"""True outcomes, beside the decisions they judge: ``POST /v1/feedback`` writes them here.

One row per request id in the ``outcomes`` table of the ledger's file: the outcome (JSON) and
when it arrived. Recording is all or nothing per call and idempotent: the same outcome again
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
    request_id TEXT PRIMARY KEY,
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

    def decisions(self, request_ids: List[str]) -> Dict[str, dict]:
        """The answered (not shadow) decision of each known request id."""
        found = {}
        with self.lock:
            for start in range(0, len(request_ids), 500):
                chunk = request_ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.conn.execute(
                        f"SELECT request_id, family, version, route, output FROM decisions "  # noqa: S608 - marks only
                        f"WHERE route != 'shadow' AND request_id IN ({marks})", chunk):
                    found[row["request_id"]] = {"family": row["family"], "version": row["version"],
                                                "route": row["route"], "output": json.loads(row["output"])}
        return found

    def record(self, outcomes: List[tuple]) -> dict:
        """Write (request id, outcome) pairs in one transaction: ``{"recorded", "unchanged"}``;
        Conflict (nothing written) when one differs from what its request already has."""
        texts = [(request_id, canonical(outcome)) for request_id, outcome in outcomes]
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                new, unchanged = [], 0
                for request_id, text in texts:
                    row = self.conn.execute("SELECT outcome FROM outcomes WHERE request_id = ?", (request_id,)).fetchone()
                    if row is None:
                        new.append((request_id, text, time.time()))
                    elif row["outcome"] == text:
                        unchanged += 1
                    else:
                        raise Conflict(f"request {request_id} already has the outcome {row['outcome'][:60]}: "
                                       "an outcome is recorded once; nothing recorded")
                self.conn.executemany("INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?)", new)
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
                "ON o.request_id = d.request_id WHERE d.family = ? AND d.time >= ? AND d.route != 'shadow'",
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
