"""Large bodies in worker processes (``serve --workers N``): decided in another process, with the
same answers, refusals and ledger rows as in the server; a worker that dies is replaced. Real
server, real worker processes, a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import versioned_ml_registry as reg
from vml_testkit.evidence import copy_registry
from vml_testkit.git import git
from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, Client, Server, probe

from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.ledger import queries as ledger
from versioned_ml_registry.ledger.store import canonical, sha256
from versioned_ml_registry.serve.settings import serve_settings

pytestmark = pytest.mark.slow

MIN_BYTES = 2048  # params.yaml serving.worker_min_bytes in these tests: 150 records are over it, in v1 and V2


def with_serving(root, text: str):
    params = root / "params.yaml"
    params.write_text(params.read_text() + "serving:\n" + text)
    return root


@pytest.fixture(scope="module")
def server(serving_base, tmp_path_factory):
    root = with_serving(copy_registry(serving_base, tmp_path_factory.mktemp("workers") / "copy"),
                        f"  worker_min_bytes: {MIN_BYTES}\n")
    with Server(root, "--workers", "1", "--interval", "0.3") as running:
        running.wait_healthy()
        yield running


def large(root, n: int = 150) -> list:
    records = (probe(root, FAMILY, 30) * (n // 30 + 1))[:n]
    assert len(json.dumps([list(r.values()) for r in records])) >= MIN_BYTES  # V2 bodies are the smaller
    return records


def rows_of(server, request_id: str):
    """The ledger rows of ``request_id`` once written (None before)."""
    try:
        return ledger.show(server.ledger, request_id)
    except RegistryError:
        return None


def seq_of(server, request_id: str) -> int:
    return poll(lambda: rows_of(server, request_id), 30, f"the row of {request_id}")[0]["seq"]


def workers(server) -> dict:
    return server.health()[1]["workers"]


def test_a_large_body_is_decided_in_a_worker_with_the_answer_and_row_of_the_server(server):
    records = large(server.root)
    before = workers(server)
    status, headers, body = server.client.predict(FAMILY, records)
    assert status == 200 and body["version"] == "v0.1.0", body
    after = workers(server)
    assert after["decided"] == before["decided"] + 1
    assert after["pids"] and server.proc.pid not in after["pids"]

    small = [server.client.predict(FAMILY, records[i:i + 5])[2]["predictions"] for i in range(0, len(records), 5)]
    assert workers(server)["decided"] == after["decided"]  # small bodies stay in the server
    assert body["predictions"] == [p for part in small for p in part]
    assert body["predictions"] == reg.load_model(FAMILY, version="v0.1.0", repo=str(server.root)).predict(records)

    rows = poll(lambda: rows_of(server, body["request_id"]), 30, "the row")
    assert [row["route"] for row in rows] == ["production"]
    assert rows[0]["input_sha256"] == sha256(canonical(records)) and rows[0]["output"] == body["predictions"]


def test_v2_and_probabilities_through_a_worker(server):
    records = large(server.root)
    status, _, body = server.client.request("POST", f"/v1/models/{FAMILY}/predict",
                                            {"records": records, "probabilities": True})
    assert status == 200 and len(body["probabilities"]) == len(records) and body["labels"]
    inputs = [{"name": n, "datatype": "FP64", "shape": [len(records)], "data": [r[n] for r in records]}
              for n in records[0]]
    status, _, answer = server.client.request("POST", f"/v2/models/{FAMILY}/infer", {"id": "big-1", "inputs": inputs})
    assert status == 200 and answer["id"] == "big-1" and answer["outputs"][0]["data"] == body["predictions"]


def test_a_bad_large_body_gets_the_per_field_refusal_and_no_row(server):
    records = large(server.root)
    one = [{"name": n, "datatype": "FP64", "shape": [1], "data": [records[0][n]]} for n in records[0]]
    assert server.client.request("POST", f"/v2/models/{FAMILY}/infer", {"id": "before-bad", "inputs": one})[0] == 200
    bad = [dict(record) for record in records]
    name = next(iter(bad[7]))
    bad[7][name] = "seven"
    status, _, body = server.client.predict(FAMILY, bad)
    assert status == 422, body
    assert body["errors"][0]["record"] == 7 and body["errors"][0]["field"] == json.dumps(name)
    assert "\n" not in body["error"] and body["errors_total"] == 1
    inputs = [{"name": n, "datatype": "FP64", "shape": [len(records)], "data": [r[n] for r in records]}
              for n in records[0]]
    inputs[0]["shape"] = [len(records) + 1]
    status, _, body = server.client.request("POST", f"/v2/models/{FAMILY}/infer", {"inputs": inputs})
    assert status == 400 and "shape" in body["error"], body
    assert server.client.request("POST", f"/v2/models/{FAMILY}/infer", {"id": "after-bad", "inputs": one})[0] == 200
    assert seq_of(server, "after-bad") == seq_of(server, "before-bad") + 1  # no row in between


def test_a_killed_worker_is_replaced_and_the_next_body_answered(server):
    records = large(server.root)
    assert server.client.predict(FAMILY, records)[0] == 200
    seen = workers(server)
    victim = seen["pids"][0]
    os.kill(victim, signal.SIGKILL)
    status, _, body = server.client.predict(FAMILY, records)
    assert status == 200, body
    now = workers(server)
    assert now["restarts"] == seen["restarts"] + 1 and victim not in now["pids"] and now["pids"]
    assert server.log().count("a worker process died") == 1
    assert "Traceback" not in server.log()


def test_a_shadow_gets_the_records_of_a_body_decided_in_a_worker(serving_base, tmp_path):
    root = with_serving(copy_registry(serving_base, tmp_path / "copy"), f"  worker_min_bytes: {MIN_BYTES}\n")
    with Server(root, "--workers", "1", "--interval", "0.2") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "shadow")
        server.wait_serving(FAMILY, "v0.2.0", route="shadow")
        records = large(root)
        status, _, body = server.client.predict(FAMILY, records)
        assert status == 200 and workers(server)["decided"] == 1
    rows = ledger.show(server.ledger, body["request_id"])
    assert [row["route"] for row in rows] == ["production", "shadow"]
    assert rows[1]["output"] == reg.load_model(FAMILY, version="v0.2.0", repo=str(root)).predict(records)
    assert rows[0]["input_sha256"] == rows[1]["input_sha256"]


@pytest.mark.parametrize("text, expected", [
    ("  workers: -1\n", "workers must be from 0 to 64 processes"),
    ("  workers: 65\n", "workers must be from 0 to 64 processes"),
    ("  workers: true\n", "workers must be a whole number, not True"),
    ("  workers: 2.9\n", "workers must be a whole number, not 2.9"),
    ("  workers: '3'\n", "workers must be a whole number, not '3'"),
    ("  workers: many\n", "workers must be a whole number, not 'many'"),
    ("  worker_min_bytes: true\n", "worker_min_bytes must be a whole number, not True"),
    ("  header_timeout: true\n", "header_timeout must be a number, not True"),
    ("  header_timeout: 0\n", "header_timeout must be from 0.1 to 3600 seconds"),
    ("  worker_min_bytes: 2000000\n", "worker_min_bytes must be from 0 to 1000000"),
    ("  ledger: {durable: true, commit_timeout: 0}\n", "ledger.commit_timeout must be from 0.1 to 3600"),
    ("  ledger: {durable: true, commit_timeout: soon}\n", "ledger.commit_timeout must be from 0.1 to 3600"),
])
def test_bad_worker_and_commit_settings_are_refused_in_one_line(tmp_path, text, expected):
    (tmp_path / "params.yaml").write_text("serving:\n" + text)
    with pytest.raises(RegistryError, match=expected):
        serve_settings(str(tmp_path), [FAMILY])


@pytest.mark.parametrize("where", ["option", "params"])
def test_workers_belong_to_the_local_engine(serving_base, tmp_path, where):
    root = copy_registry(serving_base, tmp_path / "copy")
    if where == "params":
        with_serving(root, "  workers: 2\n")
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "--repo", str(root), "serve",
                           "--engine", "ray", *(["--workers", "2"] if where == "option" else [])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "are for the local engine" in done.stderr and "Traceback" not in done.stderr


def test_a_worker_never_answers_with_another_model_under_the_same_version(serving_base, tmp_path):
    """The version tag moved after the server verified it: a worker that loads it now finds
    another commit, and refuses (503, not the model's failure) rather than answer with it."""
    root = with_serving(copy_registry(serving_base, tmp_path / "copy"), f"  worker_min_bytes: {MIN_BYTES}\n")
    with Server(root, "--workers", "1", "--interval", "0.3") as server:
        server.wait_healthy()
        records = large(root)
        assert server.client.predict(FAMILY, records)[0] == 200
        message = git(root, "tag", "-l", "--format=%(contents)", f"{FAMILY}@v0.2.0")
        commit = git(root, "rev-list", "-n1", f"{FAMILY}@v0.2.0")
        git(root, "tag", "-d", f"{FAMILY}@v0.1.0")
        git(root, "tag", "-a", f"{FAMILY}@v0.1.0", commit, "-m", message)
        os.kill(workers(server)["pids"][0], signal.SIGKILL)  # a fresh worker loads the version again
        status, _, body = server.client.predict(FAMILY, records)
        assert status == 503, body
        assert "v0.1.0" in body["error"] and "\n" not in body["error"]
        assert server.client.predict(FAMILY, records)[2] == body  # refused again, as said, without a reload
        assert server.client.predict(FAMILY, records[:5])[0] == 200  # the verified model still serves small bodies
        status, _, text = server.client.request("GET", "/metrics")
        failed = [line for line in text.splitlines() if line.startswith("model_request_errors_total") and 'kind="failed"' in line]
        assert not any(float(line.rsplit(" ", 1)[1]) for line in failed), failed


def test_a_durable_answer_that_cannot_commit_is_a_503_naming_its_request(serving_base, tmp_path):
    """The ledger locked by another writer: the answer waits ``commit_timeout``, then says so
    with its request id; once the lock goes, the row is written and the chain verifies."""
    root = with_serving(copy_registry(serving_base, tmp_path / "copy"),
                        "  ledger: {durable: true, commit_timeout: 1}\n")
    with Server(root, "--interval", "0.5") as server:
        server.wait_healthy()
        assert server.client.predict(FAMILY, probe(root, FAMILY, 1))[0] == 200
        blocker = sqlite3.connect(str(server.ledger), isolation_level=None, timeout=30)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            status, headers, body = server.client.predict(FAMILY, probe(root, FAMILY, 2))
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        assert status == 503, body
        assert body["error"].startswith("the decision ledger did not commit within 1 s"), body
        assert headers["x-request-id"] == body["request_id"]
        rows = poll(lambda: rows_of(server, body["request_id"]), 60, "the late row")
        assert rows[0]["output"] == reg.load_model(FAMILY, version="v0.1.0", repo=str(root)).predict(
            probe(root, FAMILY, 2))
    assert subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", "verify", "--ledger",
                           str(server.ledger)], capture_output=True).returncode == 0


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid: int) -> list:
    """The processes whose parent is ``pid`` (the workers, and multiprocessing's helpers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return found


@pytest.mark.parametrize("how", ["ctrl-c", "sigkill"])
def test_workers_end_with_the_server_quietly(serving_base, tmp_path, how):
    """Ctrl-C reaches the whole process group: the server stops the pool, no worker prints a
    traceback. A killed server cannot stop it: its workers end on their own."""
    with Server(copy_registry(serving_base, tmp_path / "copy"), "--workers", "2") as server:
        seen = server.wait_healthy()["workers"]["pids"]
        pids = children(server.proc.pid)
        assert seen and set(seen) <= set(pids) and all(map(alive, pids))
        if how == "ctrl-c":
            for pid in (server.proc.pid, *pids):
                os.kill(pid, signal.SIGINT)
            assert server.proc.wait(60) == 0
        else:
            server.proc.kill()
            server.proc.wait(60)
        poll(lambda: not any(map(alive, pids)), 30, "the workers to end")
    assert "Traceback" not in server.log()


def test_large_bodies_beyond_what_the_workers_can_queue_get_503_at_once(server):
    """24 bodies of 1 MB at the same instant against one worker (4 MB may wait): those beyond
    are refused at once with one line, the others answered, and only those have rows."""
    import threading

    record = probe(server.root, FAMILY, 1)[0]
    data = json.dumps({"records": [{k: v + 0.123456789012345 for k, v in record.items()}] * 9000}).encode()
    start, answers = threading.Barrier(24), []

    def send():
        client = Client(server.port)
        start.wait()
        answers.append(client.request("POST", f"/v1/models/{FAMILY}/predict", raw=data))

    threads = [threading.Thread(target=send) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [body for status, _, body in answers if status == 503]
    answered = [body for status, _, body in answers if status == 200]
    assert refused and answered and len(refused) + len(answered) == 24
    assert all("already have" in body["error"] and "\n" not in body["error"] for body in refused)
    for body in answered:
        assert poll(lambda: rows_of(server, body["request_id"]), 30, "its row")
    assert workers(server)["waiting"] == 0


def test_every_body_through_one_worker_under_concurrent_clients(serving_base, tmp_path):
    """worker_min_bytes: 0, as MLServer's inference pool: 16 clients at once are all answered
    by the worker (small bodies queue by the byte, not by the body)."""
    import threading

    root = with_serving(copy_registry(serving_base, tmp_path / "copy"), "  worker_min_bytes: 0\n")
    with Server(root, "--workers", "1") as server:
        server.wait_healthy()
        records, statuses, start = probe(root, FAMILY, 1), [], threading.Barrier(16)

        def client():
            connection = Client(server.port)
            start.wait()
            statuses.extend(connection.predict(FAMILY, records)[0] for _ in range(20))

        threads = [threading.Thread(target=client) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 320
        assert workers(server)["decided"] == 320
