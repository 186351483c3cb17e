"""The `package` stage: write the model bundle models/<family>/ (see docs/BUNDLE.md)."""

import platform
import shutil
from importlib.metadata import version
from pathlib import Path

from .bundle import load_model_file, predict
from .data import PREPARED, feature_matrix
from .evaluate import METRICS_FILE
from .files import md5_file, read_csv, read_json, read_params, write_json
from .train import MODEL_FILE

PREPROCESSING_CODE = [f"src/{__package__}/features.py", f"src/{__package__}/bundle.py"]
SERVING_PACKAGES = ["scikit-learn", "skops", "numpy"]


def signature(features: list[str], target: str, labels: list[str]) -> dict:
    return {
        "inputs": [{"name": name, "type": "float", "required": True} for name in features],
        "output": {"name": target, "type": "label", "labels": sorted(labels)},
    }


def fingerprint(model: dict, probe: list[dict], features: list[str]) -> dict:
    records = [{name: float(row[name]) for name in features} for row in probe]
    return {"probe": records, "predictions": predict(model, feature_matrix(probe, features))}


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


def write_bundle(directory: str, model_file: str, params: dict, metrics: dict, probe: list[dict]) -> None:
    data = params["data"]
    model = load_model_file(model_file)
    out = Path(directory)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copyfile(model_file, out / "model.skops")
    labels = [str(label) for label in model["label_encoder"].classes_]
    write_json(out / "signature.json", signature(data["features"], data["target"], labels))
    write_json(out / "fingerprint.json", fingerprint(model, probe, data["features"]))
    write_json(out / "card.json", card(params, metrics))


def main() -> None:
    params = read_params()
    probe = read_csv(f"{PREPARED}/probe.csv")
    write_bundle(f"models/{params['family']}", MODEL_FILE, params, read_json(METRICS_FILE), probe)


if __name__ == "__main__":
    main()
