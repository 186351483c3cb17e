"""Hostile HTTP against `model-registry serve`, over real sockets on 127.0.0.1: each case gets a
JSON 4xx with one line, the server stays healthy, and no ledger row is added.

One server, started once for the module, serves a copy of the registry built by
:mod:`vml_testkit.serving`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from vml_testkit.evidence import copy_registry
from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, REGRESSION, Client, Server, probe, serving_copy

from versioned_ml_registry.serve.validation import MAX_ERRORS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(serving_base, tmp_path_factory):
    with serving_copy(serving_base, tmp_path_factory.mktemp("hostile"), "--interval", "0.5") as running:
        yield running


def ledger_ids(server) -> list:
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", "list", "--limit", "100000",
                           "--json", "--ledger", str(server.ledger)], capture_output=True, text=True)
    return [row["request_id"] for row in json.loads(done.stdout)] if done.returncode == 0 else []


@pytest.fixture
def unchanged(server):
    """Asserts, after the test, that the server is healthy and its ledger holds no new row."""
    status, _, body = server.client.predict(FAMILY, probe(server.root, FAMILY, 1))
    poll(lambda: body["request_id"] in ledger_ids(server), 20, "the ledger to catch up")
    before = ledger_ids(server)
    yield
    assert server.health()[0] == 200
    status, _, body = server.client.predict(FAMILY, probe(server.root, FAMILY, 1))
    poll(lambda: body["request_id"] in ledger_ids(server), 20, "the ledger to catch up")
    assert ledger_ids(server) == [*before, body["request_id"]]


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """(status line and headers, body) of one HTTP response read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b"\r\n\r\n"
    head, _, payload = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(payload) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        payload += chunk
    return head, payload


def one_line_json(status: int, body) -> str:
    assert 400 <= status < 500, body
    assert isinstance(body, dict) and "\n" not in body["error"]
    return body["error"]


@pytest.mark.parametrize("raw", [
    b'{"records": [{"alcohol": "\\ud800", "malic_acid": 1, "proline": 1}]}',
    b'{"records": [{"\\ud800": 1, "alcohol": 1, "malic_acid": 1, "proline": 1}]}',
])
def test_a_lone_surrogate_is_refused_as_json(server, unchanged, raw):
    status, headers, body = Client(server.port).request("POST", f"/v1/models/{FAMILY}/predict", raw=raw)
    assert status == 422 and headers["content-type"] == "application/json"
    assert "surrogate" in one_line_json(status, body)


def test_a_flood_of_errors_is_capped_and_counted(server, unchanged):
    status, _, body = Client(server.port).request("POST", f"/v1/models/{FAMILY}/predict", {"records": [{}] * 10_000})
    one_line_json(status, body)
    assert len(body["errors"]) == MAX_ERRORS and body["errors_total"] > 10_000
    assert f"(and {body['errors_total'] - 1} more)" in body["error"]
    unknown = {f"field_{i}": 1 for i in range(20_000)}
    status, _, body = Client(server.port).request("POST", f"/v1/models/{FAMILY}/predict", {"records": [unknown]})
    assert len(body["errors"]) == MAX_ERRORS and body["errors_total"] >= 20_000


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_post_that_is_not_json_is_415(server, unchanged, content_type):
    data = json.dumps({"records": probe(server.root, FAMILY, 1)}).encode()
    for path in (f"/v1/models/{FAMILY}/predict", f"/v2/models/{FAMILY}/infer"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            header = f"Content-Type: {content_type}\r\n" if content_type else ""
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{header}Content-Length: {len(data)}\r\n"
                         "Connection: close\r\n\r\n".encode() + data)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 415"), head
        assert "Content-Type: application/json" in one_line_json(415, json.loads(payload))


def test_a_client_that_leaves_mid_body_is_one_log_line(server, unchanged):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST /v1/models/{FAMILY}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n{\"records\": [".encode())
    poll(lambda: "the client disconnected before its body arrived" in server.log(), 20, "the disconnect to be logged")
    assert "Traceback" not in server.log()


def test_long_names_are_not_echoed_whole(server, unchanged):
    status, _, body = server.client.predict("x" * 10_000, [{}])
    assert status == 404 and len(one_line_json(status, body)) < 200
    status, _, body = server.client.request("GET", "/" + "y" * 5_000)
    assert status == 404 and len(one_line_json(status, body)) < 200
    status, _, body = server.client.request("POST", f"/v2/models/{FAMILY}/versions/{'9' * 5_000}/infer", {"inputs": []})
    assert status == 404 and len(one_line_json(status, body)) < 300


def failures_counted(server) -> float:
    status, _, text = Client(server.port).request("GET", "/metrics")
    lines = [line for line in text.splitlines() if line.startswith("model_request_errors_total") and 'kind="failed"' in line]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


@pytest.mark.parametrize("family", [FAMILY, REGRESSION])
@pytest.mark.parametrize("value", [1e308, -1e308])
def test_values_the_model_cannot_use_are_the_callers_not_the_models_failure(server, unchanged, family, value):
    failed = failures_counted(server)
    record = {name: value for name in probe(server.root, family, 1)[0]}
    status, _, body = server.client.predict(family, [record])
    assert status == 422 and "cannot use these values" in one_line_json(status, body)
    inputs = [{"name": name, "datatype": "FP64", "shape": [1], "data": [value]} for name in record]
    status, _, body = server.client.request("POST", f"/v2/models/{family}/infer", {"inputs": inputs})
    assert status == 400 and "cannot use these values" in one_line_json(status, body)
    assert failures_counted(server) == failed


