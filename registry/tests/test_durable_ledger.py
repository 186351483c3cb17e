"""A durable ledger survives a crash: with `--durable-ledger`, a server SIGKILLed under load has
a ledger row for every answer any client received, and its chain verifies. Real server, real
clients over 127.0.0.1, a real SIGKILL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest

from vml_testkit.evidence import copy_registry
from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, Client, Server, probe

from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.serve.settings import ledger_durable

pytestmark = pytest.mark.slow

CLIENTS = 8


def decisions(ledger, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", *args, "--ledger", str(ledger)],
                          capture_output=True, text=True)


def test_the_setting_is_a_boolean_in_the_ledger_mapping():
    assert ledger_durable(None, {}) is False  # the default: its cost measured over 1.2x (benchmarks/serving.py)
    assert ledger_durable(None, {"ledger": "x.sqlite"}) is False
    assert ledger_durable(None, {"ledger": {"path": "x.sqlite", "durable": True}}) is True
    assert ledger_durable(False, {"ledger": {"durable": True}}) is False
    assert ledger_durable(True, {"ledger": {"durable": False}}) is True
    with pytest.raises(RegistryError, match="ledger.durable must be true or false"):
        ledger_durable(None, {"ledger": {"durable": "yes"}})
    with pytest.raises(RegistryError, match="a mapping with path, durable and commit_timeout"):
        ledger_durable(None, {"ledger": {"fast": True}})


def test_every_answer_a_client_received_survives_a_sigkill(serving_base, tmp_path):
    root = copy_registry(serving_base, tmp_path / "copy")
    ledger = tmp_path / "durable.sqlite"
    records = probe(root, FAMILY, 3)
    answered, lock, stop = [], threading.Lock(), threading.Event()

    def client(port: int) -> None:
        connection = Client(port, timeout=30)
        while not stop.is_set():
            try:
                status, _, body = connection.predict(FAMILY, records)
            except OSError:
                return  # the server is gone
            if status == 200:
                with lock:
                    answered.append(body["request_id"])

    with Server(root, "--durable-ledger", ledger=ledger) as server:
        server.wait_healthy()
        threads = [threading.Thread(target=client, args=(server.port,)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        poll(lambda: len(answered) >= 300, 120, "300 answers under load")
        server.proc.send_signal(signal.SIGKILL)  # mid-load: requests in flight on every client
        server.proc.wait(30)
        stop.set()
        for thread in threads:
            thread.join(60)
    received = set(answered)

    assert decisions(ledger, "verify").returncode == 0
    rows = json.loads(decisions(ledger, "list", "--limit", "1000000", "--json").stdout)
    missing = received - {row["request_id"] for row in rows}
    assert not missing, f"{len(missing)} of {len(received)} answered decisions have no ledger row"

    with Server(root, "--durable-ledger", ledger=ledger) as again:  # the restarted server appends to the chain
        again.wait_healthy()
        status, _, body = again.client.predict(FAMILY, records)
        assert status == 200
        assert decisions(ledger, "show", body["request_id"], "--json").returncode == 0
    assert decisions(ledger, "verify").returncode == 0
