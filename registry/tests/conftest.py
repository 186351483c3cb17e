import os
import tempfile

import pytest

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


@pytest.fixture(scope="session", autouse=True)
def isolated_environment(tmp_path_factory):
    """A throwaway HOME and TMPDIR and a fixed git identity: no user's git or DVC config may
    change what the tests see."""
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
