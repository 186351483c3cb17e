"""A model is configuration: every conf/model/ file builds its estimator through hydra's
`_target_`, a classifier or a regressor, and the family's seed reaches the estimator only
when it takes a random_state."""

import re
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package }}.errors import ProjectError
from {{ cookiecutter.package }}.estimators import build_estimator, instantiate, kind_of
from test_config import ROOT, extra_missing

MODEL_CONFS = sorted((ROOT / "conf" / "model").glob("*.yaml"))


@pytest.mark.parametrize("path", MODEL_CONFS, ids=[path.stem for path in MODEL_CONFS])
def test_each_model_conf_builds_an_estimator_of_one_task(path: Path):
    spec = {"name": path.stem, **yaml.safe_load(path.read_text())}
    if extra_missing(spec):
        pytest.skip(f"the {extra_missing(spec)} extra is not installed")
    kind = kind_of(instantiate({k: v for k, v in spec.items() if k != "name"}, str(path)))
    task = {"classifier": "classification", "regressor": "regression"}[kind]
    estimator = build_estimator(spec, task, 7, str(path))
    assert type(estimator).__name__ == spec["_target_"].rsplit(".", 1)[1]
    if "random_state" in estimator.get_params(deep=False):
        assert estimator.get_params()["random_state"] == 7
    other = "regression" if task == "classification" else "classification"
    with pytest.raises(ProjectError, match=f"{re.escape(str(path))}: .* is a {kind}, the family's task is {other}"):
        build_estimator(spec, other, 7, str(path))


def test_the_seed_is_passed_only_to_an_estimator_that_takes_one():
    knn = build_estimator({"_target_": "sklearn.neighbors.KNeighborsClassifier", "n_neighbors": 3},
                          "classification", 7, "conf/model/knn.yaml")
    assert "random_state" not in knn.get_params() and knn.n_neighbors == 3
    forest = build_estimator({"_target_": "sklearn.ensemble.RandomForestRegressor"}, "regression", 7, "x.yaml")
    assert forest.random_state == 7


def test_a_random_state_in_the_conf_wins_over_the_seed():
    forest = build_estimator({"_target_": "sklearn.ensemble.RandomForestClassifier", "random_state": 3},
                             "classification", 7, "x.yaml")
    assert forest.random_state == 3


def test_any_importable_scikit_learn_compatible_estimator_works():
    svc = build_estimator({"name": "svc", "_target_": "sklearn.svm.SVC", "probability": True, "C": 2.0},
                          "classification", 0, "conf/model/svc.yaml")
    assert svc.C == 2.0 and svc.probability is True and svc.random_state == 0


@pytest.mark.parametrize("spec, task, message", [
    ({"name": "m", "_target_": "sklearn.ensemble.NoSuchForest"}, "classification",
     "conf/model/m.yaml: _target_ 'sklearn.ensemble.NoSuchForest' cannot be imported"),
    ({"name": "m", "_target_": "nosuchlibrary.Model"}, "classification",
     "conf/model/m.yaml: _target_ 'nosuchlibrary.Model' cannot be imported"),
    ({"name": "m", "_target_": "sklearn.linear_model.LinearRegression"}, "classification",
     "conf/model/m.yaml: LinearRegression is a regressor, the family's task is classification"),
    ({"name": "m", "_target_": "sklearn.cluster.KMeans"}, "classification",
     "conf/model/m.yaml: KMeans is neither a classifier nor a regressor"),
    ({"name": "m"}, "classification", "conf/model/m.yaml has no _target_"),
])
def test_a_bad_model_conf_is_one_line_naming_its_file(spec, task, message):
    with pytest.raises(ProjectError) as refused:
        build_estimator(spec, task, 0, f"conf/model/{spec['name']}.yaml")
    assert message in str(refused.value) and "\n" not in str(refused.value)
