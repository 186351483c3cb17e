"""`model-registry serve` answers over HTTP with the version the production tag names;
`release --if-changed` is a no-op on an identical bundle (what CI runs on every merge to main)."""

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from vml_testkit.bake import copy_project
from vml_testkit.env import project_env
from vml_testkit.git import git, run
from vml_testkit.net import free_port
from vml_testkit.paths import MODEL_REGISTRY
from vml_testkit.registry import promote_to_production, registry

pytestmark = pytest.mark.slow

FAMILY = "cultivar"


@pytest.fixture(scope="module")
def released(reproduced, tmp_path_factory):
    """The default project with v0.1.0 released and promoted to production."""
    base = tmp_path_factory.mktemp("serve")
    project = copy_project(reproduced, base / "wine-cultivar", base / "storage")
    git(project, "add", "--all")
    git(project, "commit", "-qm", "feat: first model")
    registry(project, "release", FAMILY)
    run(project, "dvc", "push")  # production needs the artifacts in the DVC remote
    promote_to_production(project, FAMILY, "v0.1.0")
    return project


def http(method: str, url: str, body: bytes | None = None):
    """(status, headers (case-insensitive), JSON body) of one request; error statuses are answers too."""
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers, json.loads(answer.read())


@pytest.fixture(scope="module")
def server(released, tmp_path_factory):
    """`model-registry serve` on a free port (ledger outside the repository), healthy."""
    logs = tmp_path_factory.mktemp("serve-logs")
    port = free_port()
    with open(logs / "serve.log", "w") as log:
        proc = subprocess.Popen([str(MODEL_REGISTRY), "serve", "--family", FAMILY, "--port", str(port),
                                 "--ledger", str(logs / "ledger.sqlite")], cwd=released,
                                env=project_env(released), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"serve exited {proc.returncode}:\n{(logs / 'serve.log').read_text()}"
            try:
                if http("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"serve never became healthy:\n{(logs / 'serve.log').read_text()}"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_serve_predicts_with_the_production_bundle(released, server):
    fingerprint = json.loads((released / "models" / FAMILY / "fingerprint.json").read_text())
    records = fingerprint["probe"][:25]
    status, headers, out = http("POST", f"{server}/v1/models/{FAMILY}/predict", json.dumps({"records": records}).encode())
    assert status == 200, out
    assert registry(released, "resolve", FAMILY, "--stage", "production").stdout.strip() == "v0.1.0"
    assert {k: out[k] for k in ("family", "version", "predictions")} == \
        {"family": FAMILY, "version": "v0.1.0", "predictions": fingerprint["predictions"][:25]}
    assert headers["X-Model-Version"] == "v0.1.0" and headers["X-Request-Id"] == out["request_id"]


def test_serve_refuses_bad_input_in_one_line(server):
    status, _, out = http("POST", f"{server}/v1/models/{FAMILY}/predict", b"not json")
    assert 400 <= status < 500, (status, out)
    assert "JSON" in out["error"] and len(out["error"].splitlines()) == 1, out
    status, _, out = http("POST", f"{server}/v1/models/nosuch/predict", json.dumps({"records": [{}]}).encode())
    assert status == 404 and "nosuch" in out["error"] and len(out["error"].splitlines()) == 1, out


def test_release_if_changed_writes_nothing_for_an_identical_bundle(released):
    tags = git(released, "for-each-ref", "refs/tags")
    refused = registry(released, "release", FAMILY, check=False)
    assert refused.returncode == 2 and "identical to v0.1.0" in refused.stderr
    done = registry(released, "release", FAMILY, "--if-changed")
    assert "cultivar bundle is identical to v0.1.0: nothing to release" in done.stdout
    assert git(released, "for-each-ref", "refs/tags") == tags


def test_release_if_changed_still_refuses_a_dirty_workspace(released):
    tags = git(released, "for-each-ref", "refs/tags")
    (released / "notes.txt").write_text("not committed\n")
    try:
        done = registry(released, "release", FAMILY, "--if-changed", check=False)
    finally:
        (released / "notes.txt").unlink()
    assert done.returncode == 2 and "uncommitted changes" in done.stderr
    assert git(released, "for-each-ref", "refs/tags") == tags
