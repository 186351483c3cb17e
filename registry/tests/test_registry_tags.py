"""Tag names, the git layer: one for-each-ref read, atomic writes, tagger times."""

import time

import pytest

from vml_testkit.git import commit, git, tag_refs
from vml_testkit.registry import FakeProposal, make_repo, release, write_release

import versioned_ml_registry as reg  # noqa: E402
from versioned_ml_registry.tags import refs as gitrefs
from versioned_ml_registry.tags import names as tags
from versioned_ml_registry.tags.gto_config import load_stages
from versioned_ml_registry.errors import RegistryError  # noqa: E402
from versioned_ml_registry.tags.repo import Repo  # noqa: E402


@pytest.mark.parametrize("text,expected", [("1.2.3", "v1.2.3"), ("v1.2.3", "v1.2.3"),
                                           ("v0.10.0", "v0.10.0"), (" 2.0.0 ", "v2.0.0")])
def test_version_arguments(text, expected):
    assert tags.format_version(text) == expected


@pytest.mark.parametrize("bad", ["1.2", "v1.2.3.4", "latest", "", "V1.2.3", "01.2.3", "1.2.3-rc1", "vv1.2.3"])
def test_bad_version_arguments(bad):
    with pytest.raises(RegistryError) as exc:
        tags.parse_version(bad)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["intent", "a", "cultivar-2", "my_model", "0x"])
def test_good_families(name):
    assert tags.validate_family(name) == name


@pytest.mark.parametrize("name", ["a@b", "a#b", "a!b", "a:b", "a/b", "a..b", "a b", "Intent",
                                  "-a", "a-", "", "a.b."])
def test_bad_families(name):
    with pytest.raises(RegistryError):
        tags.validate_family(name)


def test_format_and_parse_tags():
    assert tags.version_tag("intent", "1.3.0") == "intent@v1.3.0"
    assert tags.stage_tag("intent", "production", 7) == "intent#production#7"
    v = tags.parse_tag("intent@v1.3.0")
    assert (v.family, v.vstring) == ("intent", "v1.3.0")
    s = tags.parse_tag("intent#production#7")
    assert (s.family, s.stage, s.counter) == ("intent", "production", 7)
    assert tags.parse_tag("intent#production!#8") is None  # unassign: skipped
    assert tags.parse_tag("intent@v1.3.0!") is None
    assert tags.parse_tag("v1.0") is None
    assert tags.parse_tag("intent@vfoo") is None
    assert tags.parse_tag("release-2024") is None


def test_versions_sort_in_semver_precedence():
    """Plain versions compare as integers without semver; pre-releases and build metadata by semver."""
    shuffled = ["v1.0.0", "v1.0.0-rc.10", "v0.10.0", "v1.0.0-rc.9", "v0.9.0", "v1.0.0-alpha", "v1.0.1", "v0.9.0+build.7"]
    ordered = sorted(shuffled, key=tags.version_key)
    assert ordered[:2] in (["v0.9.0", "v0.9.0+build.7"], ["v0.9.0+build.7", "v0.9.0"])  # build metadata: equal
    assert ordered[2:] == ["v0.10.0", "v1.0.0-alpha", "v1.0.0-rc.9", "v1.0.0-rc.10", "v1.0.0", "v1.0.1"]
    assert tags.parse_tag("m@v1.0.0-rc.1").vstring == "v1.0.0-rc.1"
    assert tags.parse_tag("m@v01.0.0") is None and tags.parse_tag("m@v1.0") is None


def test_stages_from_gto_file(tmp_path):
    repo = make_repo(tmp_path / "r")
    assert load_stages(str(repo)) == tuple(tags.DEFAULT_STAGES)
    (repo / ".gto").write_text("stages: [candidate, staging, canary, production, shadow, deprecated, archived, qa]\n")
    assert "qa" in load_stages(str(repo))
    (repo / ".gto").write_text("stages: [dev, prod]\n")
    with pytest.raises(RegistryError):
        load_stages(str(repo))


def test_read_skips_lightweight_and_unassign_tags(tmp_path):
    repo = make_repo(tmp_path / "r")
    release(repo, "m")
    git(repo, "tag", "m@v9.0.0")  # lightweight: ignored by GTO and DVC, so by us
    git(repo, "tag", "-a", "-m", "x", "m#production!#99")
    git(repo, "tag", "-a", "-m", "x", "unrelated")
    fam = Repo(str(repo)).family_state("m")
    assert list(fam.versions) == ["v0.1.0"]
    assert [e.tag for e in fam.events] == ["m#candidate#1"]


