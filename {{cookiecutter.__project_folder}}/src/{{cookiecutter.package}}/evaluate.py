"""The `evaluate` stage of one family: its metrics and its plot on the held-out split.

Classification: accuracy, macro F1, ROC AUC (binary only); plot: the confusion matrix.
Regression: RMSE, MAE, R²; plot: predicted against actual. The family conf's ``metrics``
list chooses among them. Predictions (and, for ROC AUC, probabilities) go through the bundle
contract's ``predict`` and ``predict_proba``, exactly as serving calls the model, whatever its
flavor.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.evaluate FAMILY
"""

import math

from versioned_ml_registry.bundle import labels_of, load_model_file, predict, predict_proba

from .data import targets, task, trusted_types
from .errors import ProjectError, run_stage
from .files import (family_params, metrics_file, model_dir, plot_file, prepared_dir, read_json, require_file,
                    trained_signature, write_csv, write_json)
from .tables import read_rows

METRICS = {
    "classification": ("accuracy", "f1_macro", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}


def wanted_metrics(conf: dict) -> list[str]:
    family_task = task(conf)
    names = list(conf.get("metrics") or METRICS[family_task])
    unknown = [name for name in names if name not in METRICS[family_task]]
    if unknown:
        raise ProjectError(f"metrics {', '.join(unknown)} do not apply to {family_task}: "
                           f"choose among {', '.join(METRICS[family_task])}")
    return names


def classification_scores(names, model, signature, rows, actual, predicted) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    scores = {}
    if "accuracy" in names:
        scores["accuracy"] = accuracy_score(actual, predicted)
    if "f1_macro" in names:
        scores["f1_macro"] = f1_score(actual, predicted, average="macro")
    if "roc_auc" in names:
        classes = labels_of(signature)
        if len(classes) != 2:
            raise ProjectError(f"roc_auc needs two classes, the family has {len(classes)}: drop it from metrics")
        if len(set(actual)) < 2:
            raise ProjectError("roc_auc needs both classes in the test split: raise data.test_size")
        positive = [row[1] for row in predict_proba(model, signature, rows)]
        scores["roc_auc"] = roc_auc_score([label == classes[1] for label in actual], positive)
    return scores


def regression_scores(names, actual, predicted) -> dict:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    scores = {}
    if "rmse" in names:
        scores["rmse"] = math.sqrt(mean_squared_error(actual, predicted))
    if "mae" in names:
        scores["mae"] = mean_absolute_error(actual, predicted)
    if "r2" in names:
        scores["r2"] = r2_score(actual, predicted)
    return scores


def evaluate(conf: dict, model, signature: dict, rows: list[dict]) -> tuple[dict, list[dict]]:
    """(metrics, plot rows) of ``model``, trained for ``signature``, on ``rows``."""
    names = wanted_metrics(conf)
    predicted = predict(model, signature, rows)
    actual = targets(conf, rows)
    if task(conf) == "classification":
        scores = classification_scores(names, model, signature, rows, actual, predicted)
    else:
        scores = regression_scores(names, actual, predicted)
    pairs = [{"actual": a, "predicted": p} for a, p in zip(actual, predicted)]
    return {name: round(float(scores[name]), 4) for name in names}, pairs


def main(family: str) -> None:
    conf = family_params(family)
    folder = require_file(model_dir(family), folder=True)
    signature = read_json(trained_signature(family))
    model = load_model_file(folder, trusted_types(conf), signature)
    metrics, pairs = evaluate(conf, model, signature, read_rows(f"{prepared_dir(family)}/test.csv"))
    write_json(metrics_file(family), metrics)
    write_csv(plot_file(family, task(conf)), pairs, ["actual", "predicted"])


if __name__ == "__main__":
    run_stage(main)
