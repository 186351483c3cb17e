"""State, release and lifecycle rules through the Python API (real git, no mocks)."""

import pytest

from vml_testkit.git import commit, git, tag_refs
from vml_testkit.registry import FakeProposal, make_repo, release, to_production, write_release

import versioned_ml_registry as reg  # noqa: E402
from versioned_ml_registry.errors import RegistryError  # noqa: E402
from versioned_ml_registry.rules.bump import Bump, next_version
from versioned_ml_registry.tags.repo import Repo  # noqa: E402
import semver  # noqa: E402


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


def state(repo, family="m"):
    return Repo(str(repo)).family_state(family)


def with_status(s, stage):
    return [v.vstring for v in s.sorted_versions() if s.status(v.vstring) == stage]


def refused(repo, fn, *args, match=None, **kw):
    before = tag_refs(repo)
    with pytest.raises(RegistryError, match=match) as exc:
        fn(str(repo), *args, **kw)
    assert "\n" not in str(exc.value)
    assert tag_refs(repo) == before
    return str(exc.value)


# ---- versions -----------------------------------------------------------------------

@pytest.mark.parametrize("current,bump,explicit,expected", [
    (None, "major", False, "0.1.0"), (None, None, False, "0.1.0"),
    ("0.1.0", "patch", False, "0.1.1"), ("0.1.1", "minor", False, "0.2.0"),
    ("0.3.1", "major", False, "0.4.0"),   # 0.y.z: evidence MAJOR -> next minor
    ("0.3.1", "major", True, "1.0.0"),    # explicit --bump major graduates to 1.0.0
    ("1.2.3", "major", False, "2.0.0"), ("1.2.3", "minor", False, "1.3.0"),
])
def test_next_version(current, bump, explicit, expected):
    cur = semver.Version.parse(current) if current else None
    assert str(next_version(cur, Bump.parse(bump), explicit_major=explicit)) == expected


def test_release_writes_version_and_candidate(repo):
    assert release(repo, "m") == "v0.1.0"
    assert release(repo, "m", bump="patch") == "v0.1.1"
    assert release(repo, "m", bump="major") == "v0.2.0"
    assert release(repo, "m", bump="major", gates=False) == "v0.3.0"
    s = state(repo)
    assert [v.vstring for v in s.sorted_versions()] == ["v0.1.0", "v0.1.1", "v0.2.0", "v0.3.0"]
    assert with_status(s, "candidate") == ["v0.1.0", "v0.1.1", "v0.2.0"]  # gates failed: no candidate
    assert s.status("v0.3.0") is None
    head = git(repo, "rev-parse", "HEAD").strip()
    assert s.get("v0.3.0").commit == head


def test_release_refusals(repo):
    release(repo, "m")
    # one version per commit per family
    refused(repo, write_release, "m", FakeProposal("m"), match="already released as m v0.1.0")
    commit(repo)
    refused(repo, write_release, "m", FakeProposal("m", identical_to="v0.1.0"), match="identical to v0.1.0")
    refused(repo, write_release, "m", FakeProposal("m", bump="minor"), bump="patch",
            match="lower than the evidence")
    refused(repo, write_release, "m", FakeProposal("m", bump="minor"), bump="patch",
            force=True, match="needs --reason")
    (repo / "dirty.txt").write_text("x")
    refused(repo, write_release, "m", FakeProposal("m"), match="uncommitted")
    (repo / "dirty.txt").unlink()
    refused(repo, write_release, "Bad", FakeProposal("Bad"), match="invalid family")


def test_release_bump_override(repo):
    release(repo, "m")
    commit(repo)
    r = write_release(str(repo), "m", FakeProposal("m", bump="minor"), bump="patch",
                    force=True, reason="hotfix numbering")
    assert r.version == "v0.1.1"
    meta = reg.version_info(str(repo), "m", "0.1.1")["meta"]
    assert meta["forced"] == {"from": "minor", "reason": "hotfix numbering"}
    commit(repo)
    r = write_release(str(repo), "m", FakeProposal("m", bump="patch"), bump="major")
    assert r.version == "v1.0.0"  # explicit major graduates from 0.y.z


