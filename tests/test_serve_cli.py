"""`serve` predicts with the version a tag names; `release --if-changed` is a no-op on an
identical bundle (what CI runs on every merge to main)."""

import json
import subprocess

import pytest

from baking import bake, git, project_env, run

FAMILY = "cultivar"


def registry(project, *args, stdin=None, check=True):
    done = subprocess.run(["python", "-m", "wine_cultivar.registry", *args], cwd=project, env=project_env(project),
                          input=stdin, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}: {done.stderr}")
    return done


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    project = bake(tmp_path_factory.mktemp("serve"))
    run(project, "dvc", "repro")
    git(project, "add", "--all")
    git(project, "commit", "-qm", "feat: first model")
    registry(project, "release", FAMILY)
    return project


def test_serve_predicts_with_the_released_bundle(released):
    fingerprint = json.loads((released / "models" / FAMILY / "fingerprint.json").read_text())
    records = fingerprint["probe"][:25]
    out = json.loads(registry(released, "serve", FAMILY, "--version", "v0.1.0", stdin=json.dumps(records)).stdout)
    assert out == {"family": FAMILY, "version": "v0.1.0", "predictions": fingerprint["predictions"][:25]}


def test_serve_refuses_bad_input_in_one_line(released):
    done = registry(released, "serve", FAMILY, "--version", "v0.1.0", stdin="not json", check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: stdin is not JSON") and len(done.stderr.splitlines()) == 1
    empty_stage = registry(released, "serve", FAMILY, "--stage", "production", stdin="[]", check=False)
    assert empty_stage.returncode == 2 and "production" in empty_stage.stderr


def test_release_if_changed_writes_nothing_for_an_identical_bundle(released):
    tags = git(released, "for-each-ref", "refs/tags")
    refused = registry(released, "release", FAMILY, check=False)
    assert refused.returncode == 2 and "identical to v0.1.0" in refused.stderr
    done = registry(released, "release", FAMILY, "--if-changed")
    assert "cultivar bundle is identical to v0.1.0: nothing to release" in done.stdout
    assert git(released, "for-each-ref", "refs/tags") == tags


def test_release_if_changed_still_refuses_a_dirty_workspace(released):
    tags = git(released, "for-each-ref", "refs/tags")
    (released / "notes.txt").write_text("not committed\n")
    try:
        done = registry(released, "release", FAMILY, "--if-changed", check=False)
    finally:
        (released / "notes.txt").unlink()
    assert done.returncode == 2 and "uncommitted changes" in done.stderr
    assert git(released, "for-each-ref", "refs/tags") == tags
