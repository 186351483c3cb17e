"""GTO reads our hand-written tags and names the same stage holders as our resolver."""

import json
import subprocess
import time

import pytest

from vml_testkit.registry import STAGES, gto_bin, make_repo, release, to_production

import versioned_ml_registry as reg  # noqa: E402
from versioned_ml_registry.tags.repo import Repo  # noqa: E402

GTO = gto_bin()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(GTO is None, reason="gto is not installed")]


def s_release(repo):
    release(repo, "m")
    release(repo, "m")


def s_promote(repo):
    s_release(repo)
    to_production(repo, "m", "0.1.0")
    reg.promote(str(repo), "m", "0.2.0", "staging")


def s_repromote_old(repo):
    s_release(repo)
    to_production(repo, "m", "0.1.0")
    to_production(repo, "m", "0.2.0")
    reg.promote(str(repo), "m", "0.1.0", "production", reason="back to the old one")


def s_rollback(repo):
    for _ in range(3):
        release(repo, "m")
    for v in ("0.1.0", "0.2.0", "0.3.0"):
        to_production(repo, "m", v)
    reg.rollback(str(repo), "m", reason="bad")


def s_canary(repo):
    for _ in range(3):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    reg.promote(str(repo), "m", "0.2.0", "staging")
    reg.promote(str(repo), "m", "0.2.0", "canary")


def s_canary_promoted(repo):
    s_canary(repo)
    reg.promote(str(repo), "m", "0.2.0", "production")


def s_deprecate(repo):
    for _ in range(3):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    reg.deprecate(str(repo), "m", "0.2.0", reason="bad")
    reg.archive(str(repo), "m", "0.3.0", reason="old")
    reg.promote(str(repo), "m", "0.3.0", "shadow", force=True, reason="shadow test")


def s_same_second(repo):
    fixed = time.time()
    now = lambda: fixed  # noqa: E731
    for _ in range(3):
        release(repo, "m", now=now)
    for v in ("0.1.0", "0.2.0", "0.3.0"):
        to_production(repo, "m", v, now=now)
    reg.rollback(Repo(str(repo), now=now), "m", reason="same second")
    reg.promote(Repo(str(repo), now=now), "m", "0.1.0", "production", reason="again")


SCENARIOS = {f.__name__[2:]: f for f in (s_release, s_promote, s_repromote_old, s_rollback,
                                          s_canary, s_canary_promoted, s_deprecate, s_same_second)}


@pytest.fixture(scope="module")
def gto_results(tmp_path_factory):
    """Build every scenario, then run all GTO calls in parallel (GTO takes ~1 s per call)."""
    base = tmp_path_factory.mktemp("gto")
    procs, ours = {}, {}
    for name, build in SCENARIOS.items():
        repo = make_repo(base / name)
        build(repo)
        fam = Repo(str(repo)).family_state("m")
        ours[name] = {s: fam.holder(s) for s in STAGES}
        procs[(name, "json")] = subprocess.Popen([GTO, "show", "--json"], cwd=repo,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for stage in ("production",):
            if ours[name][stage]:
                procs[(name, stage)] = subprocess.Popen(
                    [GTO, "show", f"m#{stage}", "--version"], cwd=repo,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for key, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        assert p.returncode == 0, stderr
        out[key] = stdout
    return ours, out


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_gto_agrees(gto_results, scenario):
    ours, out = gto_results
    gto_stages = json.loads(out[(scenario, "json")])["m"]["stage"]
    assert {s: gto_stages.get(s) for s in STAGES} == ours[scenario]
    if ours[scenario]["production"]:
        stage = "production"
        assert out[(scenario, stage)].strip() == ours[scenario][stage]


def test_scenarios_reach_the_intended_states(gto_results):
    ours, _ = gto_results
    assert ours["rollback"]["production"] == "v0.2.0" and ours["rollback"]["deprecated"] == "v0.3.0"
    assert ours["repromote_old"]["production"] == "v0.1.0"
    assert ours["canary"]["canary"] == "v0.2.0" and ours["canary"]["production"] == "v0.1.0"
    assert ours["canary_promoted"]["canary"] == ours["canary_promoted"]["production"] == "v0.2.0"
    assert ours["same_second"]["production"] == "v0.1.0"
    assert ours["same_second"]["deprecated"] == "v0.3.0"
    assert ours["deprecate"]["shadow"] == "v0.3.0"
