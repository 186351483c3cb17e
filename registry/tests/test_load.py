"""Load across swaps, and clean shutdowns, against the real server on 127.0.0.1.

While 8 client threads send requests, the tags change five times (promote, rollback, a canary,
promoting the canary, rollback; by polling and by /v1/reload). No request may fail; each
response's version must be what its route served at some instant between the request being
sent and its answer arriving (the server's swap log), the swaps must follow the tags in order,
and after a clean shutdown the ledger must hold exactly one row per response.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import versioned_ml_registry as reg
from vml_testkit.evidence import copy_registry
from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, Client, Server, probe
from versioned_ml_registry.ledger import queries as ledger

pytestmark = [pytest.mark.load, pytest.mark.slow]

CLIENTS, MIN_REQUESTS, MAX_REQUESTS = 8, 250, 5000


@pytest.fixture
def root(serving_base, tmp_path):
    return copy_registry(serving_base, tmp_path / "copy")


class Traffic:
    """Client threads sending until told to stop (each at least ``minimum`` requests)."""

    def __init__(self, port: int, records: list, clients: int = CLIENTS, minimum: int = MIN_REQUESTS):
        self.port, self.records, self.minimum = port, records, minimum
        self.answers: list = []  # (sent, received, route, version, request_id)
        self.failures: list = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._send) for _ in range(clients)]

    def _send(self):
        client, sent = Client(self.port), 0
        while sent < self.minimum or (not self.stop.is_set() and sent < MAX_REQUESTS):
            started = time.time()
            try:
                status, headers, body = client.predict(FAMILY, self.records)
            except OSError as exc:
                self.failures.append(repr(exc))
                client = Client(self.port)
                break
            finished = time.time()
            sent += 1
            if status != 200:
                self.failures.append((status, body))
                continue
            self.answers.append((started, finished, headers["x-model-route"], body["version"], body["request_id"]))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join()


def possible_versions(swaps: list, route: str, sent: float, received: float) -> set:
    """What ``route`` served at any instant of [sent, received], from the swap log."""
    current, found = None, set()
    for swap in (s for s in swaps if s["route"] == route):
        if swap["end"] < sent:
            current = swap["to"]
        elif swap["start"] <= received:
            found |= {swap["from"], swap["to"]}
    return found | {current}


def test_load_across_five_swaps_fails_nothing_and_answers_only_with_holders(root):
    with Server(root, "--interval", "0.2", "--canary-percent", "20") as server:
        server.wait_healthy()
        with Traffic(server.port, probe(root, FAMILY, 3)) as traffic:
            reg.promote(str(root), FAMILY, "v0.2.0", "production")
            server.wait_serving(FAMILY, "v0.2.0")                       # by polling
            reg.rollback(str(root), FAMILY, reason="load test: roll back")
            assert server.reload()[FAMILY]["serving"]["production"] == "v0.1.0"
            reg.promote(str(root), FAMILY, "v0.3.0", "canary")
            server.wait_serving(FAMILY, "v0.3.0", route="canary")
            poll(lambda: any(answer[2] == "canary" for answer in traffic.answers[-400:]), 30, "canary answers")
            reg.promote(str(root), FAMILY, "v0.3.0", "production")
            families = server.reload()
            assert families[FAMILY]["serving"] == {"production": "v0.3.0", "canary": None, "shadow": None}
            reg.rollback(str(root), FAMILY, reason="load test: roll back again")
            server.wait_serving(FAMILY, "v0.1.0")
        swaps = server.models()[FAMILY]["swaps"]
    assert server.proc.returncode == 0, server.log()

    assert traffic.failures == []
    answers = traffic.answers
    assert len(answers) >= CLIENTS * MIN_REQUESTS
    for sent, received, route, version, _ in answers:
        assert version in possible_versions(swaps, route, sent, received), (route, version, sent, received)
    assert {route for _, _, route, _, _ in answers} == {"production", "canary"}

    # the swaps follow the tags, in order: every production holder, every canary
    production = [s["to"] for s in swaps if s["route"] == "production"]
    assert production == ["v0.1.0", "v0.2.0", "v0.1.0", "v0.3.0", "v0.1.0"]
    assert [s["to"] for s in swaps if s["route"] == "canary"] == ["v0.3.0", None]
    holders = [row["version"] for row in reg.history(str(root), FAMILY) if row["stage"] == "production"]
    assert production == [v for i, v in enumerate(holders) if i == 0 or holders[i - 1] != v]

    rows = {row["request_id"]: row for row in ledger.select(server.ledger, FAMILY, limit=10 ** 6)}
    assert len(rows) == len(answers) == ledger.count(server.ledger)
    for _, _, route, version, request_id in answers:
        assert (rows[request_id]["route"], rows[request_id]["version"]) == (route, version)
    assert ledger.verify(server.ledger)["problems"] == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_clean_shutdown_under_load_loses_no_ledger_row(root, sig):
    server = Server(root, "--interval", "0.5")
    try:
        server.wait_healthy()
        with Traffic(server.port, probe(root, FAMILY, 3), clients=4, minimum=10 ** 6) as traffic:
            poll(lambda: len(traffic.answers) >= 300, 30, "300 answers")
            code = server.stop(sig)  # the clients are still sending
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    assert code == 0, server.log()
    assert f"stopped on {sig.name}" in server.log()
    answered = {request_id for *_, request_id in traffic.answers}
    assert len(answered) >= 300
    assert {row["request_id"] for row in ledger.select(server.ledger, limit=10 ** 6)} == answered
    assert ledger.verify(server.ledger) == {"path": str(server.ledger), "rows": len(answered),
                                            "head": ledger.select(server.ledger, limit=1)[0]["hash"],
                                            "problems": []}

    # an edit of any decision afterwards is caught by `model-registry decisions verify`
    victim = sorted(answered)[0]
    with sqlite3.connect(server.ledger) as conn:
        conn.execute("UPDATE decisions SET version = 'v0.2.0' WHERE request_id = ?", (victim,))
    conn.close()
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "--repo", str(root), "decisions", "verify",
                           "--ledger", str(server.ledger)], capture_output=True, text=True)
    assert done.returncode == 1 and f"(request {victim}) was edited" in done.stdout
