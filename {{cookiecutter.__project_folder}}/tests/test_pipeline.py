"""Train, package and reload a bundle on the example data, as the pipeline stages do."""

import json

import pytest
from versioned_ml_registry.bundle import load_model_file, predict, save_model, write_bundle

from {{ cookiecutter.package }}.config import compose
from {{ cookiecutter.package }}.data import check_columns, labels, signature, split
from {{ cookiecutter.package }}.dataset import write_wine_csv
from {{ cookiecutter.package }}.files import read_csv
from {{ cookiecutter.package }}.train import fit
from test_config import CONF


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    params = compose(CONF)
    data = params["data"]
    write_wine_csv(str(folder / "wine.csv"))
    rows = read_csv(str(folder / "wine.csv"))
    train, test = split(rows, data["target"], data["test_size"], data["split_seed"])
    model = fit(train, params)
    return folder, params, model, rows, test


def test_the_model_beats_the_candidate_gate(trained):
    _, params, model, _, test = trained
    data = params["data"]
    predicted = predict(model, signature(data, list(model.classes_)), test)
    accuracy = sum(p == a for p, a in zip(predicted, labels(test, data["target"]))) / len(test)
    assert accuracy >= params["registry"]["gates"]["candidate"]["accuracy"]


def test_missing_values_are_imputed_by_the_fitted_preprocessing(trained):
    _, params, model, rows, _ = trained
    data = params["data"]
    record = {name: rows[0][name] for name in data["features"]}
    record[data["features"][0]] = ""
    assert predict(model, signature(data, list(model.classes_)), [record])[0] in set(model.classes_)


def test_the_bundle_round_trips_with_its_signature_and_fingerprint(trained):
    folder, params, model, rows, _ = trained
    data = params["data"]
    save_model(model, folder / "model.skops")
    sig = signature(data, list(model.classes_))
    write_bundle(folder / "bundle", folder / "model.skops", sig, rows[:20], {"metrics": {"accuracy": 1.0}})
    written = json.loads((folder / "bundle" / "signature.json").read_text())
    fingerprint = json.loads((folder / "bundle" / "fingerprint.json").read_text())
    assert [field["name"] for field in written["inputs"]] == data["features"]
    assert written["output"]["labels"] == sorted(set(labels(rows, data["target"])))
    reloaded = load_model_file(folder / "bundle" / "model.skops")
    assert predict(reloaded, written, fingerprint["probe"]) == fingerprint["predictions"]


def test_a_feature_missing_from_the_data_is_refused_before_training():
    with pytest.raises(SystemExit, match="data/raw/x.csv has no column 'colour'"):
        check_columns([{"a": "13.2", "y": "p"}], ["a", "colour", "y"], "data/raw/x.csv")
