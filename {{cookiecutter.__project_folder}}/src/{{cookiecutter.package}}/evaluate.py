"""The `evaluate` stage: metrics and a confusion plot on the held-out split."""

from sklearn.metrics import accuracy_score, f1_score
from versioned_ml_registry.bundle import load_model_file, predict, write_json

from .data import PREPARED, labels, signature
from .files import read_csv, read_params, write_csv
from .train import MODEL_FILE

METRICS_FILE = "metrics.json"
CONFUSION_FILE = "plots/confusion.csv"


def score(actual: list[str], predicted: list[str]) -> dict:
    return {
        "accuracy": round(float(accuracy_score(actual, predicted)), 4),
        "f1_macro": round(float(f1_score(actual, predicted, average="macro")), 4),
    }


def main() -> None:
    data = read_params()["data"]
    rows = read_csv(f"{PREPARED}/test.csv")
    model = load_model_file(MODEL_FILE)
    predicted = predict(model, signature(data, list(model.classes_)), rows)
    actual = labels(rows, data["target"])
    write_json(METRICS_FILE, score(actual, predicted))
    pairs = [{"actual": a, "predicted": p} for a, p in zip(actual, predicted)]
    write_csv(CONFUSION_FILE, pairs, ["actual", "predicted"])


if __name__ == "__main__":
    main()
