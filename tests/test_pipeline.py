"""`dvc repro` in a baked project pins data, preprocessing code, params and weights together."""

import json

import yaml

from baking import bake, copy_project, git, ran_stages, run

FAMILY = "cultivar"
RAW = f"data/raw/{FAMILY}.csv"
METRICS = f"metrics/{FAMILY}.json"
BUNDLE_FILES = {"model.skops", "signature.json", "fingerprint.json", "card.json"}


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
    assert train["outs"][0]["path"] == f"build/{FAMILY}/model.skops" and train["outs"][0]["md5"]
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


def test_a_second_repro_changes_nothing(reproduced):
    """Only `propose` runs again (it always does, and writes nothing but its report)."""
    lock = (reproduced / "dvc.lock").read_bytes()
    done = run(reproduced, "dvc", "repro")
    assert ran_stages(done.stdout) == [f"propose@{FAMILY}"]
    assert "cultivar: MINOR → v0.1.0 (first release)" in done.stdout
    assert (reproduced / "dvc.lock").read_bytes() == lock
    assert run(reproduced, "dvc", "status").stdout.split() == [f"propose@{FAMILY}:", "always", "changed"]


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