# ---- state --------------------------------------------------------------------------

def test_holder_status_lists(repo):
    for _ in range(4):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    reg.promote(str(repo), "m", "0.2.0", "staging")
    reg.promote(str(repo), "m", "0.3.0", "shadow")
    reg.deprecate(str(repo), "m", "0.4.0", reason="bad data")
    s = state(repo)
    assert s.holder("production") == "v0.1.0"
    assert s.holder("staging") == "v0.2.0"
    assert s.status("v0.1.0") == "production"
    assert s.holder("shadow") == "v0.3.0"
    assert with_status(s, "deprecated") == ["v0.4.0"]
    # the deprecated v0.4.0 held candidate: it went back to the previous live candidate
    assert s.holder("candidate") == "v0.3.0"
    assert s.next_counter == 1 + max(e.counter for e in s.events)
    show = reg.show(str(repo))["families"]["m"]
    assert show["holders"] == {"candidate": "v0.3.0", "staging": "v0.2.0", "canary": None,
                               "production": "v0.1.0", "shadow": "v0.3.0", "deprecated": "v0.4.0",
                               "archived": None}
    assert show["latest"] == "v0.4.0"
    hist = reg.history(str(repo), "m")
    assert [h["event"] for h in hist].count("release") == 8  # 4 versions + 4 candidates
    dep = [h for h in hist if h["stage"] == "deprecated"][0]
    assert dep["reason"] == "bad data" and dep["from_stage"] == "candidate"
    assert dep["by"].endswith(">")
    times = [h["time"] for h in hist]
    assert times == sorted(times)


def test_families_are_independent(repo):
    release(repo, "a")
    release(repo, "b")
    to_production(repo, "a", "0.1.0")
    assert reg.resolve(str(repo), "b", "production") is None
    assert reg.resolve(str(repo), "a", "production") == "v0.1.0"
    assert state(repo, "b").next_counter == 2


# ---- promote ------------------------------------------------------------------------

def test_promote_order_and_refusals(repo):
    release(repo, "m")
    release(repo, "m", gates=False)
    refused(repo, reg.promote, "m", "0.1.0", "production", match="never held staging")
    refused(repo, reg.promote, "m", "0.1.0", "canary", match="never held staging")
    refused(repo, reg.promote, "m", "0.2.0", "staging", match="never held candidate")
    refused(repo, reg.promote, "m", "0.9.0", "staging", match="never released")
    refused(repo, reg.promote, "m", "0.1.0", "qa", match="unknown stage")
    refused(repo, reg.promote, "nope", "0.1.0", "staging", match="unknown family")
    refused(repo, reg.promote, "m", "latest", "staging", match="invalid version")
    reg.promote(str(repo), "m", "0.1.0", "staging")
    refused(repo, reg.promote, "m", "0.1.0", "staging", match="already holds staging")
    reg.promote(str(repo), "m", "0.1.0", "production")
    refused(repo, reg.promote, "m", "0.1.0", "canary", match="already in production")
    refused(repo, reg.promote, "m", "0.2.0", "shadow", match="shadow needs")
    r = reg.promote(str(repo), "m", "0.2.0", "production", skip_staging=True,
                    reason="hotfix", force=True)
    meta = [e for e in state(repo).events if e.stage == "production"][-1].meta
    assert meta["skipped_staging"] is True and meta["reason"] == "hotfix"
    assert "forced" in meta  # never a candidate: overridden with --force
    assert r.version == "v0.2.0"


def test_skip_staging_needs_reason(repo):
    release(repo, "m")
    refused(repo, reg.promote, "m", "0.1.0", "production", skip_staging=True, match="needs --reason")
    reg.promote(str(repo), "m", "0.1.0", "production", skip_staging=True, reason="emergency")
    assert reg.resolve(str(repo), "m", "production") == "v0.1.0"


