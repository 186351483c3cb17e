"""Model flavors behind the one bundle contract: scikit-learn (skops), XGBoost and LightGBM in
their native formats, with the preprocessing as skops; the reviewed skops types; probabilities;
and what the bump evidence makes of them. Real estimators, real files, no pickle."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import skops.io as sio
from sklearn import ensemble, linear_model, naive_bayes, neighbors, neural_network, svm, tree
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from versioned_ml_registry.bundle import contract
from versioned_ml_registry.bundle.reading import Bundle
from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.rules.bump import Bump
from versioned_ml_registry.rules.evidence import compare
from versioned_ml_registry.rules.signature import changes

LABELS = ["p", "q", "r"]
SIGNATURE = contract.make_signature("classification", [
    {"name": "size", "type": "numeric", "required": False},
    {"name": "colour", "type": "categorical"},
    {"name": "note", "type": "text"}], "kind", LABELS)
REGRESSION = contract.make_signature("regression", SIGNATURE["inputs"], "price")


def records(n=90, seed=0):
    rng = np.random.default_rng(seed)
    words = ["red apple", "green pear", "ripe plum", "sour lemon", "sweet fig tree"]
    return [{"size": None if i % 11 == 0 else float(rng.normal(5, 2)), "colour": str(rng.choice(["x", "y", "z"])),
             "note": f"{rng.choice(words)} {rng.choice(words)}"} for i in range(n)]


ROWS = records()
X = contract.records_to_matrix(SIGNATURE, ROWS)
Y_LABELS = np.array([LABELS[(int(r["size"] or 0) + len(r["note"])) % 3] for r in ROWS])
Y_INDEX = np.array([LABELS.index(label) for label in Y_LABELS])
Y_NUMBER = np.array([(r["size"] or 5.0) * 3 + len(r["note"]) for r in ROWS])


def preprocessing():
    return ColumnTransformer([
        ("numeric", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), [0]),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), [1]),
        ("text", TfidfVectorizer(), 2)], sparse_threshold=0)


CLASSIFIERS = [linear_model.LogisticRegression(max_iter=300), ensemble.RandomForestClassifier(n_estimators=5),
               ensemble.HistGradientBoostingClassifier(max_iter=5), ensemble.GradientBoostingClassifier(n_estimators=5),
               ensemble.ExtraTreesClassifier(n_estimators=5), tree.DecisionTreeClassifier(), svm.SVC(),
               neighbors.KNeighborsClassifier(), neighbors.KNeighborsClassifier(algorithm="ball_tree"),
               naive_bayes.GaussianNB(), neural_network.MLPClassifier(max_iter=30),
               neural_network.MLPClassifier(max_iter=30, solver="sgd"), linear_model.SGDClassifier(),
               linear_model.RidgeClassifier(), ensemble.AdaBoostClassifier(n_estimators=5)]
REGRESSORS = [linear_model.Ridge(), linear_model.Lasso(), linear_model.ElasticNet(), linear_model.LinearRegression(),
              ensemble.RandomForestRegressor(n_estimators=5), ensemble.HistGradientBoostingRegressor(max_iter=5),
              ensemble.GradientBoostingRegressor(n_estimators=5), tree.DecisionTreeRegressor(), svm.SVR(),
              neighbors.KNeighborsRegressor(), neural_network.MLPRegressor(max_iter=30)]


def fitted(estimator, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Pipeline([("preprocess", preprocessing()), ("model", estimator)]).fit(X, target)


@pytest.mark.parametrize("estimator", CLASSIFIERS + REGRESSORS, ids=lambda e: type(e).__name__)
def test_the_reviewed_list_covers_scikit_learns_own_estimators(estimator, tmp_path):
    target = Y_LABELS if estimator in CLASSIFIERS else Y_NUMBER
    model = fitted(estimator, target)
    assert set(sio.get_untrusted_types(data=sio.dumps(model))) <= set(contract.TRUSTED_TYPES)
    contract.save_model(model, tmp_path / "model.skops")
    assert contract.untrusted_types(tmp_path / "model.skops") == []
    loaded = contract.load_model_file(tmp_path / "model.skops")
    signature = SIGNATURE if estimator in CLASSIFIERS else REGRESSION
    assert contract.predict(loaded, signature, ROWS) == contract.predict(model, signature, ROWS)


def test_a_type_outside_the_list_is_refused_until_the_project_trusts_it(tmp_path):
    numbers = np.arange(len(Y_NUMBER), dtype=float).reshape(-1, 1)
    model = Pipeline([("abs", FunctionTransformer(abs)), ("model", linear_model.Ridge())]).fit(
        numbers, Y_NUMBER)  # builtins.abs: not a type skops trusts
    folder = tmp_path / "model"
    contract.save_model_dir(model, folder)
    with pytest.raises(RegistryError, match=r"cannot load .*safely: .*builtins\.abs.*untrusted-types"):
        contract.load_model_file(folder)
    assert contract.untrusted_types(folder) == ["builtins.abs"]
    assert contract.load_model_file(folder, trusted_types=["builtins.abs"]) is not None
    p = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "untrusted-types", str(folder)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "  - builtins.abs" in p.stdout and "trusted_types" in p.stdout
    missing = subprocess.run([sys.executable, "-m", "versioned_ml_registry", "untrusted-types", str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"error: no model file or folder at {tmp_path / 'nope'}"]


BOOSTERS = {
    "xgboost": (lambda: __import__("xgboost").XGBClassifier(n_estimators=8, max_depth=3),
                lambda: __import__("xgboost").XGBRegressor(n_estimators=8, max_depth=3), "model.ubj"),
    "lightgbm": (lambda: __import__("lightgbm").LGBMClassifier(n_estimators=8, min_child_samples=3, verbose=-1),
                 lambda: __import__("lightgbm").LGBMRegressor(n_estimators=8, min_child_samples=3, verbose=-1),
                 "model.txt"),
}


@pytest.mark.parametrize("flavor", sorted(BOOSTERS))
def test_boosters_save_natively_and_answer_like_the_fitted_pipeline(flavor, tmp_path):
    make_classifier, make_regressor, native = BOOSTERS[flavor]
    classifier = fitted(make_classifier(), Y_INDEX)  # the target encoded in the signature's label order
    folder = tmp_path / "classifier"
    meta = contract.save_model_dir(classifier, folder, SIGNATURE)
    assert meta["flavor"] == flavor and meta["estimator"].startswith(f"{flavor}.")
    assert sorted(p.name for p in folder.iterdir()) == sorted(["flavor.json", "preprocess.skops", native])
    assert set(sio.get_untrusted_types(file=folder / "preprocess.skops")) <= set(contract.TRUSTED_TYPES)
    loaded = contract.load_model_file(folder, signature=SIGNATURE)
    expected = [LABELS[i] for i in classifier.predict(X)]
    assert contract.predict(loaded, SIGNATURE, ROWS) == expected
    probabilities = np.array(contract.predict_proba(loaded, SIGNATURE, ROWS))
    assert np.allclose(probabilities, classifier.predict_proba(X), atol=1e-6)
    assert np.allclose(probabilities.sum(axis=1), 1.0)

    regressor = fitted(make_regressor(), Y_NUMBER)
    contract.save_model_dir(regressor, tmp_path / "regressor")
    loaded = contract.load_model_file(tmp_path / "regressor")
    assert np.allclose(contract.predict(loaded, REGRESSION, ROWS), regressor.predict(X), rtol=1e-5)
    assert not contract.has_probabilities(loaded)

    again = tmp_path / "again"
    contract.save_model_dir(classifier, again, SIGNATURE)
    assert (again / native).read_bytes() == (folder / native).read_bytes()  # same model, same bytes


def test_a_booster_trained_on_other_classes_than_the_signature_is_refused(tmp_path):
    import xgboost

    model = fitted(xgboost.XGBClassifier(n_estimators=2), (Y_INDEX == 0).astype(int))  # 2 classes, 3 labels
    with pytest.raises(RegistryError, match="encode the target in the signature's label order"):
        contract.save_model_dir(model, tmp_path / "m", SIGNATURE)


def test_a_bundle_records_its_flavor_and_probabilities(tmp_path):
    import lightgbm

    model = fitted(lightgbm.LGBMClassifier(n_estimators=5, min_child_samples=3, verbose=-1), Y_LABELS)
    contract.save_model_dir(model, tmp_path / "model", SIGNATURE)
    contract.write_bundle(tmp_path / "bundle", tmp_path / "model", SIGNATURE, ROWS[:10], {"metrics": {}})
    flavor = json.loads((tmp_path / "bundle" / "flavor.json").read_text())
    assert flavor == {"flavor": "lightgbm", "estimator": "lightgbm.sklearn.LGBMClassifier",
                      "files": ["model.txt", "preprocess.skops"], "trusted_types": []}
    signature = json.loads((tmp_path / "bundle" / "signature.json").read_text())
    assert signature["output"]["probabilities"] is True
    fingerprint = json.loads((tmp_path / "bundle" / "fingerprint.json").read_text())
    assert len(fingerprint["probabilities"]) == 10 and all(len(row) == 3 for row in fingerprint["probabilities"])

    svc = fitted(svm.SVC(), Y_LABELS)  # no probabilities without probability=True
    contract.save_model(svc, tmp_path / "svc.skops")
    contract.write_bundle(tmp_path / "svc", tmp_path / "svc.skops", SIGNATURE, ROWS[:10], {})
    assert json.loads((tmp_path / "svc" / "signature.json").read_text())["output"]["probabilities"] is False
    assert "probabilities" not in json.loads((tmp_path / "svc" / "fingerprint.json").read_text())
    with pytest.raises(RegistryError, match="no class probabilities"):
        contract.predict_proba(contract.load_model_file(tmp_path / "svc" / "model.skops"), SIGNATURE, ROWS[:1])


def bundle(probabilities, predictions=("p", "q")):
    return Bundle(path="models/m", signature=SIGNATURE, card={},
                  fingerprint={"probe": [{"size": 1.0}, {"size": 2.0}], "predictions": list(predictions),
                               "probabilities": probabilities},
                  model_md5=json.dumps(probabilities), files={})


def test_a_probability_shift_beyond_the_tolerance_is_a_behaviour_change():
    old = bundle([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    close = bundle([[0.65, 0.25, 0.1], [0.2, 0.7, 0.1]])
    far = bundle([[0.45, 0.4, 0.15], [0.2, 0.7, 0.1]])  # same labels, p moved by 0.25
    assert compare(old, close)[0] is Bump.PATCH
    bump, reasons = compare(old, far)
    assert bump is Bump.MINOR and "probe agreement 50.0% < 99.0%" in reasons
    assert compare(old, far, probability_tolerance=0.3)[0] is Bump.PATCH


def test_losing_probabilities_breaks_callers():
    with_probs = {**SIGNATURE, "output": {**SIGNATURE["output"], "probabilities": True}}
    without = {**SIGNATURE, "output": {**SIGNATURE["output"], "probabilities": False}}
    assert changes(with_probs, without)[0] == ["class probabilities no longer available"]
    assert changes(SIGNATURE, with_probs) == ([], ["class probabilities available"])
    text_to_numeric = {**SIGNATURE, "inputs": [*SIGNATURE["inputs"][:2], {"name": "note", "type": "numeric", "required": True}]}
    assert changes(SIGNATURE, text_to_numeric)[0] == ['input "note" type text → numeric']
