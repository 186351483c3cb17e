"""Rollouts decided on evidence: a real server on 127.0.0.1, real traffic whose true labels are
known, real `POST /v1/feedback`, `model-registry rollout` writing real tags."""

from __future__ import annotations

import json

import pytest

from vml_testkit.git import git, tag_yaml
from vml_testkit.registry import run_cli
from vml_testkit.rollout import add_canary, rollout, set_policy, traffic
from vml_testkit.serving import FAMILY, Client, Server, copy_registry

pytestmark = pytest.mark.slow


def newest_tag(root, stage: str) -> str:
    return git(root, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(refname:lstrip=2)",
               f"refs/tags/{FAMILY}#{stage}#*")


def reason_of(root, tag: str) -> str:
    return tag_yaml(root, tag)["reason"]


@pytest.fixture
def canary_server(serving_base, tmp_path, request):
    """A copy of the served registry whose cultivar canary is ``request.param`` (shuffle or equal),
    served with half the traffic on the canary."""
    root = copy_registry(serving_base, tmp_path / "copy")
    set_policy(root)
    version = add_canary(root, shuffle=request.param == "worse")
    with Server(root, "--family", FAMILY, "--canary-percent", "50", "--interval", "0.2") as server:
        server.wait_healthy()
        server.wait_serving(FAMILY, version, route="canary")
        yield root, server, version


@pytest.mark.parametrize("canary_server", ["worse"], indirect=True)
def test_a_canary_without_outcomes_waits_and_a_worse_one_is_aborted(canary_server):
    root, server, version = canary_server
    traffic(server.port, 30, seed=1, feedback=False)
    waiting = rollout(root, server.port)
    assert waiting.returncode == 4, waiting.stdout + waiting.stderr
    assert f"{FAMILY}: wait" in waiting.stdout and "canary has 0 of 40 outcomes" in waiting.stdout
    print(waiting.stdout)

    routes = traffic(server.port, 240, seed=2)
    assert routes["canary"] >= 40 and routes["production"] >= 40
    aborted = rollout(root, server.port)
    print(aborted.stdout)
    assert aborted.returncode == 3, aborted.stdout + aborted.stderr
    assert f"{FAMILY}: abort canary {version}" in aborted.stdout
    assert "beyond noise" in aborted.stdout
    tag = newest_tag(root, "canary")
    reason = reason_of(root, tag)
    print(tag, reason)
    assert reason.startswith("rollout abort: accuracy") and "(n=" in reason
    assert run_cli(root, "resolve", FAMILY, "--stage", "production").stdout == "v0.1.0\n"
    server.wait_serving(FAMILY, None, route="canary")


@pytest.mark.parametrize("canary_server", ["equal"], indirect=True)
def test_an_equal_canary_is_never_aborted_over_20_looks_and_is_promoted(canary_server):
    root, server, version = canary_server
    decisions = []
    for look in range(20):
        traffic(server.port, 16, seed=100 + look)
        done = rollout(root, server.port, "--dry-run", "--json")
        assert done.returncode in (0, 4), done.stdout + done.stderr
        decisions.append(json.loads(done.stdout)["decision"])
    assert "abort" not in decisions and decisions[-1] == "promote", decisions
    assert run_cli(root, "resolve", FAMILY, "--stage", "production").stdout == "v0.1.0\n"  # dry runs wrote nothing
    promoted = rollout(root, server.port)
    print(promoted.stdout)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert run_cli(root, "resolve", FAMILY, "--stage", "production").stdout == f"{version}\n"
    reason = reason_of(root, newest_tag(root, "production"))
    print(reason)
    assert reason.startswith("rollout promote: no bound broken beyond noise after the soak") and "(n=" in reason
    server.wait_serving(FAMILY, version)


