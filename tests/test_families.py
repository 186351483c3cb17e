"""Any data, any task, many families (issue 9), on a real baked project with real DVC and git.

One module fixture bakes (the session's reproduced project), adds two families with the
project's own command, `python -m <package> add-family`:

- ``diabetes``: regression on scikit-learn's diabetes data, written to a CSV here;
- ``churn``: binary classification on a CSV written here, with string labels, two
  categorical columns and missing values in a numeric and a categorical column;

then reproduces all three families (with the example ``cultivar``) and commits. Tests that
change anything work on `vml_testkit.bake.copy_project` of it.
"""

from __future__ import annotations

import ast
import csv
import json
import random
from pathlib import Path

import pytest
import yaml

from vml_testkit.bake import copy_project, package_of, ran_stages
from vml_testkit.git import commit_all, git, run, tag_yaml
from vml_testkit.registry import registry

pytestmark = pytest.mark.slow

EXAMPLE = "cultivar"
FAMILIES = ["churn", EXAMPLE, "diabetes"]
STAGES = ("prepare", "train", "evaluate", "package")


# ---- data written by the tests ---------------------------------------------------------------


def write_diabetes(path: Path) -> Path:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*data.feature_names, "progression"])
        writer.writerows([*row, target] for row, target in zip(data.data.tolist(), data.target.tolist()))
    return path


def write_churn(path: Path, rows: int = 400, seed: int = 7) -> Path:
    """Customers: numeric tenure (some missing) and fee, categorical contract and region (some
    missing), and whether they left (`yes`/`no`), which depends on all of them."""
    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tenure_months", "monthly_fee", "contract", "region", "churned"])
        for _ in range(rows):
            tenure = rng.randint(0, 72)
            fee = round(rng.uniform(20, 120), 2)
            contract = rng.choice(["month-to-month", "one year", "two year"])
            region = rng.choice(["north", "south", "east", "west"])
            risk = 2.0 * (contract == "month-to-month") - tenure / 24 + fee / 60 + 0.5 * (region == "south")
            churned = "yes" if risk + rng.gauss(0, 0.4) > 1.0 else "no"
            writer.writerow(["" if rng.random() < 0.08 else tenure, fee, contract,
                             "" if rng.random() < 0.1 else region, churned])
    return path


def add_family(project: Path, *args: str, check: bool = True):
    return run(project, "python", "-m", package_of(project), "add-family", *args, check=check)


def lock(project: Path) -> dict:
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"]


def dep_md5(project: Path, stage: str, path: str) -> str:
    return next(dep["md5"] for dep in lock(project)[stage]["deps"] if dep["path"] == path)


def family_runs(stages: list[str]) -> list[str]:
    """The stages that ran, propose (which runs after each changed bundle) left out."""
    return [stage for stage in stages if not stage.startswith("propose@")]


# ---- the shared project -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three(reproduced, tmp_path_factory):
    base = tmp_path_factory.mktemp("families")
    project = copy_project(reproduced, base / "wine-cultivar", storage=base / "storage")
    commit_all(project, "feat: first model")
    outputs = {
        "diabetes": add_family(project, "diabetes", "--data", str(write_diabetes(base / "diabetes.csv")),
                               "--target", "progression").stdout,
        "churn": add_family(project, "churn", "--data", str(write_churn(base / "customers.csv")),
                            "--target", "churned").stdout,
    }
    done = run(project, "dvc", "repro")
    # the example family is up to date: only the new families' stages run
    assert set(family_runs(ran_stages(done.stdout))) == \
        {"config", *(f"{stage}@{family}" for stage in STAGES for family in ("churn", "diabetes"))}
    commit_all(project, "feat: add the diabetes and churn families")
    return project, outputs, base


@pytest.fixture(scope="module")
def released(three, tmp_path_factory):
    """Every family released, pushed, and promoted to staging then production."""
    base = tmp_path_factory.mktemp("released")
    project = copy_project(three[0], base / "wine-cultivar", storage=base / "storage")
    out = {family: registry(project, "release", family).stdout for family in FAMILIES}
    run(project, "dvc", "push")
    for family in FAMILIES:
        registry(project, "promote", family, "v0.1.0", "staging", "--reason", "qa")
        registry(project, "promote", family, "v0.1.0", "production", "--reason", "go")
    return project, out


