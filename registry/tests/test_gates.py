"""Every production gate is enforced by the API itself: a script calling it directly gets the
same refusals as the command line. Real git repositories, no mocks."""

import copy
import os
import subprocess
import sys

import pytest

from vml_testkit.git import commit, git, tag_refs
from vml_testkit.registry import SIGNATURE, gto_bin, make_repo, release, to_production

import versioned_ml_registry as reg
from versioned_ml_registry.errors import RegistryError


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


def refused(repo, *args, match, **kw):
    before = tag_refs(repo)
    with pytest.raises(RegistryError, match=match) as exc:
        reg.promote(str(repo), "m", *args, **kw)
    assert "\n" not in str(exc.value)
    assert tag_refs(repo) == before
    return str(exc.value)


def with_inputs(*names, required=True):
    signature = copy.deepcopy(SIGNATURE)
    signature["inputs"] = [{"name": n, "type": "numeric", "required": required} for n in names]
    return signature


def test_production_needs_staging(repo):
    release(repo, "m")
    refused(repo, "0.1.0", "production", match="never held staging")
    refused(repo, "0.1.0", "production", skip_staging=True, match="--skip-staging needs --reason")
    reg.promote(str(repo), "m", "0.1.0", "production", skip_staging=True, reason="hotfix")
    assert reg.resolve(str(repo), "m", "production") == "v0.1.0"


def test_production_needs_the_metric_gates_in_force_at_head(repo):
    commit(repo, "gates", {"params.yaml": "registry:\n  gates:\n    production:\n      rmse: {max: 10}\n"})
    release(repo, "m", provenance={"metrics": {"rmse": 12.5}})
    reg.promote(str(repo), "m", "0.1.0", "staging")
    refused(repo, "0.1.0", "production", match=r"gate: rmse 12.5 fails \(needs ≤ 10\)")
    reg.promote(str(repo), "m", "0.1.0", "production", force=True, reason="accepted by the owner")
    assert reg.resolve(str(repo), "m", "production") == "v0.1.0"


def test_a_breaking_signature_is_refused_whatever_its_number(repo):
    release(repo, "m", provenance={"signature": with_inputs("alcohol", "proline")})
    to_production(repo, "m", "0.1.0")
    release(repo, "m", provenance={"signature": with_inputs("alcohol", "hue")})  # under 0.y.z the evidence MAJOR reads as v0.2.0
    reg.promote(str(repo), "m", "0.2.0", "staging")
    message = refused(repo, "0.2.0", "production", match="breaks the callers of production v0.1.0")
    assert "inputs removed: proline; inputs added as required: hue" in message
    assert "renamed" not in message
    refused(repo, "0.2.0", "canary", match="breaks the callers")
    refused(repo, "0.2.0", "production", force=True, reason="x", match="breaks the callers")
    refused(repo, "0.2.0", "production", breaking=True, match="--breaking needs --reason")
    res = reg.promote(str(repo), "m", "0.2.0", "production", breaking=True, reason="all callers migrated")
    meta = reg.version_info(str(repo), "m", "0.2.0")  # the stage tag records the override
    assert meta["version"] == "v0.2.0"
    body = [e for e in reg.open_repo(str(repo)).family("m").events if e.tag == res.tags[-1]][0].meta
    assert body["breaking"] == {"changes": ["inputs removed: proline", "inputs added as required: hue"],
                                "reason": "all callers migrated"}


def test_a_compatible_signature_passes(repo):
    release(repo, "m", provenance={"signature": with_inputs("alcohol")})
    to_production(repo, "m", "0.1.0")
    signature = with_inputs("alcohol")
    signature["inputs"].append({"name": "hue", "type": "numeric", "required": False})
    release(repo, "m", provenance={"signature": signature})
    to_production(repo, "m", "0.2.0")
    assert reg.resolve(str(repo), "m", "production") == "v0.2.0"


def test_a_version_without_a_recorded_signature_needs_breaking(repo):
    release(repo, "m")
    to_production(repo, "m", "0.1.0")
    release(repo, "m", provenance={"signature": None})
    reg.promote(str(repo), "m", "0.2.0", "staging")
    refused(repo, "0.2.0", "production", match="records no signature")


def test_a_family_command_reads_only_that_familys_refs(repo, tmp_path):
    release(repo, "m")
    to_production(repo, "m", "0.1.0")
    head = git(repo, "rev-parse", "HEAD").strip()
    for n in range(30):  # other families' tags
        git(repo, "tag", "-a", "-m", "x", f"other{n}@v0.1.0", head)
    trace = tmp_path / "trace"
    env = dict(os.environ, GIT_TRACE=str(trace))
    for args in (["resolve", "m", "--stage", "production"], ["history", "m"], ["show", "m"],
                 ["promote", "m", "0.1.0", "canary", "--reason", "x"]):
        trace.write_text("")
        subprocess.run([sys.executable, "-m", "versioned_ml_registry", "--repo", str(repo), *args], env=env,
                       capture_output=True, check=False)
        reads = [line.split("git for-each-ref", 1)[1] for line in trace.read_text().splitlines()
                 if "git for-each-ref" in line]
        assert reads, args
        for read in reads:
            assert "'refs/tags/m@*' 'refs/tags/m#*'" in read, (args, read)


@pytest.mark.slow
@pytest.mark.skipif(gto_bin() is None, reason="gto is not installed")
def test_after_rollback_every_stage_agrees_with_gto_and_no_stage_is_held_by_a_deprecated_version(repo):
    for _ in range(3):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    to_production(repo, "m", "0.2.0")
    reg.promote(str(repo), "m", "0.3.0", "staging")
    reg.promote(str(repo), "m", "0.3.0", "shadow")
    reg.promote(str(repo), "m", "0.3.0", "production")
    reg.rollback(str(repo), "m", reason="complaints")
    holders = reg.show(str(repo), "m")["families"]["m"]["holders"]
    status = reg.show(str(repo), "m")["families"]["m"]["status"]
    for stage, holder in holders.items():
        assert reg.resolve(str(repo), "m", stage) == holder
        gto = subprocess.run([gto_bin(), "show", f"m#{stage}", "--version"], cwd=repo,
                             capture_output=True, text=True).stdout.strip()
        assert (gto or None) == holder, stage
        if stage != "deprecated" and holder is not None:
            assert status[holder] != "deprecated", (stage, holder)
    assert holders["production"] == "v0.2.0" and holders["deprecated"] == "v0.3.0"
