"""Train, package and reload a bundle on the example data, as the pipeline stages do."""

import json

import pytest

from {{ cookiecutter.package }}.bundle import load_model_file, predict
from {{ cookiecutter.package }}.config import compose
from {{ cookiecutter.package }}.data import check_columns, feature_matrix, labels, split
from {{ cookiecutter.package }}.dataset import write_wine_csv
from {{ cookiecutter.package }}.files import read_csv
from {{ cookiecutter.package }}.package import write_bundle
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
    model = fit(feature_matrix(train, data["features"]), labels(train, data["target"]), params)
    return folder, params, model, rows, test


def test_the_model_beats_the_candidate_gate(trained):
    _, params, model, _, test = trained
    predicted = predict(model, feature_matrix(test, params["data"]["features"]))
    accuracy = sum(p == a for p, a in zip(predicted, labels(test, params["data"]["target"]))) / len(test)
    assert accuracy >= params["registry"]["gates"]["candidate"]["accuracy"]


def test_missing_values_are_imputed_by_the_fitted_preprocessing(trained):
    _, params, model, rows, _ = trained
    record = {name: rows[0][name] for name in params["data"]["features"]}
    record["alcohol"] = ""
    assert predict(model, feature_matrix([record], params["data"]["features"]))[0] in {"barolo", "grignolino", "barbera"}


def test_the_bundle_round_trips_with_its_signature_and_fingerprint(trained):
    folder, params, model, rows, _ = trained
    from {{ cookiecutter.package }}.bundle import save_model

    save_model(model, str(folder / "model.skops"))
    params["data"]["raw"] = str(folder / "wine.csv")
    write_bundle(str(folder / "bundle"), str(folder / "model.skops"), params, {"accuracy": 1.0}, rows[:20])
    signature = json.loads((folder / "bundle" / "signature.json").read_text())
    fingerprint = json.loads((folder / "bundle" / "fingerprint.json").read_text())
    card = json.loads((folder / "bundle" / "card.json").read_text())
    assert [field["name"] for field in signature["inputs"]] == params["data"]["features"]
    assert signature["output"]["labels"] == ["barbera", "barolo", "grignolino"]
    reloaded = load_model_file(str(folder / "bundle" / "model.skops"))
    probe = fingerprint["probe"]
    assert predict(reloaded, feature_matrix(probe, params["data"]["features"])) == fingerprint["predictions"]
    assert card["metrics"] == {"accuracy": 1.0} and card["family"] == params["family"]


def test_a_feature_missing_from_the_data_is_refused_before_training():
    with pytest.raises(SystemExit, match="data/raw/wine.csv has no column 'colour'"):
        check_columns([{"alcohol": "13.2", "cultivar": "barolo"}], ["alcohol", "colour", "cultivar"], "data/raw/wine.csv")
