"""The generated README's worked example runs as written (issue 9, item 8).

On a real baked project (the session's reproduced one, with its own DVC remote), every
```bash block of the README's "A worked example" section runs in order (bash -e -o pipefail,
`model-registry` and the project on PATH as `pip install -e .` puts them): two releases of the
example family to production, a rollback, then a regression family added from a CSV with
`add-family`, released and promoted. Every command must exit 0, and the registry must end in
the state the README says.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from vml_testkit.bake import copy_project, model_registry_on_path
from vml_testkit.git import git
from vml_testkit.registry import registry

pytestmark = pytest.mark.slow

FAMILY = "cultivar"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)


def worked_example(readme: str) -> list[str]:
    section = readme[readme.index("### A worked example"):readme.index("**Publishing")]
    return BLOCK.findall(section)


def state(project, family: str) -> dict:
    return json.loads(registry(project, "show", family, "--json").stdout)["families"][family]


def test_the_worked_example_runs_as_written(reproduced, tmp_path):
    project = copy_project(reproduced, tmp_path / "wine-cultivar", storage=tmp_path / "storage")
    readme = (project / "README.md").read_text()
    assert "{{" not in readme and "{%" not in readme
    blocks = worked_example(readme)
    assert len(blocks) == 4, blocks
    env = dict(model_registry_on_path(project), TMPDIR=str(tmp_path))
    outputs = []
    for index, block in enumerate(blocks):
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=project, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"block {index} failed:\n{block}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert outputs[2].strip().splitlines()[-1] == "v0.1.0"  # production after the rollback
    assert outputs[3].strip().splitlines()[-1] == "v0.1.0"  # the regression family in production
    example = state(project, FAMILY)
    assert example["holders"]["production"] == "v0.1.0" and example["status"]["v0.2.0"] == "deprecated"
    diabetes = state(project, "diabetes")
    assert diabetes["versions"] == ["v0.1.0"] and diabetes["holders"]["production"] == "v0.1.0"
    assert json.loads((project / "models/diabetes/signature.json").read_text())["task"] == "regression"
    assert git(project, "status", "--porcelain") == ""
