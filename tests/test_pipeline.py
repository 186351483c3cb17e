"""`dvc repro` in a baked project pins data, preprocessing code, params and weights together."""

import json

import pytest
import yaml

from vml_testkit.bake import bake, copy_project, package_of, ran_stages
from vml_testkit.git import commit_all, git, run
from vml_testkit.registry import registry

pytestmark = pytest.mark.slow

FAMILY = "cultivar"
RAW = f"data/raw/{FAMILY}.csv"
METRICS = f"metrics/{FAMILY}.json"
BUNDLE_FILES = {"model.skops", "flavor.json", "signature.json", "fingerprint.json", "card.json", "profile.json"}
STAGES = ("prepare", "train", "evaluate", "package", "propose")


def lock_stage(project, name):
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"][name]


def dep_md5(stage, path):
    return next(dep["md5"] for dep in stage["deps"] if dep["path"] == path)


def test_repro_writes_the_bundle_metrics_and_plots(reproduced):
    bundle = reproduced / "models" / FAMILY
    assert {f.name for f in bundle.iterdir()} == BUNDLE_FILES
    metrics = json.loads((reproduced / METRICS).read_text())
    assert set(metrics) == {"accuracy", "f1_macro"} and metrics["accuracy"] > 0.8
    assert (reproduced / "plots" / FAMILY / "confusion.csv").read_text().startswith("actual,predicted\n")
    plots = json.loads(run(reproduced, "dvc", "plots", "show", "--json").stdout)
    (plot,) = plots["data"][f"plots/{FAMILY}/confusion.csv"]
    assert plot["content"]["title"]["text"].startswith(f"{FAMILY}: confusion matrix")


def test_the_lock_pins_data_code_params_and_weights(reproduced):
    prepare, train, package = (lock_stage(reproduced, f"{name}@{FAMILY}") for name in ("prepare", "train", "package"))
    card = json.loads((reproduced / "models" / FAMILY / "card.json").read_text())
    assert card["data_version"] == {RAW: dep_md5(prepare, RAW)} == {RAW: dep_md5(package, RAW)}
    assert dep_md5(train, "src/wine_cultivar/features.py")
    model = train["params"]["params.yaml"][f"families.{FAMILY}.model"]
    assert model == yaml.safe_load((reproduced / "params.yaml").read_text())["families"][FAMILY]["model"]
    assert model["name"] == "logistic_regression"
    assert train["outs"][0]["path"] == f"build/{FAMILY}/model" and train["outs"][0]["md5"].endswith(".dir")
    assert package["outs"][0]["path"] == f"models/{FAMILY}" and package["outs"][0]["md5"].endswith(".dir")
    assert card["metrics"] == json.loads((reproduced / METRICS).read_text())
    assert card["task"] == "classification" and card["intended_use"].startswith("Classify the cultivar")
    assert set(card["requirements"]["packages"]) == {"scikit-learn", "skops", "numpy"}


def test_the_bundle_describes_its_interface_and_behaviour(reproduced):
    bundle = reproduced / "models" / FAMILY
    signature = json.loads((bundle / "signature.json").read_text())
    fingerprint = json.loads((bundle / "fingerprint.json").read_text())
    assert len(signature["inputs"]) == 13 and signature["output"]["labels"] == ["barbera", "barolo", "grignolino"]
    assert len(fingerprint["probe"]) == len(fingerprint["predictions"]) == 178
    assert set(fingerprint["predictions"]) == set(signature["output"]["labels"])
    # the model file is one fitted scikit-learn pipeline that predicts the labels themselves,
    # read through the registry's bundle contract
    from sklearn.pipeline import Pipeline
    from versioned_ml_registry.bundle import load_model_file, predict

    model = load_model_file(bundle / "model.skops")
    assert isinstance(model, Pipeline)
    assert predict(model, signature, fingerprint["probe"]) == fingerprint["predictions"]


def test_the_bundle_pins_its_training_profile(reproduced):
    """profile.json: every input of the training split, the test predictions, inside the md5 dvc.lock pins."""
    from versioned_ml_registry.bundle import md5_file
    from versioned_ml_registry.dvc.store import manifest_md5

    bundle = reproduced / "models" / FAMILY
    signature = json.loads((bundle / "signature.json").read_text())
    profile = json.loads((bundle / "profile.json").read_text(), parse_constant=lambda name: pytest.fail(name))
    assert set(profile["features"]) == {field["name"] for field in signature["inputs"]}
    assert all(feature["kind"] == "numeric" and feature["min"] <= feature["quantiles"]["0.5"] <= feature["max"]
               for feature in profile["features"].values())
    prepared = reproduced / "data" / "prepared" / FAMILY
    assert profile["rows"] == len((prepared / "train.csv").read_text().splitlines()) - 1
    predictions = profile["predictions"]
    assert predictions["split"] == "test" and predictions["kind"] == "label"
    assert predictions["rows"] == len((prepared / "test.csv").read_text().splitlines()) - 1
    assert set(predictions["frequencies"]) <= set(signature["output"]["labels"])

    package = lock_stage(reproduced, f"package@{FAMILY}")
    assert {f"data/prepared/{FAMILY}/train.csv", f"data/prepared/{FAMILY}/test.csv"} <= {dep["path"] for dep in package["deps"]}
    md5 = package["outs"][0]["md5"]
    listing = json.loads((reproduced / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).read_text())
    files = {entry["relpath"]: entry["md5"] for entry in listing}
    assert files["profile.json"] == md5_file(bundle / "profile.json")
    assert manifest_md5(files) == md5


