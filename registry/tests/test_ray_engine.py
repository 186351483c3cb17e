"""`model-registry serve --engine ray` on a real local Ray instance with 2 replicas per family:
a bounded load across a promote and a rollback gets no failed request, every answer comes
from a holder of its route at that time, every replica serves the new version once a reload
has answered, and the one ledger holds exactly the decisions the clients received."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from vml_testkit.evidence import copy_registry
from vml_testkit.serving import FAMILY, Client, Server, probe

import versioned_ml_registry as reg

pytestmark = [pytest.mark.slow, pytest.mark.load]

CLIENTS = 4


def v2_body(records: list) -> dict:
    return {"inputs": [{"name": name, "datatype": "FP64", "shape": [len(records)], "data": [r[name] for r in records]}
                       for name in records[0]]}


@pytest.fixture
def ray_server(serving_base, tmp_path, monkeypatch):
    root = copy_registry(serving_base, tmp_path / "copy")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a local Ray instance of its own
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    server = Server(root, "--engine", "ray", "--replicas", "2", "--interval", "3600")
    with server:
        server.wait_healthy(timeout=240)
        yield server
        assert server.stop(timeout=120) == 0, server.log()


def test_replicas_follow_promote_and_rollback_under_load_with_one_ledger(ray_server):
    server, root = ray_server, ray_server.root
    records = probe(root, FAMILY, 2)
    answers, lock, stop = [], threading.Lock(), threading.Event()

    def client(index: int) -> None:
        connection = Client(server.port, timeout=60)
        while not stop.is_set():
            sent = time.monotonic()
            if index % 2:
                status, _, body = connection.predict(FAMILY, records)
                version, request_id = (body["version"], body["request_id"]) if status == 200 else (None, None)
            else:
                status, _, body = connection.request("POST", f"/v2/models/{FAMILY}/infer", v2_body(records))
                version, request_id = (body["model_version"], body["id"]) if status == 200 else (None, None)
            with lock:
                answers.append((sent, time.monotonic(), status, version, request_id))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    swaps = []  # (tags written, reload answered, old version, new version)
    try:
        deadline = time.monotonic() + 60
        while len(answers) < 20 and time.monotonic() < deadline:
            stop.wait(0.05)
        for change, old, new in ((lambda: reg.promote(str(root), FAMILY, "v0.2.0", "production"), "v0.1.0", "v0.2.0"),
                                 (lambda: reg.rollback(str(root), FAMILY, reason="test: roll back"), "v0.2.0", "v0.1.0")):
            written = time.monotonic()
            change()
            status, _, view = Client(server.port, timeout=120).request("POST", "/v1/reload")
            assert status == 200 and view["families"][FAMILY]["serving"]["production"] == new, view
            swaps.append((written, time.monotonic(), old, new))
            deadline = time.monotonic() + 60
            while sum(1 for a in answers if a[0] > swaps[-1][1]) < 40 and time.monotonic() < deadline:
                stop.wait(0.05)  # let the clients send 40 requests after the reload answered
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    assert len(answers) > 80 and [a for a in answers if a[2] != 200] == []
    # in the windows between the tags moving and the reload answering, either holder answers;
    # outside them, only the holder of that time (both replicas switched before the reload answered)
    first, second = swaps
    assert {a[3] for a in answers} == {"v0.1.0", "v0.2.0"}
    assert {a[3] for a in answers if a[1] < first[0]} == {"v0.1.0"}
    assert {a[3] for a in answers if first[1] < a[0] and a[1] < second[0]} == {"v0.2.0"}
    assert {a[3] for a in answers if a[0] > second[1]} == {"v0.1.0"}

    received = [a[4] for a in answers]
    server.stop(timeout=120)  # the ledger actor writes its last rows before the command exits
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", "list", "--limit", "1000000",
                           "--json", "--ledger", str(server.ledger)], capture_output=True, text=True)
    rows = json.loads(done.stdout)
    assert sorted(row["request_id"] for row in rows) == sorted(received)
    assert subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", "verify", "--ledger",
                           str(server.ledger)], capture_output=True).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["--replicas", "2"], "--replicas and --address need --engine ray"),
    (["--address", "ray://head:10001"], "--replicas and --address need --engine ray"),
    (["--engine", "ray", "--replicas", "0"], "--replicas must be from 1 to 1000, not 0"),
])
def test_bad_engine_options_are_one_line(serving_base, tmp_path, args, message):
    root = copy_registry(serving_base, tmp_path / "copy")
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "serve", *args], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [f"error: {message}"]
