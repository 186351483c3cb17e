"""`model-registry serve` over real HTTP on 127.0.0.1: predictions, the validation errors a
caller sees, the read endpoints, and the ledger rows behind each answer.

One server, started once for the module, serves a copy of the registry built by
:mod:`vml_testkit.serving` (classification ``cultivar``, regression ``price``); nothing here
changes its tags.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, REGRESSION, probe, serving_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(serving_base, tmp_path_factory):
    with serving_copy(serving_base, tmp_path_factory.mktemp("served"), "--interval", "0.5") as running:
        yield running


def decisions(server, *args):
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", *args,
                           "--ledger", str(server.ledger)], capture_output=True, text=True)


def ledger_rows(server, request_id):
    """The ledger rows of ``request_id``, once the writer has written them."""
    def written():
        done = decisions(server, "show", request_id, "--json")
        return json.loads(done.stdout) if done.returncode == 0 else None
    return poll(written, 20, f"the ledger row of {request_id}")


def test_predicts_classification_and_regression_with_the_production_holder(server):
    for family in (FAMILY, REGRESSION):
        fingerprint = json.loads((server.root / "models" / family / "fingerprint.json").read_text())
        records = fingerprint["probe"][:10]
        status, headers, body = server.client.predict(family, records)
        assert status == 200, body
        assert set(body) - {"flags"} == {"family", "version", "request_id", "predictions"}  # flags: docs/SERVING.md
        assert body["family"] == family and body["version"] == "v0.1.0"
        assert headers["x-model-version"] == "v0.1.0" and headers["x-request-id"] == body["request_id"]
        assert headers["x-model-route"] == "production"
        assert len(body["predictions"]) == 10
        kinds = {type(value) for value in body["predictions"]}
        assert kinds == ({str} if family == FAMILY else {float})

        rows = ledger_rows(server, body["request_id"])
        assert len(rows) == 1
        row = rows[0]
        assert (row["family"], row["version"], row["route"]) == (family, "v0.1.0", "production")
        assert row["input"] == records and row["output"] == body["predictions"]
        assert len(row["commit"]) == 40 and len(row["input_sha256"]) == 64


def test_the_answers_are_the_versions_own_predictions(server):
    from versioned_ml_registry import load_model

    for family in (FAMILY, REGRESSION):
        model = load_model(family, version="v0.1.0", repo=str(server.root))  # the verified path
        status, _, body = server.client.predict(family, model.fingerprint["probe"])
        assert status == 200 and body["predictions"] == model.fingerprint["predictions"]


@pytest.mark.parametrize("records, field, message", [
    ([{"alcohol": 13.0, "malic_acid": 2.0, "prolin": 700}], '"prolin"', 'did you mean "proline"?'),
    ([{"alcohol": True, "malic_acid": 2.0, "proline": 700}], '"alcohol"', "must be a number, got true"),
    ([{"alcohol": "13", "malic_acid": 2.0, "proline": 700}], '"alcohol"', 'must be a number, got "13"'),
    ([{"alcohol": 13.0, "proline": 700}], '"malic_acid"', "is required"),
    ([{"alcohol": 13.0, "malic_acid": 2.0, "proline": 700, "colour": 3}], '"colour"', "is not an input"),
    (["not a record"], None, 'must be an object, got "not a record"'),
])
def test_invalid_records_get_422_with_per_field_errors(server, records, field, message):
    good = probe(server.root, FAMILY, 2)
    status, headers, body = server.client.predict(FAMILY, good + records)
    assert status == 422, body
    assert headers["x-model-version"] == "v0.1.0" and "x-request-id" not in headers
    assert body["version"] == "v0.1.0" and "\n" not in body["error"]
    problem = next(e for e in body["errors"] if e["error"].endswith(message) or message in e["error"])
    assert problem["record"] == 2 and problem["field"] == field


@pytest.mark.parametrize("raw, status, message", [
    (b'{"records": [{"alcohol": NaN, "malic_acid": 1, "proline": 1}]}', 422, "NaN is not a number"),
    (b'{"records": [{"alcohol": Infinity, "malic_acid": 1, "proline": 1}]}', 422, "Infinity is not a number"),
    (b'{"records": [{"alcohol": 1e999, "malic_acid": 1, "proline": 1}]}', 422, "is not a finite number"),
    (b"[" * 64 + b"]" * 64, 422, "nested deeper than 16 levels"),
    (b"not json", 422, "body is not valid JSON"),
    (b'{"records": {"alcohol": 1}}', 422, '"records" must be a list'),
    (b'{"records": [], "extra": 1}', 422, "unexpected keys"),
    (b'{"records": []}', 422, "no records"),
    (b'{"records": [' + b'{"alcohol": 1.0, "malic_acid": 1.0, "proline": 1.0},' * 30000 + b"{}]}", 413,
     "over the limit"),
])
def test_bad_bodies_are_refused_cleanly(server, raw, status, message):
    got, _, body = server.client.request("POST", f"/v1/models/{FAMILY}/predict", raw=raw)
    assert got == status, body
    assert message in body["error"] and "\n" not in body["error"] and "Traceback" not in json.dumps(body)


def test_unknown_family_and_path_are_json_errors(server):
    status, _, body = server.client.predict("nope", [{}])
    assert status == 404 and body["error"] == "family 'nope' is not served here (served: cultivar, price)"
    status, _, body = server.client.request("GET", "/v2/anything")
    assert status == 404 and body == {"error": "GET /v2/anything: Not Found"}
    status, _, body = server.client.request("GET", "/v1/reload")
    assert status == 405 and "Method Not Allowed" in body["error"]


def test_refused_requests_write_no_ledger_row(server):
    status, _, body = server.client.predict(FAMILY, probe(server.root, FAMILY, 1))
    assert status == 200
    ledger_rows(server, body["request_id"])  # written: everything before it is too
    before = json.loads(decisions(server, "list", "--limit", "100000", "--json").stdout)
    assert server.client.predict(FAMILY, [{"alcohol": True}])[0] == 422
    status, _, body = server.client.predict(FAMILY, probe(server.root, FAMILY, 1))
    ledger_rows(server, body["request_id"])
    after = json.loads(decisions(server, "list", "--limit", "100000", "--json").stdout)
    assert [row["request_id"] for row in after] == [row["request_id"] for row in before] + [body["request_id"]]


def test_models_healthz_and_metrics(server):
    status, health = server.get("/healthz")
    assert status == 200 and health["status"] == "ok"
    assert health["families"][FAMILY] == {"serving": "v0.1.0", "holder": "v0.1.0", "problems": []}
    models = server.models()
    assert set(models) == {FAMILY, REGRESSION}
    for family in models.values():
        assert family["holders"] == {"production": "v0.1.0", "canary": None, "shadow": None}
        assert family["serving"] == {"production": "v0.1.0", "canary": None, "shadow": None}
        assert family["loaded"] == ["v0.1.0"] and family["canary_percent"] == 10.0
    status, text = server.client.request("GET", "/metrics")[0], server.client.request("GET", "/metrics")[2]
    assert status == 200
    assert f'model_serving{{family="{FAMILY}",route="production",version="v0.1.0"}} 1.0' in text
    assert f'model_requests_total{{code="200",family="{FAMILY}",route="production",version="v0.1.0"}}' in text
    assert f'model_request_errors_total{{family="{FAMILY}",kind="invalid",version="v0.1.0"}}' in text
    assert f'model_request_latency_seconds_bucket{{family="{REGRESSION}",le="0.005",route="production"' in text


def test_decisions_list_filters_and_show_answers_which_version_decided(server):
    status, _, body = server.client.predict(REGRESSION, probe(server.root, REGRESSION, 3))
    assert status == 200
    ledger_rows(server, body["request_id"])
    listed = json.loads(decisions(server, "list", "--family", REGRESSION, "--version", "v0.1.0", "--json").stdout)
    assert listed and {(r["family"], r["version"]) for r in listed} == {(REGRESSION, "v0.1.0")}
    assert json.loads(decisions(server, "list", "--since", "2999-01-01", "--json").stdout) == []
    shown = decisions(server, "show", body["request_id"])
    assert shown.returncode == 0
    assert f"decided by {REGRESSION} v0.1.0 (commit " in shown.stdout and "route production" in shown.stdout
    missing = decisions(server, "show", "no-such-request")
    assert missing.returncode == 2 and missing.stderr.startswith("error: no decision with request id")
    bad_time = decisions(server, "list", "--since", "yesterday")
    assert bad_time.returncode == 2 and "neither unix seconds nor an ISO 8601 time" in bad_time.stderr
