"""Who may call `model-registry serve`: the bearer token from the environment, the endpoints it
guards, and the refusal to listen beyond loopback without one. Real servers on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vml_testkit.evidence import copy_registry
from vml_testkit.serving import FAMILY, Client, Server, probe

from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.serve.auth import check_exposure, load_token, problem

TOKEN = "s3cret-token-0123456789abcdef"


def test_the_token_comes_from_the_environment_or_a_file(tmp_path):
    assert load_token({}) is None
    assert load_token({"MODEL_REGISTRY_TOKEN": TOKEN}) == TOKEN
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    assert load_token({"MODEL_REGISTRY_TOKEN_FILE": str(secret)}) == TOKEN
    for environ, message in (({"MODEL_REGISTRY_TOKEN": "short"}, "at least 16"),
                             ({"MODEL_REGISTRY_TOKEN": "a b" * 10}, "without spaces"),
                             ({"MODEL_REGISTRY_TOKEN": "é" * 20}, "printable ASCII"),
                             ({"MODEL_REGISTRY_TOKEN_FILE": str(tmp_path / "nope")}, "cannot read"),
                             ({"MODEL_REGISTRY_TOKEN": TOKEN, "MODEL_REGISTRY_TOKEN_FILE": str(secret)}, "not both")):
        with pytest.raises(RegistryError, match=message):
            load_token(environ)


@pytest.mark.parametrize("header, message", [
    (None, "needs the server's token"),
    ("", "needs the server's token"),
    (f"Basic {TOKEN}", "Authorization: Bearer <token>"),
    ("Bearer ", "Authorization: Bearer <token>"),
    ("Bearer wrong-token-0123456789", "the token is not valid"),
    (f"Bearer {TOKEN}x", "the token is not valid"),
    ("Bearer \udcff", "the token is not valid"),
])
def test_a_malformed_or_wrong_token_is_one_line(header, message):
    assert message in problem(header, TOKEN)


def test_the_right_token_passes():
    assert problem(f"Bearer {TOKEN}", TOKEN) is None
    assert problem(f"bearer {TOKEN}", TOKEN) is None


@pytest.mark.parametrize("host, token, insecure, refused", [
    ("127.0.0.1", None, False, False), ("localhost", None, False, False), ("::1", None, False, False),
    ("0.0.0.0", None, False, True), ("192.0.2.7", None, False, True), ("0.0.0.0", TOKEN, False, False),
    ("0.0.0.0", None, True, False),
])
def test_no_token_means_loopback_unless_insecure(host, token, insecure, refused):
    if refused:
        with pytest.raises(RegistryError, match=f"refusing to listen on {host} without a token"):
            check_exposure(host, token, insecure)
    else:
        check_exposure(host, token, insecure)


@pytest.mark.slow
def test_serve_refuses_a_public_address_without_a_token_in_one_line(serving_base, tmp_path):
    root = copy_registry(serving_base, tmp_path / "copy")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_REGISTRY_TOKEN")}
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "serve", "--host", "0.0.0.0", "--port", "0"],
                          cwd=root, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: refusing to listen on 0.0.0.0 without a token: set MODEL_REGISTRY_TOKEN or "
        "MODEL_REGISTRY_TOKEN_FILE, or pass --insecure to serve anyone who can reach it"]
    assert "MODEL_REGISTRY_TOKEN" in subprocess.run(
        [sys.executable, "-m", "versioned_ml_registry", "serve", "--help"], capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def guarded(serving_base, tmp_path_factory):
    """A server with a token, whose params.yaml asks for it on predict and infer too."""
    root = copy_registry(serving_base, tmp_path_factory.mktemp("guarded") / "copy")
    params = root / "params.yaml"
    params.write_text(params.read_text() + "serving:\n  auth:\n    predict: true\n")
    os.environ["MODEL_REGISTRY_TOKEN"] = TOKEN
    try:
        server = Server(root, "--interval", "0.5")
    finally:
        del os.environ["MODEL_REGISTRY_TOKEN"]
    with server:
        server.wait_healthy()
        yield server


ADMIN = [("POST", "/v1/reload"), ("POST", "/v2/repository/index"), ("POST", f"/v2/repository/models/{FAMILY}/load")]


@pytest.mark.slow
@pytest.mark.parametrize("method, path", ADMIN)
def test_admin_endpoints_need_the_token(guarded, method, path):
    client = Client(guarded.port)
    status, headers, body = client.request(method, path)
    assert status == 401 and body == {"error": "this endpoint needs the server's token: send Authorization: Bearer <token>"}
    assert headers["www-authenticate"].startswith("Bearer")
    assert client.request(method, path, headers={"Authorization": "Bearer not-the-token-at-all"})[0] == 401
    assert client.request(method, path, headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200


@pytest.mark.slow
def test_predict_and_infer_need_it_when_the_settings_say_so(guarded):
    client = Client(guarded.port)
    records = probe(guarded.root, FAMILY, 1)
    status, _, body = client.request("POST", f"/v1/models/{FAMILY}/predict", {"records": records})
    assert status == 401 and "\n" not in body["error"]
    inputs = [{"name": name, "datatype": "FP64", "shape": [1], "data": [value]} for name, value in records[0].items()]
    assert client.request("POST", f"/v2/models/{FAMILY}/infer", {"inputs": inputs})[0] == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.request("POST", f"/v1/models/{FAMILY}/predict", {"records": records}, bearer)[0] == 200
    assert client.request("POST", f"/v2/models/{FAMILY}/infer", {"inputs": inputs}, bearer)[0] == 200
    assert client.request("GET", "/healthz")[0] == 200  # probes stay open
