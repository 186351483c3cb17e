"""The `package` stage: write the model bundle models/<family>/ through the registry's bundle
contract (see docs/BUNDLE.md)."""

import platform
from importlib.metadata import version
from pathlib import Path

from versioned_ml_registry.bundle import load_model_file, md5_file, write_bundle

from .data import PREPARED, signature
from .evaluate import METRICS_FILE
from .files import read_csv, read_json, read_params
from .train import MODEL_FILE

PREPROCESSING_CODE = [f"src/{__package__}/features.py", f"src/{__package__}/data.py"]
SERVING_PACKAGES = ["scikit-learn", "skops", "numpy"]


def requirements() -> dict:
    python = ".".join(platform.python_version_tuple()[:2])
    return {"python": python, "packages": {name: version(name) for name in SERVING_PACKAGES}}


def card(params: dict, metrics: dict) -> dict:
    data = params["data"]
    return {
        "family": params["family"],
        **params["card"],
        "data_version": {data["raw"]: md5_file(data["raw"])},
        "preprocessing": {path: md5_file(path) for path in PREPROCESSING_CODE if Path(path).exists()},
        "params": {key: params[key] for key in ("data", "preprocessing", "model", "train")},
        "metrics": metrics,
        "requirements": requirements(),
    }


def main() -> None:
    params = read_params()
    labels = [str(label) for label in load_model_file(MODEL_FILE).classes_]
    write_bundle(f"models/{params['family']}", MODEL_FILE, signature(params["data"], labels),
                 read_csv(f"{PREPARED}/probe.csv"), card(params, read_json(METRICS_FILE)))


if __name__ == "__main__":
    main()