def test_deprecated_and_archived_need_force(repo):
    release(repo, "m")
    release(repo, "m")
    reg.deprecate(str(repo), "m", "0.1.0", reason="old")
    reg.archive(str(repo), "m", "0.2.0", reason="older")
    refused(repo, reg.promote, "m", "0.1.0", "staging", match="is deprecated")
    refused(repo, reg.promote, "m", "0.2.0", "staging", match="is archived")
    refused(repo, reg.promote, "m", "0.1.0", "staging", force=True, match="needs --reason")
    reg.promote(str(repo), "m", "0.1.0", "staging", force=True, reason="it was fine")
    assert state(repo).status("v0.1.0") == "staging"


def test_deprecate_refuses_serving_versions(repo):
    release(repo, "m")
    to_production(repo, "m", "0.1.0")
    refused(repo, reg.deprecate, "m", "0.1.0", reason="x", match="holds production")
    refused(repo, reg.deprecate, "m", "0.1.0", reason=None, match="needs --reason")


def test_production_metric_gates(repo):
    commit(repo, "gates", {"params.yaml": "registry:\n  gates:\n    production:\n      accuracy: 0.97\n"})
    write_release(str(repo), "m", FakeProposal("m"))  # accuracy 0.95
    reg.promote(str(repo), "m", "0.1.0", "staging")
    refused(repo, reg.promote, "m", "0.1.0", "production", match=r"accuracy 0.95 fails \(needs ≥ 0.97\)")
    commit(repo, "lower", {"params.yaml": "registry:\n  gates:\n    production:\n      accuracy: 0.9\n"})
    good = FakeProposal("m")
    write_release(str(repo), "m", good)
    to_production(repo, "m", "0.2.0")
    assert reg.resolve(str(repo), "m", "production") == "v0.2.0"


def test_the_artifacts_gate_needs_a_dvc_repository(repo):
    release(repo, "m")
    reg.promote(str(repo), "m", "0.1.0", "staging")
    reg.promote(str(repo), "m", "0.1.0", "production")  # a plain git repo has no DVC remote to check
    assert reg.resolve(str(repo), "m", "production") == "v0.1.0"


def test_repromote_old_version(repo):
    release(repo, "m")
    release(repo, "m")
    to_production(repo, "m", "0.1.0")
    to_production(repo, "m", "0.2.0")
    reg.promote(str(repo), "m", "0.1.0", "production")  # held staging before: a new tag
    s = state(repo)
    assert s.holder("production") == "v0.1.0"
    assert s.status("v0.2.0") == "production"  # its newest tag; not the holder any more


# ---- canary -------------------------------------------------------------------------

def test_canary_lifecycle(repo):
    release(repo, "m")
    release(repo, "m")
    to_production(repo, "m", "0.1.0")
    reg.promote(str(repo), "m", "0.2.0", "staging")
    reg.promote(str(repo), "m", "0.2.0", "canary")
    s = state(repo)
    assert s.canary_live and s.holder("canary") == "v0.2.0" and s.holder("production") == "v0.1.0"
    reg.promote(str(repo), "m", "0.2.0", "production")
    s = state(repo)
    assert not s.canary_live
    assert s.holder("canary") == s.holder("production") == "v0.2.0"
    assert s.status("v0.2.0") == "production"
    # a canary for the production version is refused
    refused(repo, reg.promote, "m", "0.2.0", "canary", match="already in production")


def test_abort_canary(repo):
    for _ in range(3):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    reg.promote(str(repo), "m", "0.2.0", "staging")
    reg.promote(str(repo), "m", "0.2.0", "canary")
    reg.abort_canary(str(repo), "m", reason="error rate")
    s = state(repo)
    assert not s.canary_live and s.holder("canary") == "v0.1.0"
    refused(repo, reg.abort_canary, "m", reason="again", match="no live canary")
    # promoting another version to production while a canary is live ends the canary
    reg.promote(str(repo), "m", "0.2.0", "canary", reason="retry")
    reg.promote(str(repo), "m", "0.3.0", "staging")
    reg.promote(str(repo), "m", "0.3.0", "production")
    s = state(repo)
    assert s.holder("production") == s.holder("canary") == "v0.3.0"


