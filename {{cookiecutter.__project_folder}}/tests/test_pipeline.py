"""Train, evaluate, package and reload every family's pipeline, as the stages do, on synthetic
rows shaped like the family's configuration: its typed features (with missing values), its
task and target. Generic: no data file is needed and no hyperparameter is assumed, so these
pass for any set of families. Where a family's raw data is present (after `dvc pull`), its
columns are checked against the configuration too."""

import json
import random
from pathlib import Path

import pytest
from versioned_ml_registry.bundle import load_model_file, predict, predict_proba, save_model_dir, write_bundle

from {{ cookiecutter.package }}.config import compose_all
from {{ cookiecutter.package }}.data import (check_columns, feature_names, features, missing_values, records, split,
                                              targets, task, trusted_types)
from {{ cookiecutter.package }}.errors import ProjectError
from {{ cookiecutter.package }}.evaluate import evaluate, wanted_metrics
from {{ cookiecutter.package }}.tables import Table, read_table
from {{ cookiecutter.package }}.train import fit
from test_config import CONF, FAMILIES, ROOT, extra_missing

CATEGORIES = ["red", "green", "blue"]
WORDS = ["table", "book", "cancel", "tonight", "open", "when", "order", "two"]


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
            elif field["type"] == "text":
                words = rng.sample(WORDS, 3)
                signal += 1 if "book" in words else -0.5
                row[field["name"]] = " ".join(words)
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
    extra = extra_missing(conf["model"])
    if extra:
        pytest.skip(f"the {extra} extra is not installed: pip install -e \".[{extra}]\"")
    rows = synthetic_rows(conf)
    train, test = split(conf, rows)
    model, signature = fit(conf, train)
    folder = tmp_path_factory.mktemp(request.param)
    # saved and loaded back in its flavor's format, as the train and evaluate stages do
    save_model_dir(model, folder / "model", signature, trusted_types(conf))
    model = load_model_file(folder / "model", trusted_types(conf), signature)
    return request.param, conf, model, signature, rows, test, folder


def test_the_model_predicts_the_targets_kind(trained):
    _, conf, model, signature, _, test, _ = trained
    predicted = predict(model, signature, test)
    assert len(predicted) == len(test)
    if task(conf) == "classification":
        assert set(predicted) <= set(targets(conf, test)) | {"high", "low"}
        assert signature["output"]["labels"] == sorted(set(targets(conf, test)) | {"high", "low"})
    else:
        assert all(isinstance(value, float) for value in predicted)


def test_missing_and_unknown_values_go_through_the_fitted_preprocessing(trained):
    _, conf, model, signature, rows, _, _ = trained
    record = {name: rows[0][name] for name in feature_names(conf)}
    for field in features(conf):
        record[field["name"]] = None if field["type"] == "numeric" else "never-seen-in-training"
    (prediction,) = predict(model, signature, [record])
    if task(conf) == "classification":
        assert prediction in {"high", "low"}
        (probabilities,) = predict_proba(model, signature, [record])
        assert len(probabilities) == 2 and abs(sum(probabilities) - 1) < 1e-6
    else:
        assert prediction == prediction  # not NaN


def test_evaluate_reports_the_familys_metrics(trained):
    _, conf, model, signature, _, test, _ = trained
    metrics, pairs = evaluate(conf, model, signature, test)
    assert list(metrics) == wanted_metrics(conf)
    assert len(pairs) == len(test) and set(pairs[0]) == {"actual", "predicted"}


def test_the_bundle_round_trips_with_its_signature_and_fingerprint(trained):
    family, conf, model, signature, rows, _, folder = trained
    write_bundle(folder / "bundle", folder / "model", signature, rows[:20], {"family": family}, trusted_types(conf))
    written = json.loads((folder / "bundle" / "signature.json").read_text())
    fingerprint = json.loads((folder / "bundle" / "fingerprint.json").read_text())
    assert [field["name"] for field in written["inputs"]] == feature_names(conf)
    assert written["task"] == task(conf)
    reloaded = load_model_file(folder / "bundle", trusted_types(conf), written)
    assert predict(reloaded, written, fingerprint["probe"]) == fingerprint["predictions"]


@pytest.mark.parametrize("family", FAMILIES)
def test_the_raw_data_fits_the_configuration(composed, family):
    """Every configured column is there and every value fits its type (what `prepare` checks)."""
    conf = composed[family]
    raw = ROOT / conf["data"]["raw"]
    if not raw.exists():
        pytest.skip(f"{conf['data']['raw']} is not here (dvc pull fetches it)")
    assert records(conf, read_table(raw, missing_values(conf)))


def test_a_feature_missing_from_the_data_is_refused_before_training():
    conf = {"task": "classification", "data": {"target": "y", "features": {"a": "numeric", "colour": "categorical"}}}
    table = Table("data/raw/x.csv", "CSV", ["a", "y"], [{"a": "13.2", "y": "p"}], [2])
    with pytest.raises(ProjectError, match="data/raw/x.csv has no column 'colour'"):
        check_columns(conf, table)


def test_the_stage_modules_exist_for_every_stage_of_dvc_yaml():
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    package = Path(__file__).resolve().parents[1] / "src" / "{{ cookiecutter.package }}"
    for name, stage in stages.items():
        command = (stage.get("do") or stage)["cmd"]
        if command.startswith("python -m "):
            module = command.split()[2].split(".", 1)[1]
            assert (package / f"{module}.py").exists(), (name, command)
