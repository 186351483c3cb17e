"""A version tag someone adds at the production commit (an annotated ``<family>@v0.9.0`` with a
garbage body) never renames what serves: `resolve` and the server keep the version the stage tag
assigned, and `resolve`, `verify` and `/healthz` report the conflict in one line each. Real git,
a real server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vml_testkit.git import git
from vml_testkit.net import poll
from vml_testkit.registry import make_repo, release, to_production
from vml_testkit.serving import FAMILY, probe, serving_copy

GARBAGE = "Registering artifact {family} version v0.9.0\n\n- [not, the registry's\n"


def cli(repo, *args):
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", *args], cwd=repo, capture_output=True,
                          text=True)


def add_stranger(repo, family: str, at: str) -> None:
    git(repo, "tag", "-a", f"{family}@v0.9.0", "-m", GARBAGE.format(family=family), at)


@pytest.fixture
def repo(tmp_path):
    path = make_repo(tmp_path / "repo")
    for _ in range(2):
        release(path, "m")
    to_production(path, "m", "v0.2.0")
    add_stranger(path, "m", git(path, "rev-parse", "m@v0.2.0^{commit}"))
    return path


def test_resolve_keeps_the_assigned_version_and_says_why_in_one_line(repo):
    done = cli(repo, "resolve", "m", "--stage", "production")
    assert done.returncode == 0 and done.stdout == "v0.2.0\n"
    assert done.stderr.strip().splitlines() == [
        "warning: m v0.9.0 is also tagged at the commit of production v0.2.0: still v0.2.0, as its stage tag "
        "assigned; `model-registry verify` lists it"]
    found = json.loads(cli(repo, "resolve", "m", "--stage", "production", "--json").stdout)
    assert found["version"] == "v0.2.0" and "v0.9.0" in found["problems"][0]


def test_verify_fails_naming_both_versions(repo):
    done = cli(repo, "verify", "m")
    assert done.returncode != 0
    assert "m v0.2.0 and v0.9.0 are tagged at the same commit" in done.stdout + done.stderr


def test_writes_wait_for_the_stranger_to_go_and_then_nothing_is_left_of_it(repo):
    done = cli(repo, "promote", "m", "v0.1.0", "staging")
    assert done.returncode == 2 and "delete the one that should not be there" in done.stderr
    git(repo, "tag", "-d", "m@v0.9.0")
    done = cli(repo, "resolve", "m", "--stage", "production")
    assert done.stdout == "v0.2.0\n" and done.stderr == ""
    assert cli(repo, "promote", "m", "v0.1.0", "staging").returncode == 0


@pytest.mark.slow
def test_the_server_keeps_serving_the_promoted_version_and_says_degraded(serving_base, tmp_path):
    with serving_copy(serving_base, tmp_path, "--interval", "0.2") as server:
        root = server.root
        add_stranger(root, FAMILY, git(root, "rev-parse", f"{FAMILY}@v0.1.0^{{commit}}"))
        server.reload()
        status, health = poll(lambda: (lambda h: h if h[1]["status"] == "degraded" else None)(server.health()),
                              20, "/healthz to say degraded")
        assert status == 200 and health["families"][FAMILY]["serving"] == "v0.1.0"
        assert any("v0.1.0 and v0.9.0 are tagged at the same commit" in p for p in health["families"][FAMILY]["problems"])
        status, _, body = server.client.predict(FAMILY, probe(root, FAMILY, 1))
        assert status == 200 and body["version"] == "v0.1.0"
        rows = poll(lambda: (lambda d: json.loads(d.stdout) if d.returncode == 0 else None)(cli(
            root, "decisions", "show", body["request_id"], "--json", "--ledger", str(server.ledger))),
            20, "the ledger row")
        assert [row["version"] for row in rows] == ["v0.1.0"]