# ---- add-family and the pipeline ----------------------------------------------------------------


def test_add_family_writes_the_data_the_conf_and_the_registration(three):
    project, outputs, _ = three
    assert yaml.safe_load((project / "families.yaml").read_text())["family_list"] == {
        family: {"data": f"data/raw/{family}.csv"} for family in FAMILIES}
    dvc_yaml = yaml.safe_load((project / "dvc.yaml").read_text())
    assert sorted(dvc_yaml["artifacts"]) == FAMILIES
    assert {name: a["path"] for name, a in dvc_yaml["artifacts"].items()} == {f: f"models/{f}" for f in FAMILIES}
    for family in ("diabetes", "churn"):
        assert (project / f"data/raw/{family}.csv.dvc").exists()
        assert f"data/raw/{family}.csv" not in git(project, "ls-files").split()
        assert "Next:" in outputs[family] and f"model-registry release {family}" in outputs[family]
    diabetes = yaml.safe_load((project / "conf/families/diabetes.yaml").read_text())
    assert diabetes["task"] == "regression"  # inferred: a numeric target with many values
    assert set(diabetes["data"]["features"]) == {"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"}
    assert {spec["type"] for spec in diabetes["data"]["features"].values()} == {"numeric"}
    assert diabetes["metrics"] == ["rmse", "mae", "r2"]
    assert diabetes["registry"]["gates"]["production"]["rmse"] == {"max": pytest.approx(77.0, abs=1)}
    churn = yaml.safe_load((project / "conf/families/churn.yaml").read_text())
    assert churn["task"] == "classification"
    assert churn["data"]["features"] == {
        "tenure_months": {"type": "numeric", "required": False},
        "monthly_fee": {"type": "numeric"},
        "contract": {"type": "categorical"},
        "region": {"type": "categorical", "required": False},
    }
    assert churn["metrics"] == ["accuracy", "f1_macro", "roc_auc"]  # binary: ROC AUC too
    assert "wine" not in json.dumps(churn["card"]).lower()  # the card describes this family, not the example


def test_repro_gives_each_family_its_tasks_metrics_plots_and_signature(three):
    project, _, _ = three
    metrics = {family: json.loads((project / f"metrics/{family}.json").read_text()) for family in FAMILIES}
    assert set(metrics["diabetes"]) == {"rmse", "mae", "r2"} and 0.3 < metrics["diabetes"]["r2"] < 0.7
    assert set(metrics["churn"]) == {"accuracy", "f1_macro", "roc_auc"} and metrics["churn"]["accuracy"] > 0.75
    assert set(metrics[EXAMPLE]) == {"accuracy", "f1_macro"}
    plots = json.loads(run(project, "dvc", "plots", "show", "--json").stdout)["data"]
    assert set(plots) == {"plots/churn/confusion.csv", f"plots/{EXAMPLE}/confusion.csv", "plots/diabetes/predictions.csv"}
    scatter = plots["plots/diabetes/predictions.csv"][0]["content"]
    assert scatter["mark"]["type"] == "point" and scatter["title"]["text"].startswith("diabetes: predicted vs actual")
    signature = json.loads((project / "models/diabetes/signature.json").read_text())
    assert signature["task"] == "regression" and signature["output"] == {"name": "progression", "type": "number"}
    signature = json.loads((project / "models/churn/signature.json").read_text())
    assert signature["output"]["labels"] == ["no", "yes"]
    assert {f["name"]: (f["type"], f["required"]) for f in signature["inputs"]} == {
        "tenure_months": ("numeric", False), "monthly_fee": ("numeric", True),
        "contract": ("categorical", True), "region": ("categorical", False)}
    # the model file is one Pipeline: a ColumnTransformer (impute/scale, impute/one-hot), then the estimator
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from versioned_ml_registry.bundle import load_model_file

    model = load_model_file(project / "models/churn/model.skops")
    assert isinstance(model, Pipeline) and isinstance(model.steps[0][1], ColumnTransformer)
    card = json.loads((project / "models/churn/card.json").read_text())
    assert card["data_version"] == {"data/raw/churn.csv": dep_md5(project, "prepare@churn", "data/raw/churn.csv")}
    assert card["description"].startswith("Predicts churned (classification)")


