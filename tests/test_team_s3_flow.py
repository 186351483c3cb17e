"""The team flow on a real S3 server (moto_server on 127.0.0.1, vml_testkit.s3):

bake with `dvc_remote=s3` -> `dvc repro` -> commit -> release -> `model-registry push` to a bare
git origin -> promote staging / production with `--push` -> a fresh `git clone` with an EMPTY
DVC cache gets the production bundle from S3 alone, through `load_model` and through
`dvc artifacts get --stage production`, byte for byte. Then `verify --remote`: all present
(exit 0), and a version that was never pushed is reported (exit 1).

The endpoint and credentials come only from the environment (vml_testkit.s3.s3_environ); the
committed `.dvc/config` names the bucket and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import pytest

from vml_testkit.bake import bake
from vml_testkit.env import project_env
from vml_testkit.git import add_origin, bare_origin, origin_tags, run
from vml_testkit.registry import registry
from vml_testkit.s3 import s3_server_fixture
from vml_testkit.team import FAMILY, first_release, new_version, teammate

pytestmark = [pytest.mark.s3, pytest.mark.slow]

s3 = s3_server_fixture(scope="module", bucket="team-store")

LOAD = """
import csv, json, sys
from versioned_ml_registry import load_model
model = load_model("cultivar", stage="production", repo=sys.argv[1])
rows = list(csv.DictReader(open(sys.argv[2])))[:25]
inputs = [field["name"] for field in model.signature["inputs"]]
print(json.dumps({"version": model.version, "md5": model.md5,
                  "labels": model.predict([{c: row[c] for c in inputs} for row in rows])}))
"""


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def timings():
    spent: dict[str, float] = {}
    started = time.monotonic()
    yield spent
    spent["total (module)"] = time.monotonic() - started
    print("\nS3 flow timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in spent.items()), file=sys.stderr)


class Clock:
    def __init__(self, spent: dict, name: str):
        self.spent, self.name = spent, name

    def __enter__(self):
        self.t0 = time.monotonic()

    def __exit__(self, *exc):
        self.spent[self.name] = self.spent.get(self.name, 0.0) + time.monotonic() - self.t0


@pytest.fixture(scope="module")
def published(s3, tmp_path_factory, timings):
    """A baked S3 project, released, pushed and promoted to production on a bare origin."""
    base = tmp_path_factory.mktemp("team-s3")
    with Clock(timings, "bake"):
        project = bake(base, dvc_remote="s3", s3_url=s3.url("wine"))
    env = s3.environ(project_env(project))
    config = (project / ".dvc" / "config").read_text()
    assert "s3://team-store/wine" in config and "127.0.0.1" not in config and "testing" not in config
    with Clock(timings, "repro"):
        run(project, "dvc", "repro", env=env)
    with Clock(timings, "release"):
        assert first_release(project, env=env) == "v0.1.0"
    origin = bare_origin(base / "origin.git")
    add_origin(project, origin)
    with Clock(timings, "model-registry push (S3)"):
        out = registry(project, "push", env=env).stdout
    assert "published 2 tag(s) to origin atomically" in out, out
    assert s3.list_keys("wine/"), "push wrote nothing to S3"
    with Clock(timings, "promote --push x2"):
        registry(project, "promote", FAMILY, "v0.1.0", "staging", "--reason", "qa", "--push", env=env)
        registry(project, "promote", FAMILY, "v0.1.0", "production", "--reason", "go", "--push", env=env)
    assert {"cultivar@v0.1.0", "cultivar#candidate#1", "cultivar#staging#2", "cultivar#production#3"} \
        == set(origin_tags(origin))
    return project, origin, env


def test_fresh_clone_serves_production_from_s3_alone(published, s3, tmp_path, timings):
    project, origin, _ = published
    fresh, fresh_env = teammate(origin, tmp_path / "fresh", "Carol")
    fresh_env = s3.environ(fresh_env)
    assert not (fresh / ".dvc" / "cache").exists(), "the clone must start with an empty DVC cache"
    assert not (fresh / "models" / FAMILY).exists()
    assert "cache" not in run(fresh, "dvc", "config", "--list", env=fresh_env).stdout
    csv_path = str(project / "data" / "raw" / f"{FAMILY}.csv")

    with Clock(timings, "load_model from S3"):
        served = run(fresh, sys.executable, "-c", LOAD, str(fresh), csv_path, env=fresh_env).stdout
    local = run(project, sys.executable, "-c", LOAD, str(project), csv_path, env=published[2]).stdout
    served, local = json.loads(served), json.loads(local)
    assert served["version"] == "v0.1.0" and served == local

    with Clock(timings, "dvc artifacts get --stage production"):
        run(fresh, "dvc", "artifacts", "get", ".", FAMILY, "--stage", "production", "-o",
            str(tmp_path / "fetched"), env=fresh_env)
    assert tree_digest(tmp_path / "fetched") == tree_digest(project / "models" / FAMILY)
    assert registry(fresh, "resolve", FAMILY, "--stage", "production", env=fresh_env).stdout.strip() == "v0.1.0"


def test_verify_remote_reports_a_version_never_pushed(published, timings):
    project, _, env = published
    with Clock(timings, "verify --remote"):
        ok = registry(project, "verify", "--remote", env=env)
    assert "checked 1 version tags and the DVC remote" in ok.stdout
    with Clock(timings, "second version (repro + release)"):
        assert new_version(project, 2, env=env) == "v0.2.0"
    done = registry(project, "verify", "--remote", check=False, env=env)
    assert done.returncode == 1, done
    missing = [line for line in done.stdout.splitlines() if "missing in remote" in line]
    assert len(missing) == 1 and "cultivar@v0.2.0" in missing[0], done.stdout
    # publishing fixes it: artifacts first, then the tags
    registry(project, "push", env=env)
    assert registry(project, "verify", "--remote", env=env).returncode == 0
