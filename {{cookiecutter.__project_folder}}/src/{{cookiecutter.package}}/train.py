"""The `train` stage of one family: fit the preprocessing and the estimator, as one
scikit-learn Pipeline, on the family's training split.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.train FAMILY
"""

import sys

from sklearn.pipeline import Pipeline
from versioned_ml_registry.bundle import save_model

from .data import DataError, features, matrix, targets, task
from .features import preprocessor
from .files import family_params, model_file, prepared_dir, read_csv

# conf/model/<name>.yaml: name -> (task, estimator class path)
MODELS = {
    "logistic_regression": ("classification", "sklearn.linear_model.LogisticRegression"),
    "random_forest": ("classification", "sklearn.ensemble.RandomForestClassifier"),
    "ridge": ("regression", "sklearn.linear_model.Ridge"),
    "random_forest_regressor": ("regression", "sklearn.ensemble.RandomForestRegressor"),
}


def build_estimator(model: dict, family_task: str, seed: int):
    """The estimator conf/model/<name>.yaml describes; every key but ``name`` is passed on."""
    import importlib

    name = model.get("name")
    if name not in MODELS:
        raise DataError(f"unknown model {name!r}: use one of {', '.join(MODELS)} (conf/model/)")
    model_task, path = MODELS[name]
    if model_task != family_task:
        usable = ", ".join(n for n, (t, _) in MODELS.items() if t == family_task)
        raise DataError(f"model {name!r} is for {model_task}, the family's task is {family_task}: use {usable}")
    module, _, cls = path.rpartition(".")
    settings = {key: value for key, value in model.items() if key != "name"}
    return getattr(importlib.import_module(module), cls)(random_state=seed, **settings)


def fit(conf: dict, rows: list[dict]) -> Pipeline:
    """The fitted pipeline: raw rows' matrix in, labels or numbers out."""
    steps = [
        ("preprocess", preprocessor(features(conf), conf["preprocessing"])),
        ("estimator", build_estimator(conf["model"], task(conf), conf["train"]["seed"])),
    ]
    return Pipeline(steps).fit(matrix(conf, rows), targets(conf, rows))


def main(family: str) -> None:
    conf = family_params(family)
    save_model(fit(conf, read_csv(f"{prepared_dir(family)}/train.csv")), model_file(family))


if __name__ == "__main__":
    main(sys.argv[1])