def test_inputs_outside_the_profile_are_flagged_counted_and_answered(serving_base, tmp_path):
    root = copy_registry(serving_base, tmp_path / "copy")
    with Server(root, "--family", FAMILY) as server:
        server.wait_healthy()
        client = Client(server.port)
        inside = {"alcohol": 13.0, "malic_acid": 3.0, "proline": 1000.0}
        status, _, body = client.predict(FAMILY, [inside, dict(inside, alcohol=99.0, proline=-5.0)])
        assert status == 200 and len(body["predictions"]) == 2
        flags = body["flags"]
        assert flags[0] == []
        assert [line.split(" outside")[0] for line in flags[1]] == ["alcohol: 99", "proline: -5"]
        assert flags[1][0].startswith("alcohol: 99 outside the training range [")
        status, _, plain = client.predict(FAMILY, [inside])
        assert status == 200 and "flags" not in plain
        status, _, v2 = client.request("POST", f"/v2/models/{FAMILY}/infer", {"inputs": [
            {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
            for name, value in dict(inside, alcohol=99.0).items()]})
        assert status == 200 and v2["parameters"]["input_flags"][0][0].startswith("alcohol: 99")
        metrics = server.get("/metrics")[1]
        text = metrics if isinstance(metrics, str) else json.dumps(metrics)
        assert f'model_input_flags_total{{family="{FAMILY}",kind="range",route="production",version="v0.1.0"}} 3.0' in text


def test_feedback_bad_input_is_one_line_and_changes_nothing(serving_base, tmp_path):
    root = copy_registry(serving_base, tmp_path / "copy")
    with Server(root, "--family", FAMILY) as server:
        server.wait_healthy()
        client = Client(server.port)
        status, _, body = client.predict(FAMILY, [{"alcohol": 13.0, "malic_acid": 3.0, "proline": 1000.0}])
        rid = body["request_id"]

        def post(payload):
            return client.request("POST", "/v1/feedback", payload)[::2]

        assert post({"request_id": "nope", "outcome": "barolo"}) == (
            404, {"error": "outcome 0: no decision has request id 'nope'; nothing recorded"})
        status, answer = post({"request_id": rid, "outcome": 3.5})
        assert status == 422 and answer["error"] == "outcome 0: 3.5 is not a label; nothing recorded"
        status, answer = post({"request_id": rid, "outcome": "merlot"})
        assert status == 422 and "'merlot' is not one of the labels" in answer["error"]
        status, answer = post({"outcomes": [{"request_id": rid, "outcome": "barolo"}, {"request_id": "x", "outcome": "barolo"}]})
        assert status == 404  # all or nothing: the first one is not recorded either
        assert post({"request_id": rid}) [0] == 400
        assert post({"request_id": rid, "outcome": "barolo"}) == (200, {"recorded": 1, "unchanged": 0})
        assert post({"request_id": rid, "outcome": "barolo"}) == (200, {"recorded": 0, "unchanged": 1})
        status, answer = post({"request_id": rid, "outcome": "barbera"})
        assert status == 409 and answer["error"].startswith(f"request {rid} already has the outcome")
        status, answer = post({"outcomes": [{"request_id": rid, "outcome": "barolo"},
                                            {"request_id": rid, "outcome": "barbera"}]})
        assert status == 409 and "two different outcomes in this call" in answer["error"]
        inputs = [{"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
                  for name, value in {"alcohol": 13.0, "malic_acid": 3.0, "proline": 1000.0}.items()]
        for _ in range(2):  # a V2 client chooses its ids, and may reuse one
            assert client.request("POST", f"/v2/models/{FAMILY}/infer", {"id": "mine", "inputs": inputs})[0] == 200
        status, answer = post({"request_id": "mine", "outcome": "barolo"})
        assert status == 409 and "2 decisions share request id 'mine'" in answer["error"]
        status, _, report = client.request("GET", f"/v1/models/{FAMILY}/rollout")
        assert status == 200 and report["live"] is False


def test_feedback_needs_the_token_whenever_the_server_has_one(serving_base, tmp_path, monkeypatch):
    root = copy_registry(serving_base, tmp_path / "copy")
    monkeypatch.setenv("MODEL_REGISTRY_TOKEN", "a-token-of-sixteen-chars-or-more")
    with Server(root, "--family", FAMILY) as server:
        server.wait_healthy()
        client = Client(server.port)
        status, _, body = client.predict(FAMILY, [{"alcohol": 13.0, "malic_acid": 3.0, "proline": 1000.0}])
        assert status == 200  # predict stays open: serving.auth.predict is false
        payload = {"request_id": body["request_id"], "outcome": "barolo"}
        assert client.request("POST", "/v1/feedback", payload)[0] == 401
        bearer = {"Authorization": "Bearer a-token-of-sixteen-chars-or-more"}
        assert client.request("POST", "/v1/feedback", payload, bearer)[::2] == (200, {"recorded": 1, "unchanged": 0})


@pytest.mark.parametrize("policy, message", [
    ({"soak": "0s", "min_requets": 5}, "unknown key 'min_requets'"),
    ({"min_requests": "many"}, "min_requests must be a whole number >= 0, not 'many'"),
    ({"soak": "soon"}, "'soon' is not a duration"),
    ({"max_psi": True}, "max_psi must be a number >= 0, not True"),
])
def test_a_bad_rollout_policy_is_one_line_and_writes_nothing(serving_base, tmp_path, policy, message):
    root = copy_registry(serving_base, tmp_path / "copy")
    set_policy(root, policy)
    before = git(root, "for-each-ref", "refs/tags")
    done = rollout(root, 9)  # the policy is read before any server is asked
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: conf/families/cultivar.yaml rollout") and message in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert git(root, "for-each-ref", "refs/tags") == before
