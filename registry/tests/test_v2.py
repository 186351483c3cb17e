"""The Open Inference Protocol (V2, REST) of `model-registry serve`, spoken by a real client that
nobody here wrote (tritonclient's HTTP client), and its refusals over real HTTP on 127.0.0.1.

One server, started once for the module, serves a copy of the registry built by
:mod:`vml_testkit.serving` (classification ``cultivar`` with v0.1.0 in production, regression
``price``); nothing here changes its tags.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, REGRESSION, probe, serving_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(serving_base, tmp_path_factory):
    with serving_copy(serving_base, tmp_path_factory.mktemp("served-v2"), "--interval", "0.5") as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    found = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield found
    found.close()


def signature(server, family: str) -> dict:
    return json.loads((server.root / "models" / family / "signature.json").read_text())


def decisions(server, *args):
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", "decisions", *args,
                           "--ledger", str(server.ledger)], capture_output=True, text=True)


def ledger_rows(server, request_id: str) -> list:
    def written():
        done = decisions(server, "show", request_id, "--json")
        return json.loads(done.stdout) if done.returncode == 0 else None
    return poll(written, 20, f"the ledger row of {request_id}")


def tensors(records: list, names: list) -> list:
    """One FP64 input of shape [N] per column, sent as JSON (the protocol's default body)."""
    found = []
    for name in names:
        tensor = triton.InferInput(name, [len(records)], "FP64")
        tensor.set_data_from_numpy(np.array([r[name] for r in records], dtype=np.float64), binary_data=False)
        found.append(tensor)
    return found


JSON = {"Content-Type": "application/json"}  # tritonclient sends none; the server requires it (no CSRF)


def outputs(*names: str) -> list:
    return [triton.InferRequestedOutput(name, binary_data=False) for name in names]


def test_a_v2_client_sees_a_live_ready_server_and_its_models(client, server):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(FAMILY) and client.is_model_ready(REGRESSION)
    assert client.is_model_ready(FAMILY, "v0.1.0")
    assert not client.is_model_ready(FAMILY, "9.9.9")
    meta = client.get_server_metadata()
    assert meta["name"] == "versioned-ml-registry" and "model_repository" in meta["extensions"]

    model = client.get_model_metadata(FAMILY)
    expected = [spec["name"] for spec in signature(server, FAMILY)["inputs"]]
    assert [tensor["name"] for tensor in model["inputs"]] == expected
    assert {tensor["datatype"] for tensor in model["inputs"]} == {"FP64"}
    assert [(out["name"], out["datatype"]) for out in model["outputs"]] == [("predict", "BYTES"), ("predict_proba", "FP64")]
    assert model["outputs"][1]["shape"] == [-1, len(signature(server, FAMILY)["output"]["labels"])]
    assert "v0.1.0" in model["versions"]
    regression = client.get_model_metadata(REGRESSION)
    assert [(out["name"], out["datatype"]) for out in regression["outputs"]] == [("predict", "FP64")]


def test_infer_answers_as_the_v1_endpoint_with_the_id_and_version_in_the_ledger(client, server):
    records = probe(server.root, FAMILY, 8)
    names = [spec["name"] for spec in signature(server, FAMILY)["inputs"]]
    result = client.infer(FAMILY, tensors(records, names), outputs=outputs("predict", "predict_proba"),
                          request_id="order-4711", headers=JSON)
    response = result.get_response()
    assert response["model_name"] == FAMILY and response["model_version"] == "v0.1.0"
    assert response["id"] == "order-4711"
    labels = [value.decode() if isinstance(value, bytes) else value for value in result.as_numpy("predict").tolist()]
    status, _, v1 = server.client.request("POST", f"/v1/models/{FAMILY}/predict",
                                          {"records": records, "probabilities": True})
    assert status == 200 and labels == v1["predictions"]
    probabilities = result.as_numpy("predict_proba")
    assert probabilities.shape == (8, len(v1["labels"]))
    assert np.allclose(probabilities, np.array(v1["probabilities"])) and np.allclose(probabilities.sum(axis=1), 1.0)

    rows = ledger_rows(server, "order-4711")
    assert [(row["family"], row["version"], row["route"]) for row in rows] == [(FAMILY, "v0.1.0", "production")]
    assert rows[0]["output"] == labels


def test_without_an_id_the_answer_carries_the_ledgers(client, server):
    records = probe(server.root, REGRESSION, 3)
    names = [spec["name"] for spec in signature(server, REGRESSION)["inputs"]]
    result = client.infer(REGRESSION, tensors(records, names), headers=JSON)
    response = result.get_response()
    assert [out["name"] for out in response["outputs"]] == ["predict"]
    assert result.as_numpy("predict").dtype == np.float64 and result.as_numpy("predict").shape == (3,)
    rows = ledger_rows(server, response["id"])
    assert rows[0]["family"] == REGRESSION and rows[0]["version"] == response["model_version"]


def test_a_version_in_the_path_serves_that_loaded_version_only(client, server):
    records = probe(server.root, FAMILY, 2)
    names = [spec["name"] for spec in signature(server, FAMILY)["inputs"]]
    result = client.infer(FAMILY, tensors(records, names), model_version="v0.1.0", request_id="pinned-1",
                          headers=JSON)
    assert result.get_response()["model_version"] == "v0.1.0"
    assert ledger_rows(server, "pinned-1")[0]["route"] == "pinned"
    with pytest.raises(InferenceServerException) as refused:
        client.infer(FAMILY, tensors(records, names), model_version="v0.3.0", headers=JSON)  # staging: not loaded here
    assert refused.value.status() == "404" and "is not loaded and verified here" in refused.value.message()


def test_the_repository_extension_reads_the_tags_now(client, server):
    index = {entry["name"]: entry for entry in client.get_model_repository_index()}
    assert index[FAMILY]["state"] == "READY" and index[FAMILY]["version"] == "v0.1.0"
    client.load_model(FAMILY)
    with pytest.raises(InferenceServerException) as refused:
        client.unload_model(FAMILY)
    assert refused.value.status() == "400" and "the tags decide what serves" in refused.value.message()


def test_v1_probabilities_are_refused_for_a_regression(server):
    status, _, body = server.client.request("POST", f"/v1/models/{REGRESSION}/predict",
                                            {"records": probe(server.root, REGRESSION, 1), "probabilities": True})
    assert status == 422 and "gives no class probabilities" in body["error"]
    status, _, body = server.client.request("POST", f"/v1/models/{FAMILY}/predict",
                                            {"records": probe(server.root, FAMILY, 1), "probabilities": "yes"})
    assert status == 422 and body["error"] == '"probabilities" must be true or false'


def column(name: str, data, datatype: str = "FP64", shape=None) -> dict:
    return {"name": name, "datatype": datatype, "shape": shape if shape is not None else [len(data)], "data": data}


def good_inputs(server, n: int = 2) -> list:
    records = probe(server.root, FAMILY, n)
    return [column(spec["name"], [r[spec["name"]] for r in records]) for spec in signature(server, FAMILY)["inputs"]]


def bad_bodies(server) -> dict:
    good = good_inputs(server)
    first, rest = good[0], good[1:]
    return {
        "wrong shape": ({"inputs": [dict(first, shape=[1, 2]), *rest]}, "shape must be [N] or [N, 1]"),
        "shape and data disagree": ({"inputs": [dict(first, shape=[3]), *rest]}, "needs 3 values, data holds 2"),
        "mismatched lengths": ({"inputs": [*rest, column(first["name"], first["data"] * 2)]}, "every input needs the same N"),
        "unknown datatype": ({"inputs": [dict(first, datatype="FP128"), *rest]}, 'unknown datatype "FP128"'),
        "BYTES for a number": ({"inputs": [dict(first, datatype="BYTES", data=["a", "b"]), *rest]},
                               "is numeric: send a number datatype"),
        "a string in FP64": ({"inputs": [dict(first, data=["1.0", 2.0]), *rest]}, "FP64 data must be numbers"),
        "missing input": ({"inputs": rest}, f'missing input "{first["name"]}"'),
        "unknown input": ({"inputs": [*good, column("colour", [1.0, 2.0])]}, 'unknown input "colour"'),
        "duplicate input": ({"inputs": [*good, first]}, "is given twice"),
        "no inputs": ({"inputs": []}, '"inputs" must be a non-empty list'),
        "not an object": ([1, 2], "send an inference request"),
        "unknown output": ({"inputs": good, "outputs": [{"name": "logits"}]}, 'unknown output "logits"'),
        "binary output": ({"inputs": good, "outputs": [{"name": "predict", "parameters": {"binary_data": True}}]},
                          "binary data is not supported"),
        "a long id": ({"inputs": good, "id": "x" * 500}, '"id" must be a printable string'),
        "no rows": ({"inputs": [dict(t, shape=[0], data=[]) for t in good]}, "no rows"),
        "parameters not an object": ({"inputs": [dict(first, parameters=[1]), *rest]}, '"parameters" must be an object'),
    }


CASES = ["wrong shape", "shape and data disagree", "mismatched lengths", "unknown datatype", "BYTES for a number",
         "a string in FP64", "missing input", "unknown input", "duplicate input", "no inputs", "not an object",
         "unknown output", "binary output", "a long id", "no rows", "parameters not an object"]


@pytest.mark.parametrize("case", CASES)
def test_malformed_v2_bodies_are_400_with_one_line_and_no_decision(server, case):
    body, message = bad_bodies(server)[case]
    before = decisions(server, "list", "--limit", "100000", "--json").stdout
    status, _, answer = server.client.request("POST", f"/v2/models/{FAMILY}/infer", body)
    assert status == 400, answer
    assert set(answer) >= {"error"} and message in answer["error"] and "\n" not in answer["error"]
    assert decisions(server, "list", "--limit", "100000", "--json").stdout == before


def test_unknown_families_and_versions_are_404_and_echo_little(server):
    status, _, body = server.client.request("POST", "/v2/models/nope/infer", {"inputs": good_inputs(server)})
    assert status == 404 and body["error"].startswith("family 'nope' is not served here")
    status, _, body = server.client.request("POST", f"/v2/models/{FAMILY}/versions/9.9.9/infer",
                                            {"inputs": good_inputs(server)})
    assert status == 404 and "is not loaded and verified here" in body["error"]
    status, _, body = server.client.predict("n" * 10_000, [{}])
    assert status == 404 and len(body["error"]) < 200
