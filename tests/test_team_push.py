"""`model-registry push`: DVC artifacts first, then every unpublished registry tag in ONE
`git push --atomic`; nothing published when the DVC remote is unreachable, an artifact is
missing, or the git server refuses. Real dvc, real git, a real bare origin, the local DVC remote.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from vml_testkit.bake import copy_project
from vml_testkit.env import project_env
from vml_testkit.git import add_origin, bare_origin, git, origin_tags, run, tag_yaml, write_hook
from vml_testkit.net import unreachable_endpoint
from vml_testkit.registry import registry
from vml_testkit.s3 import s3_environ
from vml_testkit.team import FAMILY, first_release, new_version, storage_objects

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def released(reproduced, tmp_path_factory):
    """The default project with cultivar v0.1.0 and v0.2.0 released, nothing published."""
    base = tmp_path_factory.mktemp("team-push")
    project = copy_project(reproduced, base / "wine-cultivar", base / "storage")
    assert first_release(project) == "v0.1.0"
    assert new_version(project, 2) == "v0.2.0"
    return project


@pytest.fixture
def project(released, tmp_path):
    """A private copy of `released` with its own empty DVC remote and a bare git origin."""
    copy = copy_project(released, tmp_path / "wine-cultivar", tmp_path / "storage")
    add_origin(copy, bare_origin(tmp_path / "origin.git"))
    return copy


def local_registry_tags(project: Path) -> set[str]:
    return {t for t in git(project, "tag", "-l").split() if t.startswith(f"{FAMILY}@") or t.startswith(f"{FAMILY}#")}


def bundle_md5s(project: Path, tag: str) -> set[str]:
    """The `.dir` md5 and file md5s of a version's bundle (from its tag and the DVC cache)."""
    dir_md5 = next(iter(tag_yaml(project, tag)["md5"].values()))
    manifest = project / ".dvc" / "cache" / "files" / "md5" / dir_md5[:2] / dir_md5[2:]
    return {dir_md5} | {entry["md5"] for entry in json.loads(manifest.read_text())}


def test_push_publishes_artifacts_then_all_tags_atomically(project, tmp_path):
    origin, storage = tmp_path / "origin.git", tmp_path / "storage"
    registry(project, "promote", FAMILY, "v0.1.0", "staging", "--reason", "qa")
    # the origin records what the DVC remote holds at the moment the tags arrive
    seen = tmp_path / "storage-when-tags-arrived.json"
    write_hook(origin, "pre-receive", (
        "import json, pathlib, sys\n"
        f"root = pathlib.Path({str(storage / 'files' / 'md5')!r})\n"
        "objs = sorted(p.parent.name + p.name for p in root.glob('*/*')) if root.is_dir() else []\n"
        "refs = [line.split()[2] for line in sys.stdin if line.strip()]\n"
        f"pathlib.Path({str(seen)!r}).write_text(json.dumps(dict(objects=objs, refs=refs)))\n"))
    assert storage_objects(storage) == set()

    out = registry(project, "push").stdout
    assert "published 5 tag(s) to origin atomically" in out, out
    local = local_registry_tags(project)
    assert set(origin_tags(origin)) == local == {
        "cultivar@v0.1.0", "cultivar@v0.2.0", "cultivar#candidate#1", "cultivar#candidate#2", "cultivar#staging#3"}
    arrival = json.loads(seen.read_text())
    arrived_tags = [ref for ref in arrival["refs"] if ref.startswith("refs/tags/")]  # (and the registry's own refs)
    assert sorted(arrived_tags) == sorted(f"refs/tags/{t}" for t in local), "not ONE push of every tag"
    for version in ("cultivar@v0.1.0", "cultivar@v0.2.0"):
        assert bundle_md5s(project, version) <= set(arrival["objects"]), f"{version} tag arrived before its artifacts"
    assert registry(project, "verify", "--remote").returncode == 0

    again = registry(project, "push").stdout
    assert "nothing to publish" in again
    # production requires the artifacts in the remote: they are, and --push publishes the tag
    out = registry(project, "promote", FAMILY, "v0.1.0", "production", "--reason", "go", "--push").stdout
    assert "published cultivar#production#4 to origin" in out, out
    assert "cultivar#production#4" in origin_tags(origin)


