"""The decision ledger on real SQLite files: the writer thread, the hash chain, and
`model-registry decisions verify` catching an edited, deleted or truncated row."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading

import pytest

from versioned_ml_registry.ledger import queries as decisions
from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.ledger.store import Decision, LedgerWriter


def decision(i: int, family: str = "cultivar", version: str = "v0.1.0", route: str = "production",
             when: float = 1_700_000_000.0) -> Decision:
    return Decision(f"req-{i}", when + i, family, version, "c" * 40, route,
                    [{"alcohol": 13.0 + i, "proline": 700}], ["barolo"], 1.25)


def write(path, n: int, **kw) -> None:
    writer = LedgerWriter(path, **kw)
    for i in range(n):
        writer.append(decision(i))
    writer.close()


def verify_cli(path):
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", "verify", "--ledger",
                           str(path)], capture_output=True, text=True)


def edit(path, sql: str, *args) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql, args)
    conn.close()


def test_rows_keep_every_field_in_order_and_the_chain_verifies(tmp_path):
    path = tmp_path / "ledger.sqlite"
    write(path, 50)
    rows = decisions.select(path, limit=1000)
    assert [row["request_id"] for row in rows] == [f"req-{i}" for i in range(50)]
    first = decisions.show(path, "req-0")[0]
    assert first["input"] == [{"alcohol": 13.0, "proline": 700}] and first["output"] == ["barolo"]
    assert first["when"] == "2023-11-14T22:13:20.000Z" and first["commit"] == "c" * 40
    assert first["prev_hash"] == "0" * 64 and rows[1]["prev_hash"] == first["hash"]
    report = decisions.verify(path)
    assert report["rows"] == 50 and report["problems"] == [] and report["head"] == rows[-1]["hash"]
    done = verify_cli(path)
    assert done.returncode == 0 and "50 rows" in done.stdout and "the hash chain is intact" in done.stdout
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_an_edited_row_is_caught(tmp_path):
    path = tmp_path / "ledger.sqlite"
    write(path, 20)
    edit(path, "UPDATE decisions SET output = ? WHERE request_id = 'req-7'", json.dumps(["barbera"]))
    done = verify_cli(path)
    assert done.returncode == 1
    assert "problem: row 8 (request req-7) was edited: its hash does not match its content" in done.stdout


def test_an_edit_that_recomputes_the_rows_hash_breaks_the_next_link(tmp_path):
    from versioned_ml_registry.ledger.store import row_hash

    path = tmp_path / "ledger.sqlite"
    write(path, 20)
    row = dict(decisions.show(path, "req-7")[0])
    with sqlite3.connect(path) as conn:
        stored = dict(zip([c[0] for c in conn.execute("SELECT * FROM decisions").description],
                          conn.execute("SELECT * FROM decisions WHERE seq = ?", (row["seq"],)).fetchone()))
        stored["version"] = "v9.9.9"
        conn.execute("UPDATE decisions SET version = ?, hash = ? WHERE seq = ?",
                     ("v9.9.9", row_hash(stored), row["seq"]))
    conn.close()
    problems = decisions.verify(path)["problems"]
    assert problems == ["row 9 (request req-8) does not follow the hash of the row before it: "
                        "a row was deleted or edited"]


def test_deleted_rows_are_caught_in_the_middle_and_at_the_end(tmp_path):
    path = tmp_path / "ledger.sqlite"
    write(path, 20)
    edit(path, "DELETE FROM decisions WHERE seq = 5")
    problems = decisions.verify(path)["problems"]
    assert "rows 5..5 are missing (deleted)" in problems
    assert any(p.startswith("row 6 (request req-5) does not follow the hash") for p in problems)

    tail = tmp_path / "tail.sqlite"
    write(tail, 20)
    edit(tail, "DELETE FROM decisions WHERE seq = 20")
    assert decisions.verify(tail)["problems"] == [
        "the ledger's head is row 20 but its last row is 19: rows were deleted from the end, or the head was edited"]
    assert verify_cli(tail).returncode == 1


def test_hash_only_keeps_no_input_but_its_sha256(tmp_path):
    path = tmp_path / "ledger.sqlite"
    write(path, 3, store_inputs=False)
    row = decisions.show(path, "req-1")[0]
    assert row["input"] is None and len(row["input_sha256"]) == 64
    full = tmp_path / "full.sqlite"
    write(full, 3)
    assert decisions.show(full, "req-1")[0]["input_sha256"] == row["input_sha256"]
    assert decisions.verify(path)["problems"] == []


def test_close_writes_everything_appended_from_many_threads(tmp_path):
    path = tmp_path / "ledger.sqlite"
    writer = LedgerWriter(path, batch=64)

    def append(offset):
        for i in range(2500):
            writer.append(decision(offset + i))

    threads = [threading.Thread(target=append, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert writer.written == 10_000 == decisions.count(path)
    assert decisions.verify(path)["problems"] == []
    with pytest.raises(RegistryError, match="closed"):
        writer.append(decision(0))


def test_two_writers_on_one_file_keep_one_chain(tmp_path):
    path = tmp_path / "ledger.sqlite"
    first, second = LedgerWriter(path), LedgerWriter(path)
    for i in range(300):
        (first if i % 2 else second).append(decision(i))
    first.close()
    second.close()
    assert decisions.count(path) == 300 and decisions.verify(path)["problems"] == []


def test_list_filters_by_family_version_route_and_time(tmp_path):
    path = tmp_path / "ledger.sqlite"
    writer = LedgerWriter(path)
    writer.append(decision(0, "cultivar", "v0.1.0"))
    writer.append(decision(1, "cultivar", "v0.2.0", "canary"))
    writer.append(decision(2, "price", "v0.1.0"))
    writer.append(decision(3, "cultivar", "v0.2.0", "shadow"))
    writer.close()
    ids = lambda **kw: [row["request_id"] for row in decisions.select(path, **kw)]  # noqa: E731
    assert ids(family="cultivar") == ["req-0", "req-1", "req-3"]
    assert ids(family="cultivar", version="v0.2.0", route="canary") == ["req-1"]
    assert ids(since=decisions.parse_time("2023-11-14T22:13:21Z", "since"),
               until=decisions.parse_time("1700000002", "until")) == ["req-1", "req-2"]
    assert ids(limit=2) == ["req-2", "req-3"]
    assert [r["route"] for r in decisions.show(path, "req-3")] == ["shadow"]


def test_a_missing_ledger_is_one_line(tmp_path):
    done = verify_cli(tmp_path / "none.sqlite")
    assert done.returncode == 2 and done.stderr.startswith("error: no decision ledger at ")
    assert len(done.stderr.splitlines()) == 1


def test_a_decision_that_is_not_json_is_refused_alone_and_the_writer_goes_on(tmp_path):
    path = tmp_path / "ledger.sqlite"
    writer = LedgerWriter(path)
    writer.append(decision(0))
    writer.append(Decision("req-nan", 1.0, "price", "v0.1.0", None, "production", [{"x": 1}], [float("nan")], 1.0))
    writer.append(decision(2))
    assert writer.flush()
    writer.append(decision(3))
    writer.close()
    assert [row["request_id"] for row in decisions.select(path)] == ["req-0", "req-2", "req-3"]
    assert decisions.verify(path)["problems"] == []
