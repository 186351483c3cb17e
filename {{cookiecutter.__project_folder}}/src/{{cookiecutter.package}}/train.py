"""The `train` stage: fit preprocessing + estimator + label encoder on the training split."""

from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder

from .bundle import save_model
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


def fit(X: np.ndarray, y: list[str], params: dict) -> dict:
    encoder = LabelEncoder().fit(y)
    steps = preprocessing_steps(params["preprocessing"])
    steps.append(("estimator", build_estimator(params["model"], params["train"]["seed"])))
    pipeline = Pipeline(steps).fit(X, encoder.transform(y))
    return {"pipeline": pipeline, "label_encoder": encoder}


def main() -> None:
    params = read_params()
    rows = read_csv(f"{PREPARED}/train.csv")
    X, y = feature_matrix(rows, params["data"]["features"]), labels(rows, params["data"]["target"])
    Path(MODEL_FILE).parent.mkdir(parents=True, exist_ok=True)
    save_model(fit(X, y, params), MODEL_FILE)


if __name__ == "__main__":
    main()
