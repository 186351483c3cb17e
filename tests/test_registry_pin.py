"""The registry pin a bake writes: every extra the project's commands need, what the bake says
when only this machine can install the pin, and an index version instead of a git URL
(``VERSIONED_ML_REGISTRY_PIN``), down to a fresh venv that installs it from a package index
folder alone."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from vml_testkit.bake import bake
from vml_testkit.paths import TEMPLATE

PIN_VARIABLE = "VERSIONED_ML_REGISTRY_PIN"
# the commands the project's README and docs run: report, serve, load_model (bundle), propose,
# release and promote to production (dvc)
NEEDED_EXTRAS = {"bundle", "dvc", "report", "serve"}
# the user's pip cache, not the throwaway HOME's: the slow test downloads the project's dependencies
REAL_PIP_CACHE = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip"


def registry_requirement(project: Path) -> str:
    deps = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    (requirement,) = [d for d in deps if d.startswith("versioned-ml-registry")]
    return requirement


def extras_of(requirement: str) -> set[str]:
    return set(re.match(r"versioned-ml-registry\[([^\]]*)\]", requirement).group(1).split(","))


def registry_version() -> str:
    text = (TEMPLATE / "registry" / "src" / "versioned_ml_registry" / "_version.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def machine_local_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "machine-local" in line]


@pytest.mark.slow
def test_the_pin_has_every_extra_the_projects_commands_need(tmp_path):
    project = bake(tmp_path)
    extras = extras_of(registry_requirement(project))
    assert NEEDED_EXTRAS <= extras, extras
    offered = tomllib.loads((TEMPLATE / "registry" / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras <= set(offered), f"the pin names extras the registry does not offer: {extras - set(offered)}"


@pytest.mark.slow
def test_a_pin_to_this_machine_is_said_in_one_line_with_how_to_repin(tmp_path, capfd, monkeypatch):
    monkeypatch.delenv(PIN_VARIABLE, raising=False)
    project = bake(tmp_path)
    requirement = registry_requirement(project)
    assert re.search(r" @ (git\+)?file://", requirement), requirement  # baked from this checkout
    (line,) = machine_local_lines(capfd.readouterr().out)
    assert requirement.split(" @ ")[1] in line
    assert f"{PIN_VARIABLE}=" in line and "teammates and CI cannot install it" in line


@pytest.mark.slow
@pytest.mark.parametrize("value, pinned", [
    ("0.7.1", "=={}"),
    ("~=0.7", "~=0.7"),
    (">=0.7, <1", ">=0.7, <1"),
    ("git+https://git.example.com/ml/template.git@v0.7.1#subdirectory=registry",
     " @ git+https://git.example.com/ml/template.git@v0.7.1#subdirectory=registry"),
])
def test_the_environment_pins_an_index_version_or_a_shared_url(tmp_path, capfd, monkeypatch, value, pinned):
    monkeypatch.setenv(PIN_VARIABLE, value)
    project = bake(tmp_path)
    requirement = registry_requirement(project)
    prefix = re.match(r"versioned-ml-registry\[[^\]]*\]", requirement).group(0)
    assert requirement == prefix + pinned.format(value)
    assert NEEDED_EXTRAS <= extras_of(requirement)
    out = capfd.readouterr().out
    assert machine_local_lines(out) == [] and requirement.partition("]")[2].strip(" @") in out


@pytest.mark.slow
def test_a_pin_to_a_folder_from_the_environment_is_said_to_be_machine_local(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv(PIN_VARIABLE, (TEMPLATE / "registry").as_uri())
    project = bake(tmp_path)
    assert registry_requirement(project).endswith(" @ " + (TEMPLATE / "registry").as_uri())
    assert len(machine_local_lines(capfd.readouterr().out)) == 1


@pytest.mark.parametrize("value", ["latest", "0.7 1", "git@github.com:ml/template.git", "https://x.org/a b"])
def test_a_bad_pin_is_refused_in_one_line_and_nothing_is_left(tmp_path, capfd, monkeypatch, value):
    monkeypatch.setenv(PIN_VARIABLE, value)
    with pytest.raises(FailedHookException):
        bake(tmp_path)
    err = capfd.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert PIN_VARIABLE in line and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == []


# --------------------------------------------------------------------------- an index pin installs

def sh(cwd: Path, *command, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, command))} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def copy_tracked(source: Path, dest: Path) -> Path:
    """The files git would commit under ``source`` (build leftovers stay behind)."""
    listed = sh(source, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", ".").stdout
    for name in filter(None, listed.split("\0")):
        if (source / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    return dest


@pytest.mark.slow
def test_an_index_pin_installs_from_a_package_index_folder_alone(tmp_path, monkeypatch):
    version = registry_version()
    index = tmp_path / "index"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(PIP_CACHE_DIR=str(REAL_PIP_CACHE), PIP_DISABLE_PIP_VERSION_CHECK="1")
    # the registry's wheel, as the publish workflow uploads it
    source = copy_tracked(TEMPLATE / "registry", tmp_path / "registry")
    sh(tmp_path, sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", index,
       source, env=env)
    (wheel,) = index.glob("versioned_ml_registry-*.whl")
    monkeypatch.setenv(PIN_VARIABLE, version)
    project = bake(tmp_path / "out")
    requirement = registry_requirement(project)
    assert requirement.endswith(f"]=={version}")
    # the folder also holds every other dependency (and the build backend of the editable install):
    # the fresh venv then installs from it alone, with no index at all
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    others = [d for d in pyproject["dependencies"] if d != requirement] + pyproject["optional-dependencies"]["test"]
    extras = ",".join(sorted(extras_of(requirement)))
    sh(project, sys.executable, "-m", "pip", "download", "-q", "-d", index, f"{wheel}[{extras}]", *others,
       "setuptools>=64", "wheel", "pip", env=env)
    venv = tmp_path / "venv"
    sh(tmp_path, sys.executable, "-m", "venv", venv)
    sh(tmp_path, venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--find-links", index,
       "--upgrade", "pip", env=env)  # as the bake says: a fresh venv's pip may predate the project's needs
    sh(project, venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", "--find-links", index,
       "-e", ".[test]", env=env)
    assert sh(project, venv / "bin" / "model-registry", "--version", env=env).stdout == f"model-registry {version}\n"
    # every extra came with it: the report and the server run in the project
    sh(project, venv / "bin" / "python", "-c", "import dvc.api, matplotlib, skops.io, starlette, uvicorn", env=env)
    site = sh(project, venv / "bin" / "model-registry", "report", "-o", tmp_path / "site", env=env)
    assert Path(site.stdout.strip()).is_file()
    # an extra's error names this same index version, not whatever the index holds
    hint = sh(project, venv / "bin" / "python", "-c", "from versioned_ml_registry.errors import missing_extra; "
              "print(missing_extra('model-registry report', 'report'))", env=env).stdout
    assert hint.strip().endswith(f"pip install 'versioned-ml-registry[report]=={version}'"), hint
