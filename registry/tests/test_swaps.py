"""The server follows the tags: promotions and rollbacks switch the served version (by polling
and by /v1/reload), a canary gets its share of traffic, sticky per key, a shadow answers only
into the ledger, and a version that fails its checks is never served.

Each test serves its own copy of the registry built by :mod:`vml_testkit.serving` and changes its
tags through the registry's API, as `model-registry promote/rollback/abort-canary` do.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading

import pytest

import versioned_ml_registry as reg
from vml_testkit.evidence import copy_registry
from vml_testkit.git import output
from vml_testkit.net import poll
from vml_testkit.serving import FAMILY, REGRESSION, Client, Server, probe

pytestmark = pytest.mark.slow


@pytest.fixture
def root(serving_base, tmp_path):
    return copy_registry(serving_base, tmp_path / "copy")


def versions_answering(server, family, n=20, key=None, records=None):
    records = records or probe(server.root, family, 2)
    answers = [server.client.predict(family, records, key) for _ in range(n)]
    assert all(status == 200 for status, _, _ in answers), answers
    return {body["version"] for _, _, body in answers}


def test_promote_and_rollback_switch_the_served_version_by_polling(root):
    with Server(root, "--interval", "0.2") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "production")
        server.wait_serving(FAMILY, "v0.2.0")
        assert versions_answering(server, FAMILY) == {"v0.2.0"}
        # the rollback target stays loaded, so a rollback switches without loading anything
        models = server.models()[FAMILY]
        assert models["previous_production"] == "v0.1.0" and "v0.1.0" in models["loaded"]
        reg.rollback(str(root), FAMILY, reason="test: roll back")
        server.wait_serving(FAMILY, "v0.1.0")
        assert versions_answering(server, FAMILY) == {"v0.1.0"}
        assert server.log().count(f"{FAMILY}: loading v0.1.0") == 1
        # the regression family follows its own tags
        reg.promote(str(root), REGRESSION, "v0.2.0", "production")
        server.wait_serving(REGRESSION, "v0.2.0")
        assert versions_answering(server, REGRESSION) == {"v0.2.0"}
        assert versions_answering(server, FAMILY) == {"v0.1.0"}


def test_reload_switches_at_once_without_polling(root):
    default_ledger = root / ".model-registry" / "ledger.sqlite"
    with Server(root, "--interval", "3600", ledger=default_ledger) as server:  # tags read at start, then on reload
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "production")
        assert versions_answering(server, FAMILY) == {"v0.1.0"}  # not re-read yet
        families = server.reload()
        assert families[FAMILY]["serving"]["production"] == "v0.2.0"
        assert versions_answering(server, FAMILY) == {"v0.2.0"}
        reg.rollback(str(root), FAMILY, reason="test: roll back")
        assert server.reload()[FAMILY]["serving"]["production"] == "v0.1.0"
        assert versions_answering(server, FAMILY) == {"v0.1.0"}
    # the ledger in the repository is git-ignored, and `decisions` finds it without --ledger
    assert output(root, "git", "status", "--porcelain") == ""
    listed = json.loads(output(root, sys.executable, "-m", "versioned_ml_registry", "decisions", "list", "--json"))
    assert [row["version"] for row in listed][-20:] == ["v0.1.0"] * 20


def test_the_canary_split_is_within_binomial_bounds_and_sticky(root):
    with Server(root, "--interval", "3600", "--canary-percent", f"{FAMILY}=20") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "canary")
        families = server.reload()
        assert families[FAMILY]["serving"] == {"production": "v0.1.0", "canary": "v0.2.0", "shadow": None}
        assert families[FAMILY]["canary_percent"] == 20.0 and families[REGRESSION]["canary_percent"] == 10.0
        n, threads, per_route = 2000, 4, []
        records = probe(root, FAMILY, 1)

        def send(count):
            client = Client(server.port)
            for _ in range(count):
                status, headers, body = client.predict(FAMILY, records)
                assert status == 200
                per_route.append((headers["x-model-route"], body["version"]))

        workers = [threading.Thread(target=send, args=(n // threads,)) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(per_route) == n
        assert set(per_route) == {("production", "v0.1.0"), ("canary", "v0.2.0")}
        canary = sum(route == "canary" for route, _ in per_route)
        sigma = math.sqrt(n * 0.2 * 0.8)
        assert abs(canary - n * 0.2) < 4 * sigma, canary

        keys = [f"user-{i}" for i in range(200)]
        first = {key: server.client.predict(FAMILY, records, key)[1]["x-model-route"] for key in keys}
        for key in keys[:50]:
            for _ in range(3):
                assert server.client.predict(FAMILY, records, key)[1]["x-model-route"] == first[key]
        keyed = sum(route == "canary" for route in first.values())
        assert abs(keyed - 40) < 4 * math.sqrt(200 * 0.2 * 0.8), keyed

        reg.abort_canary(str(root), FAMILY, reason="test: end the canary")
        assert server.reload()[FAMILY]["serving"]["canary"] is None
        assert {server.client.predict(FAMILY, records, key)[1]["x-model-route"] for key in keys} == {"production"}


def test_promoting_the_canary_ends_the_split(root):
    with Server(root, "--interval", "0.2", "--canary-percent", "50") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "canary")
        server.wait_serving(FAMILY, "v0.2.0", route="canary")
        assert versions_answering(server, FAMILY, 60) == {"v0.1.0", "v0.2.0"}
        reg.promote(str(root), FAMILY, "v0.2.0", "production")
        server.wait_serving(FAMILY, None, route="canary")
        assert server.serving(FAMILY) == "v0.2.0"
        assert versions_answering(server, FAMILY, 40) == {"v0.2.0"}


def test_shadow_answers_only_into_the_ledger(root):
    with Server(root, "--interval", "0.2") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "shadow")
        server.wait_serving(FAMILY, "v0.2.0", route="shadow")
        records = probe(root, FAMILY, 30)
        answers = [server.client.predict(FAMILY, records) for _ in range(20)]
        for status, headers, body in answers:
            assert status == 200 and body["version"] == "v0.1.0" and headers["x-model-route"] == "production"
            assert set(body) - {"flags"} == {"family", "version", "request_id", "predictions"}
    assert server.proc.returncode == 0
    from versioned_ml_registry.ledger import queries as ledger

    shadow_model = reg.load_model(FAMILY, version="v0.2.0", repo=str(root))
    for _, _, body in answers:
        rows = ledger.show(server.ledger, body["request_id"])
        assert [row["route"] for row in rows] == ["production", "shadow"]
        production, shadow = rows
        assert production["version"] == "v0.1.0" and production["output"] == body["predictions"]
        assert shadow["version"] == "v0.2.0" and shadow["input_sha256"] == production["input_sha256"]
        assert shadow["output"] == shadow_model.predict(records)
    assert shadow["output"] != production["output"]  # v0.2.0 answers differently: it was never returned


def _corrupt_model_objects(root, version, remote=True):
    """Overwrite the model.skops object of ``version`` in the DVC cache (and the DVC remote)."""
    md5 = reg.version_info(str(root), FAMILY, version)["meta"]["md5"][f"models/{FAMILY}"]
    cache = root / ".dvc" / "cache" / "files" / "md5"
    manifest = json.loads((cache / md5[:2] / md5[2:]).read_text())
    model = next(entry["md5"] for entry in manifest if entry["relpath"] == "model.skops")
    for store in (cache, root.parent / "remote" / "files" / "md5") if remote else (cache,):
        path = store / model[:2] / model[2:]
        os.chmod(path, 0o644)
        path.write_bytes(b"not the model any more")


def test_a_version_that_fails_its_checks_is_never_served_and_health_says_why(root):
    # the promotion gate finds a corrupt object in the DVC remote, so spoil the serving cache
    _corrupt_model_objects(root, "v0.2.0", remote=False)
    with Server(root, "--interval", "0.2") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "production")
        families = server.reload()
        assert families[FAMILY]["holders"]["production"] == "v0.2.0"
        assert families[FAMILY]["serving"]["production"] == "v0.1.0"
        status, health = server.get("/healthz")
        assert status == 200 and health["status"] == "degraded"
        [problem] = health["families"][FAMILY]["problems"]
        assert problem.startswith("production holder v0.2.0 is not served: ")
        assert "refusing to load it" in problem and problem.endswith("production still serves v0.1.0")
        assert versions_answering(server, FAMILY) == {"v0.1.0"}

        # a bundle whose bytes are intact but whose model does not reproduce its fingerprint
        reg.promote(str(root), FAMILY, "v0.4.0", "production")
        families = server.reload()
        assert families[FAMILY]["serving"]["production"] == "v0.1.0"
        problems = server.get("/healthz")[1]["families"][FAMILY]["problems"]
        assert any(p.startswith("production holder v0.4.0 is not served: ") and "differ from the fingerprint" in p
                   for p in problems), problems
        assert versions_answering(server, FAMILY) == {"v0.1.0"}
        assert "v0.4.0 will not be served" in server.log()

        reg.rollback(str(root), FAMILY, to="v0.1.0", reason="test: back to a good version")
        server.reload()
        assert not any("production holder" in p for p in server.get("/healthz")[1]["families"][FAMILY]["problems"])
    from versioned_ml_registry.ledger import queries as ledger

    assert {row["version"] for row in ledger.select(server.ledger, FAMILY, limit=10000)} == {"v0.1.0"}


def test_no_verified_version_means_503(root):
    _corrupt_model_objects(root, "v0.1.0")
    with Server(root, "--interval", "0.2") as server:
        def refused():
            status, health = server.health() or (None, None)
            settled = health and health["families"][FAMILY]["problems"] and health["families"][REGRESSION]["serving"]
            return health if status == 503 and settled else None
        health = poll(refused, 60, "the health check to report the refused version and the other family served")
        assert health["status"] == "unavailable" and health["families"][FAMILY]["serving"] is None
        assert "refusing to load it" in health["families"][FAMILY]["problems"][0]
        assert health["families"][REGRESSION]["serving"] == "v0.1.0"
        status, _, body = server.client.predict(FAMILY, probe(root, FAMILY, 1))
        assert status == 503 and body["error"].startswith(f"no verified version of {FAMILY} is serving")
        assert server.client.predict(REGRESSION, probe(root, REGRESSION, 1))[0] == 200


def test_follow_remote_fetches_the_tags(root):
    serving = root.parent / "serving"
    output(root.parent, "git", "clone", "-q", "-b", "main", "origin.git", str(serving))
    with Server(serving, "--follow", "remote", "--interval", "0.2", ledger=root.parent / "remote-ledger.sqlite") as server:
        server.wait_healthy()
        reg.promote(str(root), FAMILY, "v0.2.0", "production")
        output(root, "git", "push", "-q", "origin", "--tags")
        server.wait_serving(FAMILY, "v0.2.0")
        records = probe(root, FAMILY, 2)  # the serving clone has no bundle files checked out
        assert versions_answering(server, FAMILY, records=records) == {"v0.2.0"}
        output(serving, "git", "remote", "set-url", "origin", str(root.parent / "missing.git"))
        problem = poll(lambda: server.get("/healthz")[1]["problems"], 20, "the fetch failure in /healthz")
        assert "cannot fetch the tags of git remote 'origin'" in problem[0]
        assert versions_answering(server, FAMILY, records=records) == {"v0.2.0"}
