"""The `train` stage: fit the preprocessing and the estimator, as one pipeline, on the training split."""

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from versioned_ml_registry.bundle import save_model

from .data import PREPARED, feature_matrix, labels
from .features import preprocessing_steps
from .files import read_csv, read_params

MODEL_FILE = "build/model.skops"


def build_estimator(model: dict, seed: int):
    settings = {key: value for key, value in model.items() if key != "name"}
    if model["name"] == "logistic_regression":
        return LogisticRegression(random_state=seed, **settings)
    if model["name"] == "random_forest":
        return RandomForestClassifier(random_state=seed, **settings)
    raise SystemExit(f"error: unknown model.name {model['name']!r}: use logistic_regression or random_forest")


def fit(rows: list[dict], params: dict) -> Pipeline:
    """The fitted pipeline: it takes raw rows' matrix and predicts labels directly."""
    data = params["data"]
    steps = preprocessing_steps(params["preprocessing"])
    steps.append(("estimator", build_estimator(params["model"], params["train"]["seed"])))
    return Pipeline(steps).fit(feature_matrix(rows, data), labels(rows, data["target"]))


def main() -> None:
    params = read_params()
    save_model(fit(read_csv(f"{PREPARED}/train.csv"), params), MODEL_FILE)


if __name__ == "__main__":
    main()
