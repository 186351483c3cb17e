import os
import tempfile

import pytest

from baking import bake, run

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """Every test runs with a throwaway HOME, TMPDIR and git identity: cookiecutter leaves temp
    folders behind, and no user's git or DVC config may change what the tests see."""
    base = tmp_path_factory.getbasetemp()
    home, tmp = base / "home", base / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    saved = dict(os.environ)
    os.environ.update(HOME=str(home), TMPDIR=str(tmp), GIT_CONFIG_NOSYSTEM="1", DVC_NO_ANALYTICS="1", **IDENTITY)
    tempfile.tempdir = None
    yield
    os.environ.clear()
    os.environ.update(saved)
    tempfile.tempdir = None


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory):
    """One default project, baked and reproduced, not committed: shared by tests that only read
    it. A test that changes anything works on `baking.copy_project` of it."""
    project = bake(tmp_path_factory.mktemp("reproduced"))
    run(project, "dvc", "repro")
    return project
