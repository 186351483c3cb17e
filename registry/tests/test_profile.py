"""The training profile of a bundle (profile.json): built from the training inputs and the
test predictions, written by ``write_bundle``, pinned with the bundle and loaded with it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from versioned_ml_registry.bundle import (PROFILE_FILE, build_profile, make_signature, predict, records_to_matrix,
                                          save_model, write_bundle)
from versioned_ml_registry.bundle.profile import MAX_CATEGORIES, OTHER, QUANTILES
from versioned_ml_registry.errors import RegistryError

INPUTS = [{"name": "size", "type": "numeric"}, {"name": "colour", "type": "categorical"},
          {"name": "note", "type": "text"}]
CLASSIFIER = make_signature("classification", INPUTS, "kind", ["a", "b"])
REGRESSOR = make_signature("regression", INPUTS, "price")


def strict_json(profile: dict) -> dict:
    """The profile through JSON with NaN and infinity refused."""
    return json.loads(json.dumps(profile, allow_nan=False))


def test_numeric_inputs_get_missing_rate_range_and_quantiles():
    rows = [{"size": value, "colour": "x", "note": "hi"}
            for value in [1.0, "2", 3, None, float("nan"), "", 4.0, float("inf")]]
    profile = strict_json(build_profile(rows, CLASSIFIER, ["a"], "classification"))
    size = profile["features"]["size"]
    assert profile["format"] == 1 and profile["rows"] == 8
    assert size["kind"] == "numeric"
    assert size["missing_rate"] == 4 / 8  # None, NaN, "" and the infinite value
    assert (size["min"], size["max"]) == (1.0, 4.0)
    assert list(size["quantiles"]) == [str(q) for q in QUANTILES]
    assert size["quantiles"]["0.5"] == 2.5 and size["quantiles"]["0.25"] == 1.75
    assert list(size["quantiles"].values()) == sorted(size["quantiles"].values())


def test_an_all_missing_numeric_input_has_no_range():
    rows = [{"size": None, "colour": None, "note": None}] * 3
    features = strict_json(build_profile(rows, CLASSIFIER, ["a"], "classification"))["features"]
    assert features["size"] == {"kind": "numeric", "missing_rate": 1.0, "min": None, "max": None,
                                "quantiles": {str(q): None for q in QUANTILES}}
    assert features["colour"] == {"kind": "categorical", "missing_rate": 1.0, "frequencies": {}}
    assert features["note"] == {"kind": "text", "missing_rate": 1.0}


def test_a_value_that_is_not_a_number_is_refused_in_one_line():
    with pytest.raises(RegistryError, match='input "size": \'big\' is not a number'):
        build_profile([{"size": "big"}], CLASSIFIER, ["a"], "classification")


def test_categorical_inputs_get_frequencies_of_their_present_values():
    colours = ["x", "x", "y", None, "", 7, "x", "y"]
    rows = [{"size": 1.0, "colour": colour, "note": "n"} for colour in colours]
    colour = build_profile(rows, CLASSIFIER, ["a"], "classification")["features"]["colour"]
    assert colour["missing_rate"] == 2 / 8
    assert colour["frequencies"] == {"x": 3 / 6, "y": 2 / 6, "7": 1 / 6}  # categories as strings
    assert math.isclose(sum(colour["frequencies"].values()), 1.0)


def test_categories_beyond_the_most_frequent_are_summed_as_other():
    colours = ["common"] * 50 + [f"c{i:03d}" for i in range(MAX_CATEGORIES + 30)]
    rows = [{"size": 1.0, "colour": colour, "note": None} for colour in colours]
    frequencies = build_profile(rows, CLASSIFIER, ["a"], "classification")["features"]["colour"]["frequencies"]
    assert len(frequencies) == MAX_CATEGORIES + 1
    assert frequencies["common"] == 50 / len(colours)
    # the rest tie at one row each: the first by name are kept, the last 31 summed
    assert "c000" in frequencies and f"c{MAX_CATEGORIES + 29:03d}" not in frequencies
    assert frequencies[OTHER] == 31 / len(colours)
    assert math.isclose(sum(frequencies.values()), 1.0)


def test_text_inputs_get_only_their_missing_rate():
    rows = [{"size": 1.0, "colour": "x", "note": note} for note in ["a long note", None, "", "short"]]
    assert build_profile(rows, CLASSIFIER, ["a"], "classification")["features"]["note"] == {
        "kind": "text", "missing_rate": 0.5}


def test_classification_predictions_are_label_frequencies():
    rows = [{"size": 1.0, "colour": "x", "note": "n"}]
    predictions = build_profile(rows, CLASSIFIER, ["a", "b", "b", "a", "b"], "classification")["predictions"]
    assert predictions == {"split": "test", "rows": 5, "kind": "label", "frequencies": {"a": 0.4, "b": 0.6}}


def test_regression_predictions_are_decile_bins():
    rows = [{"size": 1.0, "colour": "x", "note": "n"}]
    values = [float(v) for v in range(101)]
    predictions = strict_json(build_profile(rows, REGRESSOR, values, "regression"))["predictions"]
    assert (predictions["split"], predictions["rows"], predictions["kind"]) == ("test", 101, "numeric")
    assert predictions["edges"] == pytest.approx([float(v) for v in range(0, 101, 10)])
    assert len(predictions["frequencies"]) == 10
    assert predictions["frequencies"][0] == 10 / 101 and predictions["frequencies"][-1] == 11 / 101  # max included
    assert math.isclose(sum(predictions["frequencies"]), 1.0)


def test_constant_regression_predictions_still_sum_to_one():
    rows = [{"size": 1.0, "colour": "x", "note": "n"}]
    predictions = build_profile(rows, REGRESSOR, [2.5] * 7, "regression")["predictions"]
    assert predictions["edges"] == [2.5] * 11
    assert math.isclose(sum(predictions["frequencies"]), 1.0)


def test_no_predictions_or_an_unknown_task_is_refused():
    rows = [{"size": 1.0}]
    with pytest.raises(RegistryError, match="no test predictions"):
        build_profile(rows, CLASSIFIER, [], "classification")
    with pytest.raises(RegistryError, match="unknown task"):
        build_profile(rows, CLASSIFIER, ["a"], "ranking")
    with pytest.raises(RegistryError, match="non-finite"):
        build_profile(rows, REGRESSOR, [1.0, float("nan")], "regression")


def test_a_pandas_dataframe_profiles_like_its_records():
    pd = pytest.importorskip("pandas")
    rows = [{"size": 1.5, "colour": "x", "note": "a"}, {"size": None, "colour": None, "note": "b"},
            {"size": 3.0, "colour": "y", "note": None}]
    frame = pd.DataFrame(rows).astype({"colour": "string"})  # pd.NA for the missing colour
    assert build_profile(frame, CLASSIFIER, ["a"], "classification") == build_profile(
        rows, CLASSIFIER, ["a"], "classification")
    with pytest.raises(RegistryError, match="lack the input"):
        build_profile(frame.drop(columns=["note"]), CLASSIFIER, ["a"], "classification")


# ---- written with the bundle ----------------------------------------------------------------

def training(n=60, seed=0):
    rng = np.random.default_rng(seed)
    rows = [{"size": None if i % 10 == 0 else float(rng.normal(5, 2)), "colour": str(rng.choice(["x", "y"])),
             "note": "n"} for i in range(n)]
    labels = ["a" if (row["size"] or 5) < 5 else "b" for row in rows]
    return rows, labels


def fitted(signature, model, rows, target):
    pipeline = Pipeline([("prep", ColumnTransformer([("num", SimpleImputer(), [0]),
                                                     ("cat", OneHotEncoder(handle_unknown="ignore"), [1])])),
                         ("model", model)])
    return pipeline.fit(records_to_matrix(signature, rows), target)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_write_bundle_writes_the_profile_it_is_given(tmp_path, task):
    rows, labels = training()
    signature, model = ((CLASSIFIER, LogisticRegression()) if task == "classification" else
                        (REGRESSOR, Ridge()))
    target = labels if task == "classification" else [(row["size"] or 5) * 2 for row in rows]
    fit = fitted(signature, model, rows, target)
    save_model(fit, tmp_path / "model.skops")
    train, test = rows[:40], rows[40:]
    profile = build_profile(train, signature, predict(fit, signature, test), task)
    write_bundle(tmp_path / "bundle", tmp_path / "model.skops", signature, rows[:5], {}, profile=profile)
    written = json.loads((tmp_path / "bundle" / PROFILE_FILE).read_text())
    assert written == profile and written["rows"] == 40 and written["predictions"]["rows"] == 20
    assert set(written["features"]) == {"size", "colour", "note"}


def test_write_bundle_without_a_profile_writes_none(tmp_path):
    rows, labels = training()
    save_model(fitted(CLASSIFIER, LogisticRegression(), rows, labels), tmp_path / "model.skops")
    write_bundle(tmp_path / "bundle", tmp_path / "model.skops", CLASSIFIER, rows[:5], {})
    assert not (tmp_path / "bundle" / PROFILE_FILE).exists()
    with pytest.raises(RegistryError, match="a bundle's profile is a JSON object"):
        write_bundle(tmp_path / "other", tmp_path / "model.skops", CLASSIFIER, rows[:5], {}, profile=[1])


# ---- pinned and loaded with the version -----------------------------------------------------

@pytest.mark.slow
def test_a_loaded_version_carries_its_profile_and_an_older_bundle_none(serving_base, tmp_path):
    import versioned_ml_registry as reg
    from vml_testkit.evidence import copy_registry, record, write_bundle as write_old_bundle
    from vml_testkit.serving import FAMILY, REGRESSION, release_bundle

    from versioned_ml_registry.bundle.loading import load_for_serving
    from versioned_ml_registry.tags.repo import Repo

    root = copy_registry(serving_base, tmp_path / "copy")
    for family, kind in ((FAMILY, "label"), (REGRESSION, "numeric")):
        predictor = load_for_serving(Repo(str(root)), family, "v0.1.0")
        assert predictor.profile["predictions"]["kind"] == kind
        assert set(predictor.profile["features"]) == {field["name"] for field in predictor.signature["inputs"]}
        # pinned like every bundle file: the tag records its sha256
        assert "profile.json" in reg.version_info(str(root), family, "v0.1.0")["meta"]["sha256"]
    write_old_bundle(root, REGRESSION, C=5.0, task="regression")  # written as before profiles
    (root / "models" / REGRESSION / PROFILE_FILE).unlink()
    record(root, "feat: a bundle without a profile")
    version = release_bundle(root, REGRESSION)
    assert reg.load_model(REGRESSION, stage=None, version=version, repo=str(root)).profile is None
