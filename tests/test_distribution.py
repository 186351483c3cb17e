"""The registry reaches projects as a pinned distribution, never as copied source.

The template is committed to a local bare git repository, as a team would host it; projects
are baked from that repository. One is installed into a fresh virtual environment with
`pip install -e ".[test]"` alone (no package-index entry for the registry exists) and runs
the lifecycle with the packaged `model-registry`. Then a template change, registry included,
reaches a baked project through `cruft update`.
"""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vml_testkit.paths import TEMPLATE

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
REAL_PIP_CACHE = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip"


def sh(cwd, *command, env=None, check=True):
    done = subprocess.run(command, cwd=cwd, env=env or dict(os.environ), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """(bare repository URL, a working clone to change the template in)."""
    base = tmp_path_factory.mktemp("template")
    work = base / "work"
    files = sh(TEMPLATE, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").stdout
    for name in filter(None, files.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    sh(work, "git", "init", "-q", "-b", "main")
    sh(work, "git", "add", "-A")
    sh(work, "git", "commit", "-q", "-m", "feat: the template")
    bare = base / "template.git"
    sh(base, "git", "clone", "-q", "--bare", str(work), str(bare))
    sh(work, "git", "remote", "add", "origin", str(bare))
    return bare.as_uri(), work


def bake_from(url: str, output: Path) -> Path:
    done = sh(output.parent, str(BIN / "cookiecutter"), "--no-input", url, "--output-dir", str(output))
    assert "pinned to the template commit" in done.stdout, done.stdout
    return next(p for p in output.iterdir() if p.is_dir() and not p.name.endswith("-dvc-storage"))


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, origin):
    """A project baked from the bare repository and installed into a new venv with one command."""
    url, _ = origin
    project = bake_from(url, tmp_path_factory.mktemp("baked") / "out")
    venv = project.parent / "venv"
    sh(project, sys.executable, "-m", "venv", str(venv))
    env = dict(os.environ, PIP_CACHE_DIR=str(REAL_PIP_CACHE), PIP_DISABLE_PIP_VERSION_CHECK="1")
    sh(project, str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip", env=env)
    sh(project, str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-e", ".[test]", env=env)
    return project, venv


def in_venv(project: Path, venv: Path, *command, check=True):
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    env.pop("PYTHONPATH", None)
    return sh(project, *command, env=env, check=check)


def test_the_project_pins_the_registry_to_the_template_commit_and_holds_no_registry_source(origin, fresh_venv):
    url, work = origin
    project, _ = fresh_venv
    commit = sh(work, "git", "rev-parse", "HEAD").stdout.strip()
    pyproject = (project / "pyproject.toml").read_text()
    registry = re.search(r'^REGISTRY = "([^"]+)"$', (work / "hooks" / "post_gen_project.py").read_text(),
                         re.MULTILINE).group(1)  # the requirement (name and extras) the hook pins
    assert f'"{registry} @ git+{url}@{commit}#subdirectory=registry"' in pyproject
    cruft = json.loads((project / ".cruft.json").read_text())
    assert (cruft["template"], cruft["commit"]) == (url, commit)
    assert not [p for p in project.rglob("*.py") if "registry" in p.name or "registry" in p.parent.name]
    assert not (project / "src" / json.loads((project / ".cookiecutter.json").read_text())["package"] / "registry").exists()


def test_a_fresh_venv_runs_the_lifecycle_with_the_packaged_registry(fresh_venv):
    project, venv = fresh_venv
    registry = str(venv / "bin" / "model-registry")
    version = in_venv(project, venv, registry, "--version").stdout
    assert version.startswith("model-registry ")
    in_venv(project, venv, "dvc", "repro")
    in_venv(project, venv, "git", "add", "-A")
    in_venv(project, venv, "git", "commit", "-q", "-m", "feat: first model")
    family = json.loads((project / ".cookiecutter.json").read_text())["model_family"]
    in_venv(project, venv, registry, "release", family)
    in_venv(project, venv, registry, "promote", family, "v0.1.0", "staging", "--reason", "qa")
    in_venv(project, venv, "dvc", "push", "-q")
    in_venv(project, venv, registry, "promote", family, "v0.1.0", "production", "--reason", "launch")
    conf = project / "conf" / "model" / "logistic_regression.yaml"
    conf.write_text(conf.read_text().replace("C: 1.0", "C: 0.01"))
    in_venv(project, venv, "dvc", "repro")
    in_venv(project, venv, "git", "add", "-A")
    in_venv(project, venv, "git", "commit", "-q", "-m", "feat: stronger regularisation")
    released = in_venv(project, venv, registry, "release", family).stdout
    assert f"released {family} v0.2.0" in released
    in_venv(project, venv, registry, "promote", family, "v0.2.0", "staging", "--reason", "qa")
    in_venv(project, venv, "dvc", "push", "-q")
    in_venv(project, venv, registry, "promote", family, "v0.2.0", "production", "--reason", "go")
    in_venv(project, venv, registry, "rollback", family, "--reason", "complaints")
    assert in_venv(project, venv, registry, "resolve", family, "--stage", "production").stdout == "v0.1.0\n"
    served = in_venv(project, venv, "python", "-c",
                     f"from versioned_ml_registry import load_model; print(load_model({family!r}).version)")
    assert served.stdout.strip() == "v0.1.0"


def test_cruft_update_brings_a_template_change_and_the_new_registry_pin(origin, fresh_venv, tmp_path):
    url, work = origin
    project = bake_from(url, tmp_path / "out")
    assert sh(project, str(BIN / "cruft"), "check").returncode == 0
    version_file = work / "registry" / "src" / "versioned_ml_registry" / "_version.py"
    version_file.write_text('"""The registry\'s own version."""\n\n__version__ = "99.0.0"\n')
    team = work / "{{cookiecutter.__project_folder}}" / "docs" / "TEAM.md"
    team.write_text(team.read_text() + "\nA line the template added later.\n")
    sh(work, "git", "commit", "-q", "-am", "fix: registry 99.0.0 and a docs line")
    sh(work, "git", "push", "-q", "origin", "main")
    new_commit = sh(work, "git", "rev-parse", "HEAD").stdout.strip()

    assert sh(project, str(BIN / "cruft"), "check", check=False).returncode != 0
    sh(project, str(BIN / "cruft"), "update", "--skip-apply-ask")
    pyproject = (project / "pyproject.toml").read_text()
    assert f"git+{url}@{new_commit}#subdirectory=registry" in pyproject
    assert "A line the template added later." in (project / "docs" / "TEAM.md").read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == new_commit
    assert sh(project, str(BIN / "cruft"), "check").returncode == 0

    # the new pin installs and is the new registry
    _, venv = fresh_venv
    requirement = next(line.strip().strip('",') for line in pyproject.splitlines() if "versioned-ml-registry" in line
                       and "@" in line)
    env = dict(os.environ, PIP_CACHE_DIR=str(REAL_PIP_CACHE))
    sh(project, str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", requirement, env=env)
    assert in_venv(project, venv, str(venv / "bin" / "model-registry"), "--version").stdout == "model-registry 99.0.0\n"
