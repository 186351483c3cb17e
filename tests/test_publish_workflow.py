"""The template repository publishes `versioned-ml-registry` to a package index from
`.github/workflows/publish-registry.yml`: on a `registry-v<version>` tag it checks the tag
against the registry's version, builds the sdist and wheel and checks them with twine, then
uploads them with trusted publishing. Here the workflow's own `run:` steps build and check the
distribution locally, with the tools requirements.txt pins."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from vml_testkit.paths import BIN, TEMPLATE
from vml_testkit.venvs import ServerError, actionlint_executable

WORKFLOW = TEMPLATE / ".github" / "workflows" / "publish-registry.yml"
REAL_PIP_CACHE = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def registry_version() -> str:
    text = (TEMPLATE / "registry" / "src" / "versioned_ml_registry" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def steps(job: str) -> list[dict]:
    return workflow()["jobs"][job]["steps"]


def step(job: str, step_id: str) -> dict:
    (found,) = [s for s in steps(job) if s.get("id") == step_id]
    return found


def test_it_publishes_only_on_a_registry_tag_with_trusted_publishing():
    flow = workflow()
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads a bare `on` as true
    assert triggers == {"push": {"tags": ["registry-v*"]}}
    assert flow["permissions"] == {"contents": "read"}
    publish = flow["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"id-token": "write"}
    assert any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for s in publish["steps"])
    assert "secrets." not in WORKFLOW.read_text()  # no token: the index trusts this workflow


def test_the_build_tools_are_the_ones_requirements_txt_pins():
    pinned = dict(re.findall(r"^(build|twine)==(\S+)$", (TEMPLATE / "requirements.txt").read_text(), re.M))
    installed = dict(re.findall(r"\b(build|twine)==(\S+)", step("build", "tools")["run"]))
    assert installed == pinned and set(pinned) == {"build", "twine"}


def test_actionlint():
    try:
        exe = actionlint_executable()
    except ServerError as exc:
        pytest.skip(f"actionlint not installable here: {str(exc).splitlines()[0]}")
    if exe is None:
        pytest.skip("actionlint package installed no executable")
    proc = subprocess.run([str(exe), "-no-color", str(WORKFLOW)], capture_output=True, text=True,
                          cwd=TEMPLATE, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_step(checkout: Path, step_id: str, ref_name: str) -> subprocess.CompletedProcess:
    """One `run:` step of the build job as GitHub runs it (bash -e -o pipefail) in ``checkout``."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", GITHUB_REF_NAME=ref_name,
               PIP_CACHE_DIR=str(REAL_PIP_CACHE))
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step("build", step_id)["run"]],
                          cwd=checkout, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The registry's files as a fresh clone has them (no build leftovers of the working tree)."""
    dest = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "registry"],
                            cwd=TEMPLATE, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (TEMPLATE / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TEMPLATE / name, dest / name)
    return dest


def test_a_tag_that_is_not_the_registry_version_is_refused(checkout):
    proc = run_step(checkout, "version", "registry-v999.0.0")
    assert proc.returncode != 0
    assert f"registry-v{registry_version()}" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_workflow_steps_build_and_check_the_sdist_and_wheel(checkout):
    version = registry_version()
    for step_id in ("version", "build", "check"):
        proc = run_step(checkout, step_id, f"registry-v{version}")
        assert proc.returncode == 0, f"step {step_id}:\n{proc.stdout}\n{proc.stderr}"
    dist = checkout / "dist"
    assert sorted(p.name for p in dist.iterdir()) == [
        f"versioned_ml_registry-{version}-py3-none-any.whl", f"versioned_ml_registry-{version}.tar.gz"]
    with zipfile.ZipFile(dist / f"versioned_ml_registry-{version}-py3-none-any.whl") as wheel:
        names = wheel.namelist()
        entry_points = wheel.read(f"versioned_ml_registry-{version}.dist-info/entry_points.txt").decode()
    assert "versioned_ml_registry/cli/__init__.py" in names and "versioned_ml_registry/report/site.py" in names
    assert "model-registry = versioned_ml_registry.cli:main" in entry_points
    with tarfile.open(dist / f"versioned_ml_registry-{version}.tar.gz") as sdist:
        assert f"versioned_ml_registry-{version}/README.md" in sdist.getnames()
    assert "PASSED" in run_step(checkout, "check", f"registry-v{version}").stdout