def test_unreachable_dvc_remote_fails_fast_and_publishes_no_tag(project, tmp_path):
    origin = tmp_path / "origin.git"
    dead = unreachable_endpoint()
    run(project, "dvc", "remote", "add", "--local", "dead", "s3://nowhere/store")
    env = s3_environ(dead, project_env(project))
    started = time.monotonic()
    done = registry(project, "push", "--dvc-remote", "dead", check=False, env=env)
    elapsed = time.monotonic() - started
    print(f"unreachable DVC remote: failed in {elapsed:.1f}s")
    assert done.returncode == 2, done
    assert elapsed < 20, f"took {elapsed:.1f}s to report an unreachable remote"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "DVC remote" in lines[0] and "reach" in lines[0], lines[0]
    assert origin_tags(origin) == {}, "a tag was published although its artifacts could not be"


def test_a_version_whose_artifacts_are_missing_is_never_published(project, tmp_path):
    """v0.2.0's bundle is gone from the cache (and was never pushed): `push` pushes what it
    can, finds v0.2.0 incomplete in the remote and publishes NO tag at all."""
    origin, storage = tmp_path / "origin.git", tmp_path / "storage"
    only_v2 = bundle_md5s(project, "cultivar@v0.2.0") - bundle_md5s(project, "cultivar@v0.1.0")
    assert only_v2
    for md5 in only_v2:
        (project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    done = registry(project, "push", check=False)
    assert done.returncode == 2, done
    assert "cultivar@v0.2.0" in done.stderr and "no tag published" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert origin_tags(origin) == {}
    assert not (only_v2 & storage_objects(storage))
    # verify --remote names the incomplete version and exits 1
    verify = registry(project, "verify", "--remote", check=False)
    assert verify.returncode == 1
    assert "cultivar@v0.2.0" in verify.stdout and "cultivar@v0.1.0" not in verify.stdout.split("remote", 1)[1]


def test_git_server_refusal_is_one_clear_error(project, tmp_path):
    origin = tmp_path / "origin.git"
    write_hook(origin, "pre-receive", "import sys\nprint('registry tags are frozen here', file=sys.stderr)\nsys.exit(1)\n")
    done = registry(project, "push", check=False)
    assert done.returncode == 2, done
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "origin rejected the push" in line and "frozen" in line, line
    assert origin_tags(origin) == {}


def test_unknown_git_remote_is_bad_input(project):
    done = registry(project, "push", "--remote", "upstream", check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot read the tags of git remote 'upstream'"), done.stderr


# What `git push --atomic --porcelain` printed (stdout, stderr) for the loser of real races:
# the second shape comes from two pushes reaching the server at the same instant (seen in CI).
LINE = "!\trefs/tags/m#production#8:refs/tags/m#production#8\t"
SEEN_BEFORE_SENDING = (f"To /srv/origin.git\n{LINE}[rejected] (already exists)\nDone\n", "")
SAME_INSTANT = (f"To /srv/origin.git\n{LINE}[remote rejected] (atomic transaction failed)\nDone\n",
                "remote: error: cannot lock ref 'refs/tags/m#production#8': reference already exists\n"
                "error: failed to push some refs to '/srv/origin.git'\n")
HOOK_REFUSAL = (f"To /srv/origin.git\n{LINE}[remote rejected] (pre-receive hook declined)\nDone\n",
                "remote: tags are protected here\nerror: failed to push some refs to '/srv/origin.git'\n")


@pytest.mark.parametrize("output", [SEEN_BEFORE_SENDING, SAME_INSTANT], ids=["seen-before-sending", "same-instant"])
def test_both_shapes_of_a_lost_race_are_recognised(output):
    from versioned_ml_registry.tags.remote import rejected_refs

    assert rejected_refs(*output) == (["m#production#8"], [])


def test_a_hook_refusal_is_not_mistaken_for_a_race():
    from versioned_ml_registry.tags.remote import rejected_refs

    assert rejected_refs(*HOOK_REFUSAL) == ([], ["m#production#8: [remote rejected] (pre-receive hook declined)"])
