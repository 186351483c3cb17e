"""The generated release train (issue 19, item 5): `.github/workflows/release-train.yml` runs
`scripts/release_train.py` on the cron the `release_train_cron` answer gave.

The workflow is rendered (without hooks, as test_workflows.py does) and read as YAML; the
train's script runs locally, as the workflow's step runs it, on a copy of the session's
reproduced project with a bare git origin and its own DVC remote, with the real `dvc` and
`model-registry`, and for the rollout step a real `model-registry serve` on 127.0.0.1.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter.environment import StrictEnvironment
from cookiecutter.main import cookiecutter

from vml_testkit.bake import bake, copy_project, model_registry_on_path
from vml_testkit.git import add_origin, bare_origin, commit_all, git, origin_tags, run, tag_refs
from vml_testkit.net import unreachable_endpoint
from vml_testkit.paths import TEMPLATE
from vml_testkit.registry import registry
from vml_testkit.serving import Server

FAMILY = "cultivar"
DEFAULT_CRON = json.loads((TEMPLATE / "cookiecutter.json").read_text())["release_train_cron"]
REASON = re.compile(r"release train \d{4}-\d{2}-\d{2}")
STEP = "python scripts/release_train.py"


def workflow(project: Path) -> dict:
    return yaml.safe_load((project / ".github" / "workflows" / "release-train.yml").read_text())


def runs(wf: dict) -> list[str]:
    return [step.get("run", "") for job in wf["jobs"].values() for step in job["steps"]]


# --------------------------------------------------------------------------- the answer


@functools.cache
def hook_cron_problem():
    """``cron_problem`` of hooks/pre_gen_project.py, rendered as cookiecutter renders the hook."""
    source = (TEMPLATE / "hooks" / "pre_gen_project.py").read_text()
    text = StrictEnvironment(keep_trailing_newline=True).from_string(source).render(
        cookiecutter=json.loads((TEMPLATE / "cookiecutter.json").read_text()))
    module: dict = {"__name__": "pre_gen_project"}
    exec(compile(text, "pre_gen_project.py", "exec"), module)
    return module["cron_problem"]


CRONS = [DEFAULT_CRON, "30 5 * * MON", "*/15 * * * *", "0 0 1 JAN,JUL *", "5,35 8-18/2 * * MON-FRI",
         "59 23 31 12 6", "0 0 * * SUN"]
NOT_CRONS = ["", "daily", "@daily", "0 6 * *", "0 6 * * * *", " 0 6 * * *", "0  6 * * *", "0\t6 * * *", "60 6 * * *",
             "0 24 * * *", "0 6 0 * *", "0 6 * 13 *", "0 6 * * 7", "*/0 * * * *", "0 6 * * mon", "0 6 * * MON-FRY",
             "0 6 ? * *", "0 6 * * \u0663", "0 6 * * 1-5\n", "0 6 * * 1\" 2"]


@pytest.mark.parametrize("cron", CRONS)
def test_the_hook_accepts_a_github_cron(cron):
    assert hook_cron_problem()(cron) is None


@pytest.mark.parametrize("cron", NOT_CRONS)
def test_the_hook_refuses_what_github_would_not_run_in_one_line(cron):
    problem = hook_cron_problem()(cron)
    assert problem.startswith(f"release_train_cron {cron!r} is not a cron schedule") and "\n" not in problem


# --------------------------------------------------------------------------- the workflow


@pytest.mark.parametrize("remote", ["local", "s3"])
def test_the_workflow_runs_the_train_on_the_configured_cron(tmp_path, remote):
    cron = "30 5 * * MON-FRI"
    project = Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path), accept_hooks=False,
                                extra_context={"dvc_remote": remote, "release_train_cron": cron}))
    wf = workflow(project)
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert on["schedule"] == [{"cron": cron}] and "workflow_dispatch" in on
    release = yaml.safe_load((project / ".github" / "workflows" / "release.yml").read_text())
    assert wf["concurrency"] == release["concurrency"], "the train and release.yml never write tags at once"
    steps = runs(wf)
    if remote == "s3":
        (train,) = [step for step in wf["jobs"]["train"]["steps"] if step.get("run") == STEP]
        assert set(train["env"]) == {"ROLLOUT_SERVER", "MODEL_REGISTRY_TOKEN"}
        assert steps.index(STEP) > max(i for i, run in enumerate(steps) if "dvc pull" in run or "git config user.name" in run)
    else:  # CI cannot reach a local DVC remote: the train runs where the remote lives
        assert STEP not in steps and any("::notice::" in run for run in steps)
    assert (project / "scripts" / "release_train.py").is_file()
    docs = (project / "docs" / "RELEASE_TRAIN.md").read_text()
    assert cron in docs and "{{" not in docs and "{%" not in docs
    assert "docs/RELEASE_TRAIN.md" in (project / "README.md").read_text()


@pytest.mark.slow
def test_a_bake_with_its_own_cron_schedules_the_train_on_it(tmp_path):
    cron = "*/30 8-18 1,15 JAN-JUN *"
    project = bake(tmp_path, release_train_cron=cron)
    assert workflow(project).get("on", workflow(project).get(True))["schedule"] == [{"cron": cron}]
    assert json.loads((project / ".cookiecutter.json").read_text())["release_train_cron"] == cron


# --------------------------------------------------------------------------- the train, run locally


def train(project: Path, server: str | None = None) -> subprocess.CompletedProcess:
    """The workflow's step, `python scripts/release_train.py`, with the project installed."""
    env = model_registry_on_path(project)
    env.pop("ROLLOUT_SERVER", None)
    if server:
        env["ROLLOUT_SERVER"] = server
    return subprocess.run([sys.executable, "scripts/release_train.py"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900)


def state(project: Path) -> dict:
    return json.loads(registry(project, "show", FAMILY, "--json").stdout)["families"][FAMILY]


def history(project: Path) -> list[dict]:
    return json.loads(registry(project, "history", FAMILY, "--json").stdout)


def change_and_commit(project: Path, path: str, old: str, new: str, message: str) -> None:
    """Edit one file, `dvc repro`, commit: what a merged change looks like on main."""
    file = project / path
    text = file.read_text()
    assert old in text, (path, old)
    file.write_text(text.replace(old, new))
    run(project, "dvc", "repro")
    commit_all(project, message)


@pytest.fixture(scope="module")
def trains(reproduced, tmp_path_factory):
    """Four trains on a copy of the reproduced project (own DVC remote, bare git origin): the
    first, one with nothing changed, one with a new version that must soak, one after the soak.
    Between them the team does what the train leaves to people: the first production."""
    base = tmp_path_factory.mktemp("train")
    project = copy_project(reproduced, base / reproduced.name, storage=base / "storage")
    origin = bare_origin(base / "origin.git")
    commit_all(project, "feat: first model")
    add_origin(project, origin)
    seen = {"project": project, "origin": origin}
    seen["first"] = train(project), origin_tags(origin), history(project)
    before = tag_refs(project)
    seen["unchanged"] = train(project), origin_tags(origin), before, tag_refs(project)
    registry(project, "promote", FAMILY, "v0.1.0", "production", "--reason", "launch")
    change_and_commit(project, "conf/model/logistic_regression.yaml", "C: 1.0", "C: 0.05",
                      "feat: stronger regularisation")
    seen["soaking"] = train(project), state(project)
    change_and_commit(project, "conf/config.yaml", "staging_soak: 20h", "staging_soak: 0s", "chore: no staging soak")
    seen["soaked"] = train(project), state(project), origin_tags(origin), history(project)
    return seen


def succeeded(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
def test_the_first_train_releases_and_stages_the_first_version(trains):
    done, published, events = trains["first"]
    out = succeeded(done)
    assert set(published) == {f"{FAMILY}@v0.1.0", f"{FAMILY}#candidate#1", f"{FAMILY}#staging#2"}
    (staged,) = [e for e in events if e["stage"] == "staging"]
    assert staged["version"] == "v0.1.0" and REASON.fullmatch(staged["reason"])
    assert f"{FAMILY}: v0.1.0 stays in staging" in out  # no canary without a production to compare with
    assert "rollout: skipped" in out


@pytest.mark.slow
def test_a_train_with_nothing_changed_writes_nothing(trains):
    done, published, before, after = trains["unchanged"]
    out = succeeded(done)
    assert "nothing to release" in out and "model-registry promote" not in out
    assert before == after and published == trains["first"][1]


@pytest.mark.slow
def test_a_new_version_is_staged_and_soaks_before_its_canary(trains):
    done, fam = trains["soaking"]
    out = succeeded(done)
    assert "released cultivar v0.2.0" in out
    assert fam["holders"]["staging"] == "v0.2.0" and fam["holders"]["production"] == "v0.1.0"
    assert not fam["canary_live"]
    assert re.search(r"cultivar: v0\.2\.0 soaks in staging: [0-9.]+h of 20h", out), out


@pytest.mark.slow
def test_after_the_soak_the_train_starts_the_canary(trains):
    done, fam, published, events = trains["soaked"]
    out = succeeded(done)
    assert fam["canary_live"] and fam["holders"]["canary"] == "v0.2.0" and fam["holders"]["production"] == "v0.1.0"
    canary = [e for e in events if e["stage"] == "canary"][-1]
    assert canary["version"] == "v0.2.0" and REASON.fullmatch(canary["reason"])
    assert canary["tag"] in published, "the train publishes what it wrote"
    assert "rollout: skipped (no ROLLOUT_SERVER" in out


@pytest.mark.slow
def test_a_rollout_that_cannot_reach_its_server_fails_the_train(trains):
    """`model-registry rollout` exits 2 (error): the train says so and exits 1, writing nothing."""
    project = trains["project"]
    before = tag_refs(project)
    done = train(project, server=unreachable_endpoint())
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"error: cultivar: model-registry rollout cultivar --server \S+ exited 2", done.stderr), done.stderr
    assert tag_refs(project) == before


@pytest.mark.slow
def test_a_rollout_that_waits_is_a_good_run(trains):
    """With the real server following the tags, a canary with no traffic yet waits (exit 4):
    the train succeeds and says so."""
    project = trains["project"]
    before = tag_refs(project)
    with Server(project) as server:
        server.wait_healthy()
        server.wait_serving(FAMILY, "v0.2.0", route="canary")
        done = train(project, server=f"http://127.0.0.1:{server.port}")
    out = succeeded(done)
    assert f"{FAMILY}: rollout waiting" in out and "0 of" in out, out
    assert tag_refs(project) == before
    assert git(project, "status", "--porcelain") == ""
