"""Train, evaluate, package and reload every family's pipeline, as the stages do, on synthetic
rows shaped like the family's configuration: its typed features (with missing values), its
task and target. Generic: no data file is needed and no hyperparameter is assumed, so these
pass for any set of families. Where a family's raw data is present (after `dvc pull`), its
columns are checked against the configuration too."""

import json
import random
from pathlib import Path

import pytest
from versioned_ml_registry.bundle import load_model_file, predict, save_model, write_bundle

from {{ cookiecutter.package }}.config import compose_all
from {{ cookiecutter.package }}.data import check_columns, feature_names, features, signature, split, targets, task
from {{ cookiecutter.package }}.evaluate import evaluate, wanted_metrics
from {{ cookiecutter.package }}.files import read_csv
from {{ cookiecutter.package }}.package import labels_of
from {{ cookiecutter.package }}.train import fit
from test_config import CONF, FAMILIES, ROOT

CATEGORIES = ["red", "green", "blue"]


def synthetic_rows(conf: dict, count: int = 120, seed: int = 0) -> list[dict]:
    """Rows with every configured feature (about 10 % missing where the feature is optional)
    and a target that depends on them."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        row, signal = {}, 0.0
        for field in features(conf):
            if field["type"] == "numeric":
                value = rng.gauss(0, 1)
                signal += value
                row[field["name"]] = repr(value)
            else:
                value = rng.choice(CATEGORIES)
                signal += CATEGORIES.index(value) - 1
                row[field["name"]] = value
            if not field["required"] and rng.random() < 0.1:
                row[field["name"]] = ""
        target = conf["data"]["target"]
        row[target] = ("high" if signal > 0 else "low") if task(conf) == "classification" else repr(3 * signal + 10)
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def composed():
    return compose_all(CONF)["families"]


@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, composed, tmp_path_factory):
    conf = composed[request.param]
    rows = synthetic_rows(conf)
    train, test = split(conf, rows)
    return request.param, conf, fit(conf, train), rows, test, tmp_path_factory.mktemp(request.param)


def test_the_model_predicts_the_targets_kind(trained):
    _, conf, model, _, test, _ = trained
    predicted = predict(model, signature(conf, labels_of(model, conf)), test)
    assert len(predicted) == len(test)
    if task(conf) == "classification":
        assert set(predicted) <= set(targets(conf, test)) | {"high", "low"}
    else:
        assert all(isinstance(value, float) for value in predicted)


def test_missing_and_unknown_values_go_through_the_fitted_preprocessing(trained):
    _, conf, model, rows, _, _ = trained
    record = {name: rows[0][name] for name in feature_names(conf)}
    for field in features(conf):
        record[field["name"]] = None if field["type"] == "numeric" else "never-seen-in-training"
    (prediction,) = predict(model, signature(conf, labels_of(model, conf)), [record])
    if task(conf) == "classification":
        assert prediction in {"high", "low"}
    else:
        assert prediction == prediction  # not NaN


def test_evaluate_reports_the_familys_metrics(trained):
    _, conf, model, _, test, _ = trained
    metrics, pairs = evaluate(conf, model, test)
    assert list(metrics) == wanted_metrics(conf)
    assert len(pairs) == len(test) and set(pairs[0]) == {"actual", "predicted"}


def test_the_bundle_round_trips_with_its_signature_and_fingerprint(trained):
    family, conf, model, rows, _, folder = trained
    save_model(model, folder / "model.skops")
    sig = signature(conf, labels_of(model, conf))
    write_bundle(folder / "bundle", folder / "model.skops", sig, rows[:20], {"family": family})
    written = json.loads((folder / "bundle" / "signature.json").read_text())
    fingerprint = json.loads((folder / "bundle" / "fingerprint.json").read_text())
    assert [field["name"] for field in written["inputs"]] == feature_names(conf)
    assert written["task"] == task(conf)
    reloaded = load_model_file(folder / "bundle" / "model.skops")
    assert predict(reloaded, written, fingerprint["probe"]) == fingerprint["predictions"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_raw_data_has_the_configured_columns(composed, family):
    conf = composed[family]
    raw = ROOT / conf["data"]["raw"]
    if not raw.exists():
        pytest.skip(f"{conf['data']['raw']} is not here (dvc pull fetches it)")
    check_columns(conf, read_csv(str(raw)), conf["data"]["raw"])


def test_a_feature_missing_from_the_data_is_refused_before_training():
    conf = {"task": "classification", "data": {"target": "y", "features": {"a": "numeric", "colour": "categorical"}}}
    with pytest.raises(SystemExit, match="data/raw/x.csv has no column 'colour'"):
        check_columns(conf, [{"a": "13.2", "y": "p"}], "data/raw/x.csv")


def test_the_stage_modules_exist_for_every_stage_of_dvc_yaml():
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    package = Path(__file__).resolve().parents[1] / "src" / "{{ cookiecutter.package }}"
    for name, stage in stages.items():
        command = (stage.get("do") or stage)["cmd"]
        if command.startswith("python -m "):
            module = command.split()[2].split(".", 1)[1]
            assert (package / f"{module}.py").exists(), (name, command)
