"""The baked docs/ROLLBACK.md runs as written (issue 3, item 10).

A real baked project with two released versions, both through the production gates, v0.2.0
serving after v0.1.0. Every ```bash block of its runbook runs in order (bash -e -o pipefail,
`model-registry` on PATH as `pip install -e .` would put it); every command must exit 0, the
rollback must leave v0.1.0 in production and v0.2.0 deprecated, and every verification command
must name v0.1.0.

The drill section is for "after every MAJOR release". Right after the rollback there is no
healthy previous production version (v0.2.0 is deprecated), and the drill must refuse that
cleanly rather than put a deprecated version back into production. So, as the runbook's
"Next: fix and re-release" says, the fix (a MAJOR commit, v0.3.0) goes to production before the
drill block runs; the drill must then go v0.3.0 -> v0.1.0 -> v0.3.0 and deprecate nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from vml_testkit.bake import copy_project, model_registry_on_path
from vml_testkit.git import commit_all, run, tag_yaml
from vml_testkit.registry import registry

pytestmark = pytest.mark.slow

FAMILY = "cultivar"
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


def bash_blocks(project: Path) -> list[str]:
    text = (project / "docs" / "ROLLBACK.md").read_text()
    assert "{{" not in text and "{%" not in text, "the runbook was not rendered"
    return BLOCK.findall(text)


def state(project: Path) -> dict:
    return json.loads(registry(project, "show", FAMILY, "--json").stdout)["families"][FAMILY]


def with_status(s: dict, status: str) -> list[str]:
    """The versions whose status (newest stage tag) is ``status``, from `show --json`."""
    return sorted(v for v, st in s["status"].items() if st == status)


def tag_names(project: Path) -> set[str]:
    return set(run(project, "git", "tag", "-l").stdout.split())


def set_c(project: Path, value: float) -> None:
    conf = project / "conf/model/logistic_regression.yaml"
    conf.write_text("\n".join(f"C: {value}" if line.startswith("C:") else line
                              for line in conf.read_text().splitlines()) + "\n")


def to_production(project: Path, version: str) -> None:
    run(project, "dvc", "push")
    registry(project, "promote", FAMILY, version, "staging", "--reason", "qa")
    registry(project, "promote", FAMILY, version, "production", "--reason", "go")


@pytest.fixture(scope="module")
def two_in_production(reproduced, tmp_path_factory):
    base = tmp_path_factory.mktemp("runbook")
    project = copy_project(reproduced, base / "wine-cultivar", base / "dvc-storage")
    commit_all(project, "feat: first model")
    for version, change in (("v0.1.0", None), ("v0.2.0", 0.01)):
        if change is not None:  # a small hyperparameter change: behaviour moves, gates still pass
            set_c(project, change)
            run(project, "dvc", "repro")
            commit_all(project, "chore: stronger regularisation")
        assert version in registry(project, "release", FAMILY).stdout
        to_production(project, version)
    s = state(project)
    assert s["holders"]["production"] == "v0.2.0" and s["versions"] == ["v0.1.0", "v0.2.0"]
    assert with_status(s, "deprecated") == [] and s["holders"]["deprecated"] is None
    return project, model_registry_on_path(project)


def test_every_runbook_command_works(two_in_production, tmp_path):
    project, env = two_in_production
    env = dict(env, TMPDIR=str(tmp_path))
    blocks = bash_blocks(project)
    kinds = [("rollback" if " rollback " in b else "drill" if " drill " in b else
              "verify" if ("resolve" in b or "load_model" in b) else "read") for b in blocks]
    assert kinds.count("rollback") == 1 and kinds.count("drill") == 1 and kinds.count("verify") >= 1, kinds
    assert kinds.index("rollback") < kinds.index("verify") < kinds.index("drill"), kinds

    before_drill: set[str] = set()
    for index, (block, kind) in enumerate(zip(blocks, kinds)):
        if kind == "drill":
            before_drill = fix_forward_then_check_drill_refusal(project, env)
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block], cwd=project, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (f"runbook block {index} failed ({done.returncode}):\n{block}\n"
                                      f"{done.stdout}\n{done.stderr}")
        if kind == "rollback":
            s = state(project)
            assert s["holders"]["production"] == "v0.1.0"
            assert s["status"]["v0.2.0"] == "deprecated" and with_status(s, "deprecated") == ["v0.2.0"]
            # no stage is left with the deprecated version: its candidate and staging moved on
            assert {st: h for st, h in s["holders"].items() if h == "v0.2.0"} == {"deprecated": "v0.2.0"}, s
        elif kind == "verify":
            named = [line.strip() for line in done.stdout.splitlines() if VERSION.match(line.strip())]
            assert named and set(named) == {"v0.1.0"}, done.stdout
        elif kind == "drill":
            s = state(project)
            assert s["holders"]["production"] == "v0.3.0"
            assert with_status(s, "deprecated") == ["v0.2.0"], "the drill deprecated something"
            new = tag_names(project) - before_drill
            assert new and not {t for t in new if "#deprecated#" in t}, new
            moves = [e["version"] for e in history(project) if e["tag"] in new and e["stage"] == "production"]
            assert moves == ["v0.1.0", "v0.3.0"], moves
    # the runbook's verification also fetched the production bundle where it said it would
    assert any(tmp_path.iterdir())


def history(project: Path) -> list[dict]:
    return json.loads(registry(project, "history", FAMILY, "--json").stdout)


def fix_forward_then_check_drill_refusal(project: Path, env: dict) -> set[str]:
    """Between the incident and the drill: the drill refuses while the only other production
    version is deprecated (nothing written); then the fix is released as a MAJOR and reaches
    production. Returns the tags before the drill."""
    before = run(project, "git", "for-each-ref", "refs/tags").stdout
    done = subprocess.run(["model-registry", "drill", FAMILY], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "previous production" in done.stderr, done
    assert run(project, "git", "for-each-ref", "refs/tags").stdout == before
    set_c(project, 0.05)
    run(project, "dvc", "repro")
    commit_all(project, "feat(model)!: retrain after the incident")
    assert "v0.3.0" in registry(project, "release", FAMILY).stdout
    assert tag_yaml(project, f"{FAMILY}@v0.3.0")["bump"] == "major"
    to_production(project, "v0.3.0")
    return tag_names(project)