# ---- rollback / drill ----------------------------------------------------------------

def test_rollback(repo):
    for _ in range(3):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    refused(repo, reg.rollback, "m", reason="x", match="no previous production")
    to_production(repo, "m", "0.2.0")
    to_production(repo, "m", "0.3.0")
    refused(repo, reg.rollback, "m", reason=None, match="needs --reason")
    res = reg.rollback(str(repo), "m", reason="latency")
    # v0.3.0 held candidate and staging too: both go back to v0.2.0, then production, then deprecated
    assert res.version == "v0.2.0"
    assert [tag.split("#")[1] for tag in res.tags] == ["candidate", "staging", "production", "deprecated"]
    assert any("resolve m --stage production" in m for m in res.messages)
    s = state(repo)
    assert s.holder("production") == "v0.2.0" and s.status("v0.3.0") == "deprecated"
    # the next rollback skips the deprecated v0.3.0 and the current holder
    assert s.previous_production() == "v0.1.0"
    reg.rollback(str(repo), "m", reason="still bad")
    s = state(repo)
    assert s.holder("production") == "v0.1.0" and with_status(s, "deprecated") == ["v0.2.0", "v0.3.0"]
    assert not [stage for stage in reg.show(str(repo))["families"]["m"]["holders"].items()
                if stage[0] != "deprecated" and stage[1] in ("v0.2.0", "v0.3.0")]
    refused(repo, reg.rollback, "m", reason="x", match="no previous production")


def test_rollback_to(repo):
    for _ in range(3):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    to_production(repo, "m", "0.2.0")
    refused(repo, reg.rollback, "m", to="0.3.0", reason="x", match="never in production")
    refused(repo, reg.rollback, "m", to="0.2.0", reason="x", match="already in production")
    refused(repo, reg.rollback, "m", to="1.2", reason="x", match="invalid version")
    reg.rollback(str(repo), "m", to="0.3.0", reason="known good elsewhere", force=True)
    assert reg.resolve(str(repo), "m", "production") == "v0.3.0"


def test_rollback_keeps_canary_aligned(repo):
    for _ in range(2):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    reg.promote(str(repo), "m", "0.2.0", "staging")
    reg.promote(str(repo), "m", "0.2.0", "canary")
    reg.promote(str(repo), "m", "0.2.0", "production")
    reg.rollback(str(repo), "m", reason="bad")
    s = state(repo)
    assert s.holder("production") == s.holder("canary") == "v0.1.0" and not s.canary_live


def test_drill_deprecates_nothing(repo):
    for _ in range(2):
        release(repo, "m")
    to_production(repo, "m", "0.1.0")
    refused(repo, reg.drill, "m", match="no previous production")
    to_production(repo, "m", "0.2.0")
    res = reg.drill(str(repo), "m")
    s = state(repo)
    assert s.holder("production") == "v0.2.0"
    assert with_status(s, "deprecated") == []
    assert len(res.tags) == 2 and res.data["total_seconds"] >= 0
    assert [e.meta["event"] for e in s.events[-2:]] == ["drill", "drill"]


# ---- review fixes -------------------------------------------------------------------

def test_a_release_that_failed_its_gates_is_no_candidate_without_force(repo):
    release(repo, "m", gates=False)
    refused(repo, reg.promote, "m", "v0.1.0", "candidate", match="did not pass the candidate gates")
    reg.promote(str(repo), "m", "v0.1.0", "candidate", reason="accepted by hand", force=True)
    assert state(repo).status("v0.1.0") == "candidate"


def test_under_0yz_a_minor_bump_over_major_evidence_is_not_lower(repo):
    release(repo, "m")
    commit(repo, "breaking change")
    res = write_release(str(repo), "m", FakeProposal("m", "major"), bump="minor")
    assert res.version == "v0.2.0"