def test_a_second_repro_changes_nothing(reproduced):
    """No stage runs, propose included: a no-op repro starts no command, whatever the family count."""
    lock = (reproduced / "dvc.lock").read_bytes()
    done = run(reproduced, "dvc", "repro")
    assert ran_stages(done.stdout) == []
    assert f"Stage 'propose@{FAMILY}' didn't change, skipping" in done.stdout
    assert "first release" not in done.stdout, "no proposal is printed when nothing changed"
    assert (reproduced / "dvc.lock").read_bytes() == lock
    assert lock_stage(reproduced, f"propose@{FAMILY}")["deps"][0]["path"] == f"models/{FAMILY}"
    assert run(reproduced, "dvc", "status").stdout.strip() == "Data and pipelines are up to date."


def write_loans(path):
    """A second family's CSV: two numeric features, one categorical, a yes/no target."""
    rows = ["income,debt,region,repaid"]
    for index in range(60):
        income, debt = 20 + index % 17 * 5, index % 11 * 3
        rows.append(f"{income},{debt},{('north', 'south', 'east')[index % 3]},{'yes' if income > debt * 1.5 else 'no'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_propose_reruns_only_for_the_family_whose_inputs_changed(reproduced, tmp_path):
    """propose@NAME runs when NAME's bundle or registry params change, prints a fresh report,
    and never for another family; releases work on the reproduced, committed project."""
    project = copy_project(reproduced, tmp_path / "project", storage=tmp_path / "storage")
    data = write_loans(tmp_path / "loans.csv")
    run(project, "python", "-m", package_of(project), "add-family", "loans", "--data", str(data), "--target", "repaid")
    done = run(project, "dvc", "repro")
    assert ran_stages(done.stdout) == ["config", *(f"{stage}@loans" for stage in STAGES)]
    assert "loans: MINOR → v0.1.0 (first release)" in done.stdout
    commit_all(project, "feat: first models")
    assert "released cultivar v0.1.0" in registry(project, "release", FAMILY).stdout

    # after the release nothing reruns, so the report printed before it is not printed again
    done = run(project, "dvc", "repro")
    assert ran_stages(done.stdout) == [] and "v0.1.0" not in done.stdout
    assert "identical to v0.1.0" in registry(project, "propose", FAMILY).stdout

    conf = project / "conf" / "families" / f"{FAMILY}.yaml"
    conf.write_text(conf.read_text().replace("13 chemical measurements.", "13 chemical measurements, 2nd card."))
    done = run(project, "dvc", "repro")
    assert ran_stages(done.stdout) == ["config", f"package@{FAMILY}", f"propose@{FAMILY}"]
    assert f"{FAMILY}: PATCH → v0.1.1 (released: v0.1.0)" in done.stdout and "loans:" not in done.stdout

    conf.write_text(conf.read_text().replace("agreement_threshold: 0.99", "agreement_threshold: 0.98"))
    assert ran_stages(run(project, "dvc", "repro").stdout) == ["config", f"propose@{FAMILY}"]

    commit_all(project, "docs: a clearer cultivar card")
    assert "released cultivar v0.1.1" in registry(project, "release", FAMILY, "--if-changed").stdout
    assert "released loans v0.1.0" in registry(project, "release", "loans", "--if-changed").stdout
    assert "nothing to release" in registry(project, "release", FAMILY, "--if-changed").stdout
    assert ran_stages(run(project, "dvc", "repro").stdout) == []


def test_the_generated_projects_own_tests_pass(reproduced):
    done = run(reproduced, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_hydra_config_drives_repro_and_exp_run(tmp_path):
    project = bake(tmp_path)
    run(project, "dvc", "repro")
    git(project, "add", "--all")
    git(project, "commit", "-qm", "chore: first run")

    conf = project / "conf" / "model" / "logistic_regression.yaml"
    conf.write_text(conf.read_text().replace("C: 1.0", "C: 0.05"))
    after_config = [f"{stage}@{FAMILY}" for stage in ("train", "evaluate", "package", "propose")]
    assert ran_stages(run(project, "dvc", "repro").stdout) == ["config", *after_config]
    diff = run(project, "dvc", "params", "diff").stdout
    assert f"families.{FAMILY}.model.C" in diff and "0.05" in diff and ".data" not in diff
    git(project, "commit", "-qam", "feat: stronger regularisation")

    done = run(project, "dvc", "exp", "run", "-S", f"families.{FAMILY}.model.C=0.02")
    assert ran_stages(done.stdout) == ["config", *after_config]
    assert yaml.safe_load((project / "params.yaml").read_text())["families"][FAMILY]["model"]["C"] == 0.02
    assert lock_stage(project, f"train@{FAMILY}")["params"]["params.yaml"][f"families.{FAMILY}.model"]["C"] == 0.02
    # the override survives the next run of the config stage
    done = run(project, "dvc", "repro")
    assert yaml.safe_load((project / "params.yaml").read_text())["families"][FAMILY]["model"]["C"] == 0.02


def test_push_then_a_fresh_clone_pulls_the_same_bundle(reproduced, tmp_path):
    project = copy_project(reproduced, tmp_path / "project", storage=tmp_path / "storage")
    git(project, "add", "--all")
    git(project, "commit", "-qm", "feat: first model")
    run(project, "dvc", "push")
    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(project), str(clone))
    assert not (clone / "models" / FAMILY).exists()
    run(clone, "dvc", "remote", "modify", "--local", "local", "url", str(tmp_path / "storage"))
    run(clone, "dvc", "pull")
    for name in BUNDLE_FILES:
        assert (clone / "models" / FAMILY / name).read_bytes() == (project / "models" / FAMILY / name).read_bytes()
