"""The pytest plugin of both test trees (``-p vml_testkit.plugin`` in the repository's pytest.ini):
the isolated environment, and the session's shared projects, built once and only when a test
asks for them. A test that changes a shared project works on a copy (``bake.copy_project``,
``evidence.copy_registry``)."""

from __future__ import annotations

import pytest

from .bake import bake, copy_project
from .env import isolated
from .git import run
from .serving import build_registry


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """Every test runs with a throwaway HOME, TMPDIR and git identity: cookiecutter leaves temp
    folders behind, and no user's git or DVC config may change what the tests see."""
    with isolated(tmp_path_factory.getbasetemp()):
        yield


@pytest.fixture(scope="session")
def baked(tmp_path_factory):
    """One default project, just baked (its local DVC remote beside it): for tests that only read it."""
    return bake(tmp_path_factory.mktemp("baked"))


@pytest.fixture(scope="session")
def reproduced(baked, tmp_path_factory):
    """One default project, baked and reproduced, not committed: shared by tests that only read
    it. A test that changes anything works on `bake.copy_project` of it. It is a copy of `baked`
    (one bake a session) with its own local DVC remote beside it."""
    base = tmp_path_factory.mktemp("reproduced")
    project = copy_project(baked, base / baked.name, storage=base / f"{baked.name}-dvc-storage")
    run(project, "dvc", "repro")
    return project


@pytest.fixture(scope="session")
def serving_base(tmp_path_factory):
    """The folder of ``serving.build_registry``'s registry (two families, released and promoted)."""
    base = tmp_path_factory.mktemp("registry")
    build_registry(base)
    return base
