"""Tags written by someone else are data, not danger: every read and write command answers
with output or one clear line, never a traceback or a hang, and nothing is written on a
refusal. Real git repositories and the real command line."""

import subprocess
import sys

import pytest

from vml_testkit.git import commit, git, tag_refs
from vml_testkit.registry import FakeProposal, make_repo, release, write_release

import versioned_ml_registry as reg

ALIAS_BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                       + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                          f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                          f"*{chr(97 + i)}]" for i in range(8)])


def cli(repo, *args):
    done = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "--repo", str(repo), *args],
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1, 2), done.stderr
    if done.returncode == 2:
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done


def every_command(repo):
    """Read and write commands on the family: none may crash or hang."""
    before = tag_refs(repo)
    results = {args[0]: cli(repo, *args) for args in (
        ["show"], ["show", "m"], ["history", "m"], ["resolve", "m", "--stage", "production"], ["verify"],
        ["promote", "m", "v0.1.0", "staging", "--reason", "x"])}
    return results, before


@pytest.fixture
def repo(tmp_path):
    r = make_repo(tmp_path / "repo")
    release(r, "m")
    return r


def annotate(repo, tag, body, target="HEAD"):
    """A tag written by someone else, later than every registry tag."""
    import os
    import time

    env = dict(os.environ, GIT_COMMITTER_DATE=f"{int(time.time()) + 36000} +0000")
    subprocess.run(["git", "tag", "-a", tag, target, "-m", f"Registering artifact m\n\n{body}"], cwd=repo,
                   env=env, check=True, capture_output=True)


def test_an_alias_bomb_is_refused_by_the_parser_not_expanded(repo):
    assert len(ALIAS_BOMB.encode()) < 1000
    commit(repo, "more")
    annotate(repo, "m@v0.2.0", ALIAS_BOMB)
    results, _ = every_command(repo)
    assert results["history"].returncode == 0
    assert "YAML aliases are not allowed" in results["verify"].stdout


@pytest.mark.parametrize("body", ["md5: [1, 2]", "md5: {models/m: [x]}", "by: {a: 1}", "reasons: 5",
                                  "path: [models/m]", "signature: 7", "metrics: nope", "gates: [1]", "- a list"])
def test_wrong_typed_annotations_give_lines_not_tracebacks(repo, body):
    commit(repo, "more")
    annotate(repo, "m@v0.2.0", body)
    results, _ = every_command(repo)
    assert results["history"].returncode == 0
    assert results["verify"].returncode == 1


def test_a_second_version_tag_at_a_released_commit_is_refused_and_reported(repo):
    annotate(repo, "m@v0.9.0", "event: release")
    results, before = every_command(repo)
    assert results["promote"].returncode == 2
    assert "v0.1.0 and v0.9.0 are tagged at the same commit" in results["promote"].stderr
    assert tag_refs(repo) == before
    assert "tagged at the same commit" in results["verify"].stdout


def test_a_stage_tag_where_no_version_is_tagged_is_refused_and_reported(repo):
    reg.promote(str(repo), "m", "0.1.0", "staging")
    reg.promote(str(repo), "m", "0.1.0", "production")
    unreleased = commit(repo, "not a version")
    annotate(repo, "m#production#99", "stage: production", unreleased)
    results, before = every_command(repo)
    resolved = results["resolve"]
    assert resolved.returncode == 2 and "commit:" not in resolved.stdout
    assert "m#production#99" in resolved.stderr and "no version is tagged" in resolved.stderr
    assert results["promote"].returncode == 2 and tag_refs(repo) == before
    assert "m#production#99 points at" in results["verify"].stdout


@pytest.mark.parametrize("tag, what", [
    ("m#staging!#7", "GTO unassign tag"),
    ("m#shadow", "without a counter"),
    ("m@v0.1.0!", "GTO deregistration"),
    ("m@deprecated", "GTO artifact deprecation"),
])
def test_tags_in_gtos_other_forms_stop_with_the_tag_named_and_how_to_migrate(repo, tag, what):
    annotate(repo, tag, "")
    results, before = every_command(repo)
    for name in ("show", "history", "resolve", "promote"):
        assert results[name].returncode == 2, name
        assert tag in results[name].stderr and what in results[name].stderr
        assert "migrate by deleting it" in results[name].stderr
    assert tag_refs(repo) == before
    assert tag in results["verify"].stdout


def test_a_deleted_version_tag_whose_stage_tags_remain_blocks_releases_until_fixed(repo):
    release(repo, "m")
    reg.promote(str(repo), "m", "0.2.0", "staging")
    git(repo, "tag", "-d", "m@v0.2.0")
    commit(repo, "a different artifact")
    before = tag_refs(repo)
    with pytest.raises(reg.RegistryError, match="m#candidate#2 points at .* where no version of m is tagged"):
        write_release(str(repo), "m", FakeProposal("m"))
    assert tag_refs(repo) == before


def test_a_version_number_the_remote_has_is_never_reused(repo, tmp_path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    release(repo, "m")
    git(repo, "push", "-q", "origin", "refs/tags/m@v0.2.0")
    git(repo, "tag", "-d", "m@v0.2.0", "m#candidate#2")
    commit(repo, "a different artifact")
    before = tag_refs(repo)
    with pytest.raises(reg.RegistryError, match="v0.2.0 was named before"):
        write_release(str(repo), "m", FakeProposal("m"), remote="origin")
    assert tag_refs(repo) == before
    git(repo, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(reg.RegistryError, match="or release with --offline"):
        write_release(str(repo), "m", FakeProposal("m"), remote="origin")


def test_a_version_number_whose_tag_was_deleted_here_is_never_reused(repo):
    release(repo, "m")
    git(repo, "tag", "-d", "m@v0.2.0", "m#candidate#2")
    commit(repo, "a different artifact")
    with pytest.raises(reg.RegistryError, match="v0.2.0 was named before"):
        write_release(str(repo), "m", FakeProposal("m"))
