"""A refusal that names a command names one that works in that repository: the production
gate's "artifacts are not in the DVC remote" says how to push them from here, and running
exactly the command it names (a real subprocess) lets the same promotion through."""

from __future__ import annotations

import json
import re
import shlex

import pytest

from vml_testkit.evidence import DVC, copy_registry, init_repo, lock_md5, record, write_bundle
from vml_testkit.git import git, output, run
from vml_testkit.registry import FakeProposal, write_release

import versioned_ml_registry as reg
from versioned_ml_registry.errors import RegistryError

FAMILY = "cultivar"
NAMED = re.compile(r"run `([^`]+)` first")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A git + DVC repository (no git remote) whose v0.1.0 is in staging, its bundle committed to
    the DVC cache but never pushed."""
    base = tmp_path_factory.mktemp("gates")
    root = init_repo(base)
    write_bundle(root, C=1.0)
    record(root, "feat: first model", push=False)
    signature = json.loads((root / "models" / FAMILY / "signature.json").read_text())
    fake = FakeProposal(FAMILY, provenance={"path": f"models/{FAMILY}", "md5": {f"models/{FAMILY}": lock_md5(root)},
                                            "metrics": {"accuracy": 0.95}, "signature": signature})
    version = write_release(str(root), FAMILY, fake).version
    reg.promote(str(root), FAMILY, version, "staging")
    return base


def copy_of(base, tmp_path):
    """A copy to change. DVC resolves a relative local remote against the root of a commit's tree
    when it pushes or reads that commit: the copy gets the absolute path a baked project has."""
    root = copy_registry(base, tmp_path / "copy")
    output(root, DVC, "remote", "modify", "--local", "local", "url", str(root.parent / "remote"))
    return root


def refusal(root, **options) -> str:
    """The production gate's refusal of v0.1.0 (nothing written), and the command it names."""
    before = git(root, "for-each-ref", "refs/tags")
    with pytest.raises(RegistryError, match="not in the DVC remote") as refused:
        reg.promote(str(root), FAMILY, "v0.1.0", "production", **options)
    assert git(root, "for-each-ref", "refs/tags") == before
    named = NAMED.search(str(refused.value))
    assert named, str(refused.value)
    return named.group(1)


def run_named(root, command: str) -> None:
    """The named command exactly as a user types it (the test venv's executables on PATH)."""
    run(root, *shlex.split(command))


def promoted(root, **options) -> bool:
    reg.promote(str(root), FAMILY, "v0.1.0", "production", **options)
    return reg.resolve(str(root), FAMILY, "production") == "v0.1.0"


def test_without_a_git_remote_the_gate_names_dvc_push_and_it_works(base, tmp_path):
    root = copy_of(base, tmp_path)
    assert git(root, "remote") == ""
    command = refusal(root)
    assert command == "dvc push"
    run_named(root, command)
    assert promoted(root)


@pytest.mark.parametrize("remote", ["origin", "upstream"])
def test_with_a_git_remote_the_gate_names_model_registry_push_and_it_works(base, tmp_path, remote):
    root = copy_of(base, tmp_path)
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(root, "remote", "add", remote, str(bare))
    command = refusal(root)
    assert command == ("model-registry push" if remote == "origin" else f"model-registry push --remote {remote}")
    run_named(root, command)
    assert promoted(root)
    assert "cultivar@v0.1.0" in git(bare, "tag")  # and the tags were published


def test_a_named_dvc_remote_is_named_in_the_command(base, tmp_path):
    root = copy_of(base, tmp_path)
    output(root, DVC, "remote", "add", "backup", str(tmp_path / "backup"))
    command = refusal(root, dvc_remote="backup")
    assert command == "dvc push -r backup"
    run_named(root, command)
    assert refusal(root, dvc_remote="local") == "dvc push -r local"  # pushed to backup only
    assert promoted(root, dvc_remote="backup")


def test_a_version_the_workspace_no_longer_records_is_pushed_from_its_tag(base, tmp_path):
    root = copy_of(base, tmp_path)
    write_bundle(root, C=3.0, description="newer, not released")
    record(root, "feat: retrain", push=False)
    command = refusal(root)
    assert command == "dvc push --all-tags"
    run_named(root, command)
    assert promoted(root)
