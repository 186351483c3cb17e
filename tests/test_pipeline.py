"""`dvc repro` in a baked project pins data, preprocessing code, params and weights together."""

import json

import yaml

from baking import bake, copy_project, git, ran_stages, run

FAMILY = "cultivar"
BUNDLE_FILES = {"model.skops", "signature.json", "fingerprint.json", "card.json"}


def lock_stage(project, name):
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"][name]


def dep_md5(stage, path):
    return next(dep["md5"] for dep in stage["deps"] if dep["path"] == path)


def test_repro_writes_the_bundle_metrics_and_plots(reproduced):
    bundle = reproduced / "models" / FAMILY
    assert {f.name for f in bundle.iterdir()} == BUNDLE_FILES
    metrics = json.loads((reproduced / "metrics.json").read_text())
    assert set(metrics) == {"accuracy", "f1_macro"} and metrics["accuracy"] > 0.8
    assert (reproduced / "plots" / "confusion.csv").read_text().startswith("actual,predicted\n")
    plots = run(reproduced, "dvc", "plots", "show", "--json").stdout
    assert "plots/confusion.csv" in plots


def test_the_lock_pins_data_code_params_and_weights(reproduced):
    prepare, train, package = (lock_stage(reproduced, name) for name in ("prepare", "train", "package"))
    card = json.loads((reproduced / "models" / FAMILY / "card.json").read_text())
    assert card["data_version"] == {"data/raw/wine.csv": dep_md5(prepare, "data/raw/wine.csv")}
    assert dep_md5(train, "src/wine_cultivar/features.py")
    assert train["params"]["params.yaml"]["model"] == {"name": "logistic_regression", "C": 1.0, "max_iter": 1000}
    assert train["outs"][0]["path"] == "build/model.skops" and train["outs"][0]["md5"]
    assert package["outs"][0]["path"] == f"models/{FAMILY}" and package["outs"][0]["md5"].endswith(".dir")
    assert card["metrics"] == json.loads((reproduced / "metrics.json").read_text())
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


def test_a_second_repro_changes_nothing(reproduced):
    """Only `propose` runs again (it always does, and writes nothing but its report)."""
    lock = (reproduced / "dvc.lock").read_bytes()
    done = run(reproduced, "dvc", "repro")
    assert ran_stages(done.stdout) == ["propose"]
    assert "cultivar: MINOR → v0.1.0 (first release)" in done.stdout
    assert (reproduced / "dvc.lock").read_bytes() == lock
    assert run(reproduced, "dvc", "status").stdout.split() == ["propose:", "always", "changed"]


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
    assert ran_stages(run(project, "dvc", "repro").stdout) == ["config", "train", "evaluate", "package", "propose"]
    diff = run(project, "dvc", "params", "diff").stdout
    assert "model.C" in diff and "0.05" in diff and "data." not in diff
    git(project, "commit", "-qam", "feat: stronger regularisation")

    done = run(project, "dvc", "exp", "run", "-S", "model.C=0.02")
    assert ran_stages(done.stdout) == ["config", "train", "evaluate", "package", "propose"]
    assert yaml.safe_load((project / "params.yaml").read_text())["model"]["C"] == 0.02
    assert lock_stage(project, "train")["params"]["params.yaml"]["model"]["C"] == 0.02


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