def test_a_body_that_trickles_is_cut_off_with_408(serving_base, tmp_path):
    root = copy_registry(serving_base, tmp_path / "copy")
    params = root / "params.yaml"
    params.write_text(params.read_text() + "serving:\n  body_timeout: 1\n")
    with Server(root) as server:
        server.wait_healthy()
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(f"POST /v1/models/{FAMILY}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 1000\r\n\r\n{\"records\": [".encode())
            head, payload = read_response(sock)  # the server answers without the rest of the body
        assert head.startswith(b"HTTP/1.1 408"), head
        assert json.loads(payload) == {"error": "the body did not arrive within 1 s"}
        assert server.health()[0] == 200


@pytest.mark.parametrize("raw", [
    b"POST /v1/models/x/predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS client hello on the plain port
])
def test_requests_uvicorn_cannot_parse_get_a_json_400(server, unchanged, raw):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole header was sent
        head, payload = read_response(sock)
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"content-type: application/json" in head.lower()
    assert one_line_json(400, json.loads(payload)).startswith("Invalid HTTP request received")


def test_a_megabyte_of_headers_gets_a_json_431(server, unchanged):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole header was sent
        head, payload = read_response(sock)
    assert head.startswith(b"HTTP/1.1 431"), head
    assert one_line_json(431, json.loads(payload)) == "the request headers are over 65536 bytes"


@pytest.fixture(scope="module")
def impatient(serving_base, tmp_path_factory):
    """A server whose request headers must arrive within 1 s."""
    root = copy_registry(serving_base, tmp_path_factory.mktemp("impatient") / "copy")
    params = root / "params.yaml"
    params.write_text(params.read_text() + "serving:\n  header_timeout: 1\n")
    with Server(root) as server:
        server.wait_healthy()
        yield server


def closed(sock: socket.socket, trickle: bytes = b"") -> bool:
    """Whether the server closes ``sock`` (within its 30 s timeout), the client sending
    ``trickle`` every 0.2 s meanwhile."""
    sock.settimeout(0.2 if trickle else 30)
    for _ in range(150):
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            try:
                sock.sendall(trickle)
            except OSError:
                return True
        except OSError:
            return True
    return False


def test_headers_that_never_finish_are_cut_off_with_408(impatient):
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        sock.sendall(f"POST /v1/models/{FAMILY}/predict HTTP/1.1\r\nHost: x\r\n".encode())
        head, payload = read_response(sock)  # the server answers without the rest of the headers
        assert sock.recv(1) == b""  # and closes the connection
    assert head.startswith(b"HTTP/1.1 408"), head
    assert json.loads(payload) == {"error": "the request headers did not arrive within 1 s"}
    assert impatient.health()[0] == 200
    status, _, _ = impatient.client.predict(FAMILY, probe(impatient.root, FAMILY, 1))
    assert status == 200


@pytest.mark.parametrize("first", [False, True])
def test_a_connection_that_asks_nothing_is_closed(impatient, first):
    """Silent from the start, or blank lines after a first request (which reset uvicorn's own
    keep-alive timer): closed without an answer, as an idle keep-alive connection."""
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        if first:
            data = json.dumps({"records": probe(impatient.root, FAMILY, 1)}).encode()
            sock.sendall(f"POST /v1/models/{FAMILY}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
            head, _ = read_response(sock)
            assert head.startswith(b"HTTP/1.1 200"), head
        assert closed(sock, b"\r\n" if first else b"")
    assert impatient.health()[0] == 200


def test_trailers_count_as_headers(impatient):
    """A chunked body's trailers may not grow without bound: 431, and the server is unharmed."""
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        sock.sendall(f"POST /v1/models/{FAMILY}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n".encode())
        try:
            for _ in range(200):
                sock.sendall(b"X-Trailer: " + b"t" * 1000 + b"\r\n")
        except OSError:
            pass  # the server refused and stopped reading
        head, payload = read_response(sock)
    assert head.startswith(b"HTTP/1.1 431"), head
    assert json.loads(payload) == {"error": "the request headers are over 65536 bytes"}
    assert impatient.health()[0] == 200


def test_a_pipelined_request_with_oversized_headers_lets_the_first_be_answered(impatient):
    data = json.dumps({"records": probe(impatient.root, FAMILY, 1)}).encode()
    first = (f"POST /v1/models/{FAMILY}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(data)}\r\n\r\n").encode() + data
    with socket.create_connection(("127.0.0.1", impatient.port), timeout=30) as sock:
        try:
            sock.sendall(first + b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n")
        except OSError:
            pass
        head, payload = read_response(sock)
        assert head.startswith(b"HTTP/1.1 200"), head  # the first request's answer, whole
        assert json.loads(payload)["predictions"]
        assert closed(sock)  # then the connection closes: the oversized request gets no answer


def test_the_rest_of_a_body_answered_unread_is_not_taken_for_headers(server):
    """A 413 answers before the body is read; the rest of that body still arrives on the
    connection, and the next request on it is answered as usual."""
    client = Client(server.port)
    status, _, body = client.request("POST", f"/v1/models/{FAMILY}/predict", raw=b'{"records": [' + b"1," * 750_000 + b"1]}")
    assert status == 413, body
    status, _, body = client.predict(FAMILY, probe(server.root, FAMILY, 1))
    assert status == 200, body
