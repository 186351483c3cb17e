"""The `package` stage of one family: write its bundle, models/<family>/, through the
registry's bundle contract (see docs/BUNDLE.md).

The card's text (description, intended use, limitations, owners) is the family conf's
``card:``; the stage adds the data and code md5s, the params, the metrics and the serving
requirements.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.package FAMILY
"""

import platform
import sys
from importlib.metadata import version

from versioned_ml_registry.bundle import load_model_file, md5_file, write_bundle

from .data import signature, task
from .files import bundle_dir, family_params, metrics_file, model_file, prepared_dir, read_csv, read_json

# the code that turns raw records into the model's input, recorded in the card
PREPROCESSING_CODE = [f"src/{__package__}/features.py", f"src/{__package__}/data.py"]
SERVING_PACKAGES = ["scikit-learn", "skops", "numpy"]
CONFIGURATION = ("task", "data", "preprocessing", "model", "train")


def requirements() -> dict:
    python = ".".join(platform.python_version_tuple()[:2])
    return {"python": python, "packages": {name: version(name) for name in SERVING_PACKAGES}}


def card(family: str, conf: dict, metrics: dict) -> dict:
    raw = conf["data"]["raw"]
    return {
        "family": family,
        **(conf.get("card") or {}),
        "task": task(conf),
        "data_version": {raw: md5_file(raw)},
        "preprocessing": {path: md5_file(path) for path in PREPROCESSING_CODE},
        "params": {key: conf[key] for key in CONFIGURATION},
        "metrics": metrics,
        "requirements": requirements(),
    }


def labels_of(model, conf: dict) -> list[str] | None:
    return [str(label) for label in model.classes_] if task(conf) == "classification" else None


def main(family: str) -> None:
    conf = family_params(family)
    model = load_model_file(model_file(family))
    write_bundle(bundle_dir(family), model_file(family), signature(conf, labels_of(model, conf)),
                 read_csv(f"{prepared_dir(family)}/probe.csv"), card(family, conf, read_json(metrics_file(family))))


if __name__ == "__main__":
    main(sys.argv[1])