def test_the_projects_own_tests_pass_with_three_families(three):
    """They are generic: parametrized over conf/families/, on synthetic rows of each family's shape."""
    project, _, _ = three
    done = run(project, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert " passed" in done.stdout and "failed" not in done.stdout
    for family in FAMILIES:
        assert f"[{family}]" in run(project, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    "--collect-only", "tests/test_pipeline.py").stdout


def test_a_no_op_repro_runs_nothing(three, tmp_path):
    """Its cost is measured by benchmarks/pipeline.py, not here."""
    project = copy_project(three[0], tmp_path / "p")
    done = run(project, "dvc", "repro")
    assert ran_stages(done.stdout) == []
    assert git(project, "status", "--porcelain") == ""


def test_each_family_releases_promotes_and_serves_raw_records(released):
    project, out = released
    from versioned_ml_registry import load_model

    for family in FAMILIES:
        assert f"released {family} v0.1.0" in out[family], out[family]
        assert registry(project, "resolve", family, "--stage", "production").stdout.strip() == "v0.1.0"
    # each family is gated by its own gates, with their directions
    assert [line.split()[0] for line in tag_yaml(project, "diabetes@v0.1.0")["gates"]["report"]] == ["r2"]
    assert [line.split()[0] for line in tag_yaml(project, "churn@v0.1.0")["gates"]["report"]] == ["accuracy"]
    assert [line.split()[0] for line in tag_yaml(project, f"{EXAMPLE}@v0.1.0")["gates"]["report"]] == ["accuracy"]

    churn = load_model("churn", repo=str(project))
    assert churn.version == "v0.1.0"
    records = [
        {"tenure_months": 2, "monthly_fee": 110.0, "contract": "month-to-month", "region": "south"},
        {"tenure_months": None, "monthly_fee": 30.0, "contract": "two year", "region": None},  # missing values
        {"monthly_fee": 55.5, "contract": "weekly", "region": "atlantis"},  # unknown categories, optional left out
    ]
    predictions = churn.predict(records)
    assert predictions[0] == "yes" and predictions[1] == "no" and predictions[2] in {"yes", "no"}

    diabetes = load_model("diabetes", repo=str(project), stage="production")
    row = {name: 0.01 for name in ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")}
    low, missing = diabetes.predict([{**row, "bmi": -0.05}, {**row, "bmi": None}])
    high = diabetes.predict([{**row, "bmi": 0.1}])[0]
    assert all(isinstance(value, float) for value in (low, missing, high)) and low < high

    example = load_model(EXAMPLE, repo=str(project), stage="production")
    fingerprint = json.loads((project / f"models/{EXAMPLE}/fingerprint.json").read_text())
    assert example.predict(fingerprint["probe"]) == fingerprint["predictions"]


def test_families_tags_stay_independent(released):
    project, _ = released
    for family in FAMILIES:
        tags = git(project, "tag", "-l", f"{family}[@#]*").split()
        assert sorted(tags) == sorted([f"{family}@v0.1.0", f"{family}#candidate#1", f"{family}#staging#2",
                                       f"{family}#production#3"]), tags


# ---- pinning: data, conf, code ----------------------------------------------------------------


def test_replacing_a_familys_data_reruns_exactly_that_family(three, tmp_path):
    project = copy_project(three[0], tmp_path / "p")
    before = dep_md5(project, "prepare@churn", "data/raw/churn.csv")
    write_churn(project / "data/raw/churn.csv", rows=300, seed=11)
    run(project, "dvc", "add", "data/raw/churn.csv")
    done = run(project, "dvc", "repro")
    assert family_runs(ran_stages(done.stdout)) == [f"{stage}@churn" for stage in STAGES]
    after = dep_md5(project, "prepare@churn", "data/raw/churn.csv")
    assert after != before
    assert after == dep_md5(project, "package@churn", "data/raw/churn.csv")
    assert after == yaml.safe_load((project / "data/raw/churn.csv.dvc").read_text())["outs"][0]["md5"]
    assert json.loads((project / "models/churn/card.json").read_text())["data_version"] == {"data/raw/churn.csv": after}


def test_repointing_a_familys_data_reruns_that_family_and_pins_the_new_file(three, tmp_path):
    project = copy_project(three[0], tmp_path / "p")
    package = package_of(project)
    write_diabetes(project / "data/raw/diabetes-2024.csv")
    rows = (project / "data/raw/diabetes-2024.csv").read_text().splitlines()
    (project / "data/raw/diabetes-2024.csv").write_text("\n".join(rows[:300]) + "\n")
    run(project, "dvc", "add", "data/raw/diabetes-2024.csv")
    conf = project / "conf/families/diabetes.yaml"
    conf.write_text(conf.read_text().replace("raw: data/raw/diabetes.csv", "raw: data/raw/diabetes-2024.csv"))

    refused = run(project, "dvc", "repro", check=False)  # families.yaml still names the old file
    assert refused.returncode != 0
    errors = [line for line in (refused.stdout + refused.stderr).splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "sync-families" in errors[0] and "diabetes-2024.csv" in errors[0], errors

    run(project, "python", "-m", package, "sync-families")
    done = run(project, "dvc", "repro")
    assert family_runs(ran_stages(done.stdout)) == ["config", *[f"{stage}@diabetes" for stage in STAGES]]
    md5 = yaml.safe_load((project / "data/raw/diabetes-2024.csv.dvc").read_text())["outs"][0]["md5"]
    assert dep_md5(project, "prepare@diabetes", "data/raw/diabetes-2024.csv") == md5
    assert json.loads((project / "models/diabetes/card.json").read_text())["data_version"] == \
        {"data/raw/diabetes-2024.csv": md5}


def test_editing_one_familys_conf_reruns_only_that_family(three, tmp_path):
    project = copy_project(three[0], tmp_path / "p")
    conf = project / "conf/families/diabetes.yaml"
    conf.write_text(conf.read_text().replace("test_size: 0.25", "test_size: 0.3"))
    done = run(project, "dvc", "repro")
    assert family_runs(ran_stages(done.stdout)) == ["config", *[f"{stage}@diabetes" for stage in STAGES]]
    conf = project / "conf/families/churn.yaml"
    conf.write_text(conf.read_text().replace("intended_use: 'To be written", "intended_use: 'Retention calls. To be written"))
    done = run(project, "dvc", "repro")
    assert family_runs(ran_stages(done.stdout)) == ["config", "package@churn"]


def import_closure(package_dir: Path, module: str) -> set[str]:
    """The modules of the package ``module`` imports, directly or not (itself included)."""
    package = package_dir.name
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or not (package_dir / f"{name}.py").exists():
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((package_dir / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level == 0 and not base.startswith(package):
                    continue
                base = base.removeprefix(package).lstrip(".")
                if base:
                    todo.append(base.split(".")[0])
                else:  # from . import a, b
                    todo.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                todo.extend(alias.name.split(".")[1] for alias in node.names
                            if alias.name.startswith(package + "."))
    return seen


def test_every_stage_depends_on_its_modules_import_closure(three):
    project, _, _ = three
    package = package_of(project)
    package_dir = project / "src" / package
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    resolved = lock(project)
    checked = 0
    for name, stage in stages.items():
        body = stage.get("do", stage)
        words = body["cmd"].split()
        if words[:2] != ["python", "-m"]:
            continue
        module = words[2].removeprefix(package).lstrip(".") or "__main__"
        closure = import_closure(package_dir, module)
        assert module in closure and len(closure) >= 2, (name, closure)
        wanted = {f"src/{package}/{m}.py" for m in closure}
        assert wanted <= set(body["deps"]), f"{name}: imports {sorted(wanted - set(body['deps']))} it does not depend on"
        # and DVC pinned them: every resolved stage of it records their md5s
        for stage_name in [n for n in resolved if n == name or n.startswith(f"{name}@")]:
            locked = {dep["path"] for dep in resolved[stage_name]["deps"]}
            assert wanted <= locked, (stage_name, sorted(wanted - locked))
        checked += 1
    assert checked == 5  # config, prepare, train, evaluate, package


def test_a_conf_file_added_by_hand_is_refused_until_synced(three, tmp_path):
    """The manual route: a conf file and a DVC-tracked CSV. The config stage refuses with one
    line until `sync-families` registers the family; then it trains."""
    project = copy_project(three[0], tmp_path / "p")
    package = package_of(project)
    write_churn(project / "data/raw/churn2.csv", rows=120, seed=3)
    run(project, "dvc", "add", "data/raw/churn2.csv")
    text = (project / "conf/families/churn.yaml").read_text().replace("data/raw/churn.csv", "data/raw/churn2.csv")
    (project / "conf/families/churn2.yaml").write_text(text)
    refused = run(project, "dvc", "repro", check=False)
    errors = [line for line in (refused.stdout + refused.stderr).splitlines() if line.startswith("error: ")]
    assert refused.returncode != 0 and len(errors) == 1, refused.stdout + refused.stderr
    assert "families.yaml does not list the family churn2" in errors[0] and "sync-families" in errors[0]
    assert git(project, "status", "--porcelain", "params.yaml", "params.conf.yaml") == ""

    assert "updated families.yaml, dvc.yaml" in run(project, "python", "-m", package, "sync-families").stdout
    done = run(project, "dvc", "repro")
    assert family_runs(ran_stages(done.stdout)) == ["config", *[f"{stage}@churn2" for stage in STAGES]]
    assert yaml.safe_load((project / "dvc.yaml").read_text())["artifacts"]["churn2"]["path"] == "models/churn2"


def test_an_edited_families_block_is_refused(three, tmp_path):
    """A hand edit of dvc.yaml's families block fails the project's own tests (CI runs them on
    every pull request), and the config stage refuses to run until `sync-families` fixes it."""
    project = copy_project(three[0], tmp_path / "p")
    dvc_yaml = project / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("path: models/diabetes", "path: models/diabetes-old"))
    tests = run(project, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_config.py", check=False)
    assert tests.returncode == 1 and "families block of dvc.yaml" in tests.stdout, tests.stdout
    conf = project / "conf/families/diabetes.yaml"
    conf.write_text(conf.read_text().replace("test_size: 0.25", "test_size: 0.3"))
    refused = run(project, "dvc", "repro", check=False)
    errors = [line for line in (refused.stdout + refused.stderr).splitlines() if line.startswith("error: ")]
    assert refused.returncode != 0 and len(errors) == 1, refused.stdout + refused.stderr
    assert "families block of dvc.yaml" in errors[0] and "sync-families" in errors[0]
    assert ran_stages(refused.stdout) == ["config"]
    run(project, "python", "-m", package_of(project), "sync-families")
    assert yaml.safe_load(dvc_yaml.read_text())["artifacts"]["diabetes"]["path"] == "models/diabetes"
    assert family_runs(ran_stages(run(project, "dvc", "repro").stdout))[0] == "config"


# ---- add-family refuses bad input, writing nothing -----------------------------------------------


def snapshot(project: Path) -> tuple:
    # Python's own bytecode caches (git-ignored) aside
    files = sorted((str(p.relative_to(project)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in project.rglob("*") if p.is_file() and p.relative_to(project).parts[0] != ".git"
                   and "__pycache__" not in p.parts)
    return git(project, "status", "--porcelain", "--untracked-files=all"), files


def bad_csvs(folder: Path) -> dict:
    def table(name, header, rows):
        path = folder / name
        with open(path, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows])
        return str(path)

    good = [[str(i), ["a", "b"][i % 2], f"{i * 1.5}"] for i in range(30)]
    return {
        "good": table("good.csv", ["x", "colour", "y"], good),
        "few": table("few.csv", ["x", "colour", "y"], good[:5]),
        "one-class": table("one.csv", ["x", "y"], [[str(i), "same"] for i in range(30)]),
        "text-target": table("text.csv", ["x", "y"], [[str(i), f"v{i}"] for i in range(30)]),
        "empty-column": table("empty.csv", ["x", "blank", "y"], [[str(i), "", str(i % 2)] for i in range(30)]),
        "ragged": str(folder / "ragged.csv"),
        "binary": str(folder / "binary.csv"),
    }


@pytest.fixture(scope="module")
def refusing(three, tmp_path_factory):
    base = tmp_path_factory.mktemp("refusing")
    project = copy_project(three[0], base / "p")
    csvs = bad_csvs(base)
    Path(csvs["ragged"]).write_text("x,y\n1,a\n2,b,c\n" + "3,a\n" * 30)
    Path(csvs["binary"]).write_bytes(b"x,y\n\xff\xfe\x00\x01," + b"a\n" * 30)
    return project, csvs


REFUSALS = {
    "uppercase name": (["Churn", "--data", "{good}", "--target", "y"], "invalid family name"),
    "yaml name": (["true", "--data", "{good}", "--target", "y"], "as a number or boolean"),
    "taken name": (["churn", "--data", "{good}", "--target", "y"], "exists already"),
    "no such file": (["fresh", "--data", "/nonexistent/data.csv", "--target", "y"], "no such file"),
    "no such target": (["fresh", "--data", "{good}", "--target", "label"], "is not a column"),
    "too few rows": (["fresh", "--data", "{few}", "--target", "y"], "at least 20"),
    "one class": (["fresh", "--data", "{one-class}", "--target", "y"], "at least 2 classes"),
    "text regression target": (["fresh", "--data", "{text-target}", "--target", "y", "--task", "regression"],
                               "numeric target"),
    "untyped column": (["fresh", "--data", "{empty-column}", "--target", "y"], "cannot be inferred"),
    "ragged csv": (["fresh", "--data", "{ragged}", "--target", "y"], "fields"),
    "not text": (["fresh", "--data", "{binary}", "--target", "y"], "UTF-8"),
    "missing option": (["fresh", "--data", "{good}"], "--target"),
    "unknown task": (["fresh", "--data", "{good}", "--target", "y", "--task", "ranking"], "invalid choice"),
    "replace an unknown family": (["fresh", "--data", "{good}", "--target", "y", "--replace"],
                                  "no family 'fresh' in conf/families/"),
    "replace with bad data": (["churn", "--data", "{one-class}", "--target", "y", "--replace"], "at least 2 classes"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_add_family_refuses_bad_input_in_one_line_writing_nothing(refusing, case):
    project, csvs = refusing
    args, message = REFUSALS[case]
    args = [arg.format(**csvs) if arg.startswith("{") else arg for arg in args]
    before = snapshot(project)
    done = add_family(project, *args, check=False)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert done.stdout == ""
    assert snapshot(project) == before


def remove_family(project: Path, name: str, check: bool = True):
    return run(project, "python", "-m", package_of(project), "remove-family", name, check=check)


def assert_refused(done, message: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
    assert done.stdout == ""


def test_remove_family_refuses_an_unknown_family_writing_nothing(refusing):
    project, _ = refusing
    before = snapshot(project)
    assert_refused(remove_family(project, "nosuch", check=False), "no family 'nosuch' in conf/families/")
    assert snapshot(project) == before


def test_remove_family_refuses_the_only_family(reproduced, tmp_path):
    project = copy_project(reproduced, tmp_path / "p")
    before = snapshot(project)
    assert_refused(remove_family(project, EXAMPLE, check=False), f"add-family {EXAMPLE} --data FILE --target COLUMN --replace")
    assert snapshot(project) == before


def test_a_released_family_is_neither_removed_nor_replaced(released, tmp_path):
    project = copy_project(released[0], tmp_path / "p")
    data = write_churn(tmp_path / "other.csv", seed=11)
    before = snapshot(project)
    assert_refused(remove_family(project, "churn", check=False), "has versions in the registry (e.g. churn@v0.1.0")
    assert_refused(add_family(project, "churn", "--data", str(data), "--target", "churned", "--replace", check=False),
                   "which are immutable")
    assert snapshot(project) == before


def test_remove_family_takes_out_its_conf_data_outputs_and_lock_entries(three, tmp_path):
    project = copy_project(three[0], tmp_path / "p")
    out = remove_family(project, "diabetes").stdout
    assert out.startswith("removed family diabetes")
    assert not (project / "conf/families/diabetes.yaml").exists()
    assert not list((project / "data/raw").glob("diabetes*"))
    for path in ("data/prepared/diabetes", "build/diabetes", "metrics/diabetes.json", "plots/diabetes", "models/diabetes"):
        assert not (project / path).exists(), path
    assert not [stage for stage in lock(project) if stage.endswith("@diabetes")]
    assert "diabetes" not in (project / "families.yaml").read_text()
    assert "diabetes" not in (project / "dvc.yaml").read_text()
    # the rest is untouched: only the config stage (conf/ changed) runs
    assert family_runs(ran_stages(run(project, "dvc", "repro").stdout)) == ["config"]
    assert run(project, "dvc", "status").stdout.strip() == "Data and pipelines are up to date."
    assert run(project, "python", "-m", package_of(project), "families").stdout.split()[::3] == ["churn", EXAMPLE]


def test_replace_puts_your_data_under_the_example_name(reproduced, tmp_path):
    """The bake's `model_family` with the user's own table: one command, then `dvc repro` and a release."""
    project = copy_project(reproduced, tmp_path / "p", storage=tmp_path / "storage")
    commit_all(project, "feat: first model")
    out = add_family(project, EXAMPLE, "--data", str(write_churn(tmp_path / "customers.csv")),
                     "--target", "churned", "--replace").stdout
    assert out.startswith(f"replaced family {EXAMPLE}: classification of 'churned'")
    conf = yaml.safe_load((project / f"conf/families/{EXAMPLE}.yaml").read_text())
    assert conf["data"]["target"] == "churned" and set(conf["data"]["features"]) == {"tenure_months", "monthly_fee", "contract", "region"}
    assert (project / f"data/raw/{EXAMPLE}.csv").read_text().startswith("tenure_months,")
    assert not (project / f"build/{EXAMPLE}").exists()
    done = run(project, "dvc", "repro")
    assert {f"{stage}@{EXAMPLE}" for stage in STAGES} <= set(ran_stages(done.stdout))
    commit_all(project, f"feat: our data under {EXAMPLE}")
    assert run(project, "dvc", "status").stdout.strip() == "Data and pipelines are up to date."
    signature = json.loads((project / f"models/{EXAMPLE}/signature.json").read_text())
    assert {field["name"] for field in signature["inputs"]} == {"tenure_months", "monthly_fee", "contract", "region"}
    run(project, "dvc", "push")
    assert f"{EXAMPLE}@v" in registry(project, "release", EXAMPLE).stdout


def test_a_failed_replace_puts_everything_back(reproduced, tmp_path):
    """The data is checked before anything moves; a failure after that (here: rewriting the
    family list stops at another family's broken conf) restores the old data, its .dvc file, the
    conf and the outputs."""
    project = copy_project(reproduced, tmp_path / "p")
    commit_all(project, "feat: first model")
    broken = project / "conf/families/broken.yaml"
    broken.write_text("data: [\n")
    raw = (project / f"data/raw/{EXAMPLE}.csv").read_bytes()
    status = git(project, "status", "--porcelain", "--untracked-files=all")
    done = add_family(project, EXAMPLE, "--data", str(write_churn(tmp_path / "customers.csv")),
                      "--target", "churned", "--replace", check=False)
    assert_refused(done, "conf/families/broken.yaml is not valid YAML")
    assert git(project, "status", "--porcelain", "--untracked-files=all") == status
    assert (project / f"data/raw/{EXAMPLE}.csv").read_bytes() == raw
    assert not list((project / "data/raw").glob(".*replaced"))
    broken.unlink()
    assert family_runs(ran_stages(run(project, "dvc", "repro").stdout)) == []


# ---- the bump rules per task (regression) ---------------------------------------------------------


@pytest.fixture
def released_copy(released, tmp_path):
    return copy_project(released[0], tmp_path / "p")


def propose(project: Path, family: str) -> dict:
    return json.loads(registry(project, "propose", family, "--json").stdout)


def test_regression_hyperparameter_moving_predictions_is_minor(released_copy):
    project = released_copy
    conf = project / "conf/families/diabetes.yaml"
    conf.write_text(conf.read_text() + "model:\n  alpha: 50.0   # this family's own hyperparameter\n")
    done = run(project, "dvc", "repro")
    assert family_runs(ran_stages(done.stdout)) == ["config", "train@diabetes", "evaluate@diabetes", "package@diabetes"]
    commit_all(project, "chore: regularise diabetes")
    proposal = propose(project, "diabetes")
    assert proposal["evidence_bump"] == "minor" and proposal["next_version"] == "v0.2.0", proposal
    assert any(line.startswith("probe agreement") for line in proposal["reasons"]), proposal["reasons"]
    assert propose(project, "churn")["identical_to"] == "v0.1.0"


def test_regression_dropped_feature_is_major(released_copy):
    project = released_copy
    conf = project / "conf/families/diabetes.yaml"
    conf.write_text("\n".join(line for line in conf.read_text().splitlines()
                              if not line.strip().startswith("s6:")) + "\n")
    run(project, "dvc", "repro")
    commit_all(project, "chore: diabetes without s6")
    proposal = propose(project, "diabetes")
    assert proposal["evidence_bump"] == "major" and proposal["next_version"] == "v0.2.0", proposal
    assert "inputs removed: s6" in proposal["reasons"]


def test_regression_card_edit_is_patch(released_copy):
    project = released_copy
    conf = project / "conf/families/diabetes.yaml"
    conf.write_text(conf.read_text().replace("intended_use: 'To be written", "intended_use: 'Triage. To be written"))
    run(project, "dvc", "repro")
    commit_all(project, "docs: diabetes card")
    proposal = propose(project, "diabetes")
    assert proposal["evidence_bump"] == "patch" and proposal["next_version"] == "v0.1.1", proposal
    assert "card changed: intended_use" in proposal["reasons"]


def test_a_commit_raises_only_the_bump_of_the_families_it_touches(released_copy, tmp_path):
    """`feat: add a family` and a `feat:` on one family's conf raise no other family's bump."""
    project = released_copy
    add_family(project, "churn2", "--data", str(write_churn(tmp_path / "more.csv", seed=11)), "--target", "churned")
    run(project, "dvc", "repro")
    commit_all(project, "feat: add the churn2 family")
    for family, message in (("diabetes", "feat: diabetes triage card"), ("churn", "docs: churn card")):
        conf = project / f"conf/families/{family}.yaml"
        conf.write_text(conf.read_text().replace("intended_use: 'To be written", "intended_use: 'Triage. To be written"))
        run(project, "dvc", "repro")
        git(project, "add", "-A")
        git(project, "commit", "-q", "-m", message)
    churn = propose(project, "churn")
    assert (churn["evidence_bump"], churn["commit_bump"], churn["bump"]) == ("patch", None, "patch"), churn
    assert not any("commit" in reason for reason in churn["reasons"]), churn["reasons"]
    diabetes = propose(project, "diabetes")
    assert (diabetes["evidence_bump"], diabetes["commit_bump"], diabetes["bump"]) == ("patch", "minor", "minor")
    assert any('"feat: diabetes triage card" → minor' in reason for reason in diabetes["reasons"])
    assert not any("churn2" in reason for reason in diabetes["reasons"])