def test_promoting_the_canary_version_writes_no_second_canary_tag(repo):
    release(repo, "m")
    to_production(repo, "m", "v0.1.0")
    release(repo, "m")
    reg.promote(str(repo), "m", "v0.2.0", "staging")
    reg.promote(str(repo), "m", "v0.2.0", "canary")
    res = reg.promote(str(repo), "m", "v0.2.0", "production")
    assert [tag.split("#")[1] for tag in res.tags] == ["production"]
    assert state(repo).holder("canary") == state(repo).holder("production") == "v0.2.0"


@pytest.mark.parametrize("gate", ["high", "[0.9]", "true"])
def test_a_production_gate_that_is_not_a_number_is_one_clear_error(repo, gate):
    release(repo, "m")
    commit(repo, "gates", files={"params.yaml": f"registry:\n  gates:\n    production:\n      accuracy: {gate}\n"})
    reg.promote(str(repo), "m", "v0.1.0", "staging")
    refused(repo, reg.promote, "m", "v0.1.0", "production", match="gate accuracy: .* is not a number")


def test_production_gates_are_the_ones_committed_now_not_the_versions_own(repo):
    commit(repo, "loose gates", files={"params.yaml": "registry:\n  gates:\n    production:\n      accuracy: 0.5\n"})
    release(repo, "m")  # its metrics: accuracy 0.95
    commit(repo, "stricter gates", files={"params.yaml": "registry:\n  gates:\n    production:\n      accuracy: 0.99\n"})
    reg.promote(str(repo), "m", "v0.1.0", "staging")
    refused(repo, reg.promote, "m", "v0.1.0", "production", match=r"accuracy 0.95 fails \(needs ≥ 0.99\)")


def test_diff_of_a_hand_written_version_tag_is_one_clear_error(repo):
    commit(repo, "hand-made")
    git(repo, "tag", "-a", "m@v0.1.0", "-m", "Registering artifact m version v0.1.0")
    commit(repo, "hand-made again")
    git(repo, "tag", "-a", "m@v0.2.0", "-m", "Registering artifact m version v0.2.0")
    refused(repo, reg.diff, "m", "v0.1.0", "v0.2.0", match="m@v0.1.0 records no artifact path")


def test_a_local_tag_that_differs_from_the_remote_one_is_named_when_fetching(tmp_path):
    from versioned_ml_registry.tags.remote import fetch_tags

    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    theirs, ours = make_repo(tmp_path / "theirs"), make_repo(tmp_path / "ours")
    for clone, what in ((theirs, "their work"), (ours, "our work")):
        commit(clone, what)
        git(clone, "tag", "-a", "m#production#3", "-m", what)
    git(theirs, "remote", "add", "origin", str(origin))
    git(theirs, "push", "-q", "origin", "refs/tags/m#production#3")
    git(ours, "remote", "add", "origin", str(origin))
    with pytest.raises(RegistryError, match=r"local tag m#production#3 differs from the one on origin"):
        fetch_tags(str(ours), "origin")


def test_a_drill_that_fails_after_rolling_back_says_so_and_how_to_restore(repo):
    release(repo, "m")
    to_production(repo, "m", "v0.1.0")
    release(repo, "m")
    to_production(repo, "m", "v0.2.0")
    n = state(repo).next_counter
    # A lightweight tag is invisible to every reader but blocks the roll-forward's tag name.
    git(repo, "tag", f"m#production#{n + 1}")
    with pytest.raises(RegistryError) as failure:
        reg.drill(str(repo), "m")
    message = str(failure.value)
    assert "\n" not in message and "the drill stopped after rolling back" in message
    assert state(repo).holder("production") == "v0.1.0"
    restore = message.split("`")[1].split()
    assert restore[:5] == ["model-registry", "promote", "m", "v0.2.0", "production"]
    git(repo, "tag", "-d", f"m#production#{n + 1}")  # the cause, removed
    reg.promote(str(repo), "m", "v0.2.0", "production", reason="drill aborted")
    assert state(repo).holder("production") == "v0.2.0"
