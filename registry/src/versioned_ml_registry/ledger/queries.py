"""Reading the decision ledger (:mod:`.store`): one request's decisions, a filtered list, and
the check of its hash chain. Read-only: these never change the file."""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from contextlib import closing
from typing import Dict, List, Optional

from ..errors import RegistryError
from .store import GENESIS, connect, row_hash


def parse_time(text: Optional[str], name: str) -> Optional[float]:
    """Unix seconds from ``1717000000``, ``2024-05-29`` or ``2024-05-29T16:26:40Z`` (UTC
    unless the text names another offset)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise RegistryError(f"{name} {text!r} is neither unix seconds nor an ISO 8601 time "
                            "(e.g. 2024-05-29T16:26:40Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.timestamp()


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _public(row) -> dict:
    """A row as the commands show it: times in ISO 8601, input and output as JSON values."""
    out = dict(row)
    out["when"] = iso(out["time"])
    out["commit"] = out.pop("commit_sha")
    out["input"] = json.loads(out["input"]) if out["input"] is not None else None
    out["output"] = json.loads(out["output"])
    return out


def show(path, request_id: str) -> List[dict]:
    """Every decision of ``request_id`` (the answer, and any shadow's), oldest first."""
    with closing(connect(path, readonly=True)) as conn:
        rows = conn.execute("SELECT * FROM decisions WHERE request_id = ? ORDER BY seq", (request_id,)).fetchall()
    if not rows:
        raise RegistryError(f"no decision with request id {request_id!r} in {path}")
    return [_public(row) for row in rows]


def select(path, family: Optional[str] = None, version: Optional[str] = None, route: Optional[str] = None,
           since: Optional[float] = None, until: Optional[float] = None, limit: int = 100) -> List[dict]:
    """The newest ``limit`` decisions matching every filter given, oldest first."""
    clauses, args = [], []
    for column, value in (("family", family), ("version", version), ("route", route)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if since is not None:
        clauses.append("time >= ?")
        args.append(since)
    if until is not None:
        clauses.append("time <= ?")
        args.append(until)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with closing(connect(path, readonly=True)) as conn:
        rows = conn.execute(f"SELECT * FROM decisions {where} ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
    return [_public(row) for row in reversed(rows)]


def counts_by_version(path) -> Dict[tuple, Dict[str, int]]:
    """``{(family, version): {route: count}}`` over the whole ledger."""
    try:
        with closing(connect(path, readonly=True)) as conn:
            rows = conn.execute("SELECT family, version, route, COUNT(*) FROM decisions "
                                "GROUP BY family, version, route").fetchall()
    except sqlite3.Error as error:
        raise RegistryError(f"cannot read the decision ledger {path}: {error}") from None
    counts: Dict[tuple, Dict[str, int]] = {}
    for family, version, route, number in rows:
        counts.setdefault((family, version), {})[route] = number
    return counts


def count(path) -> int:
    with closing(connect(path, readonly=True)) as conn:
        return conn.execute("SELECT count(*) FROM decisions").fetchone()[0]


def verify(path) -> dict:
    """``{"rows", "head", "problems"}``: every row's hash must cover its content and the previous
    row's hash, row numbers must have no gap, and the last row must be the recorded head."""
    problems: List[str] = []
    expected_seq, prev, rows = 1, GENESIS, 0
    with closing(connect(path, readonly=True)) as conn:
        conn.execute("BEGIN")  # the rows and the head from one snapshot, while a server appends
        for row in conn.execute("SELECT * FROM decisions ORDER BY seq"):
            row = dict(row)
            rows += 1
            label = f"row {row['seq']} (request {row['request_id']})"
            if row["seq"] != expected_seq:
                problems.append(f"rows {expected_seq}..{row['seq'] - 1} are missing (deleted)")
            if row["prev_hash"] != prev:
                problems.append(f"{label} does not follow the hash of the row before it: a row was deleted or edited")
            if row_hash(row) != row["hash"]:
                problems.append(f"{label} was edited: its hash does not match its content")
            expected_seq, prev = row["seq"] + 1, row["hash"]
        head = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    if (head_seq, head_hash) != (expected_seq - 1, prev):
        problems.append(f"the ledger's head is row {head_seq} but its last row is {expected_seq - 1}: "
                        "rows were deleted from the end, or the head was edited")
    return {"path": str(path), "rows": rows, "head": head_hash, "problems": problems}