def test_message_round_trip(tmp_path):
    repo = make_repo(tmp_path / "r")
    release(repo, "m")
    recs = {r.name: r for r in gitrefs.read_tags(str(repo))}
    msg = recs["m@v0.1.0"].message
    assert msg.startswith("Registering artifact m version v0.1.0\n\n")
    info = reg.version_info(str(repo), "m", "0.1.0")
    assert info["meta"]["registry_version"] == reg.__version__ and info["meta"]["event"] == "release"
    assert info["meta"]["by"] == "%s <%s>" % gitrefs.identity(str(repo))
    assert info["meta"]["metrics"] == {"accuracy": 0.95}
    stage = recs["m#candidate#1"].message
    assert stage.startswith("Assigning stage candidate to artifact m version v0.1.0\n\n")
    assert recs["m#candidate#1"].tagger_email == gitrefs.identity(str(repo))[1]


def test_atomic_multi_tag_write(tmp_path):
    repo = make_repo(tmp_path / "r")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "-a", "-m", "already here", "m#candidate#2")
    before = tag_refs(repo)
    new = [gitrefs.NewTag("m@v0.1.0", head, "first", 1000),
           gitrefs.NewTag("m#candidate#2", head, "second", 1001),
           gitrefs.NewTag("m#staging#3", head, "third", 1002)]
    with pytest.raises(RegistryError, match="nothing written"):
        gitrefs.write_tags(str(repo), new, ("A", "a@b"))
    assert tag_refs(repo) == before


def test_update_ref_transaction_all_written(tmp_path):
    repo = make_repo(tmp_path / "r")
    head = git(repo, "rev-parse", "HEAD").strip()
    new = [gitrefs.NewTag(f"m#candidate#{i}", head, f"msg {i}", 1000 + i) for i in range(1, 30)]
    gitrefs.write_tags(str(repo), new, ("A", "a@b"))
    recs = gitrefs.read_tags(str(repo))
    assert len(recs) == 29 and {r.commit for r in recs} == {head}
    assert sorted(r.time for r in recs) == list(range(1001, 1030))
    assert git(repo, "cat-file", "-t", "m#candidate#1").strip() == "tag"


def test_tagger_times_strictly_increase_within_a_second(tmp_path):
    repo = make_repo(tmp_path / "r")
    fixed = time.time()

    def r():  # every command "at the same second"
        return Repo(str(repo), now=lambda: fixed)

    commit(repo)
    write_release(r(), "m", FakeProposal("m"))
    reg.promote(r(), "m", "0.1.0", "staging")
    reg.promote(r(), "m", "0.1.0", "production")
    commit(repo)
    write_release(r(), "m", FakeProposal("m"))
    reg.promote(r(), "m", "0.2.0", "staging")
    reg.promote(r(), "m", "0.2.0", "production")
    reg.rollback(r(), "m", reason="same second")  # 4 tags: candidate, staging, production, deprecated
    times = sorted(rec.time for rec in gitrefs.read_tags(str(repo)))
    assert len(times) == len(set(times)) == 12
    assert times[0] == int(fixed)
    assert reg.resolve(str(repo), "m", "production") == "v0.1.0"


def test_same_second_ties_go_to_the_last_tag_name(tmp_path):
    """Foreign tags written in one second: like `dvc artifacts get`, #9 beats #10."""
    repo = make_repo(tmp_path / "r")
    a = commit(repo)
    b = commit(repo)
    gitrefs.write_tags(str(repo), [
        gitrefs.NewTag("m@v0.1.0", a, "Registering artifact m version v0.1.0", 500),
        gitrefs.NewTag("m@v0.2.0", b, "Registering artifact m version v0.2.0", 500),
        gitrefs.NewTag("m#production#9", a, "Assigning", 600),
        gitrefs.NewTag("m#production#10", b, "Assigning", 600),
    ], ("A", "a@b"))
    assert reg.resolve(str(repo), "m", "production") == "v0.1.0"


def test_missing_identity_is_a_clear_error(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "r")
    git(repo, "config", "--unset", "user.name")
    for var in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no global identity
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    before = tag_refs(repo)
    with pytest.raises(RegistryError, match="git config user.name"):
        write_release(str(repo), "m", FakeProposal("m"))
    assert tag_refs(repo) == before
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Env Person")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "env@example.com")
    write_release(str(repo), "m", FakeProposal("m"))
    assert gitrefs.read_tags(str(repo))[0].tagger_name == "Env Person"
