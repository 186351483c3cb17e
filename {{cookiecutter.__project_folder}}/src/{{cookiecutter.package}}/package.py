"""The `package` stage of one family: write its bundle, models/<family>/, through the
registry's bundle contract (see docs/BUNDLE.md): the model's files in its flavor's format,
flavor.json (with the family's reviewed ``trusted_types``), the signature, the behaviour
fingerprint on the probe set, the card, and the profile: the training split's inputs and the
model's predictions on the test split.

The card's text (description, intended use, limitations, owners) is the family conf's
``card:``; the stage adds the data and code md5s, the params, the metrics, the flavor and the
serving requirements.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.package FAMILY
"""

import platform
from importlib.metadata import version

from versioned_ml_registry.bundle import build_profile, load_model_file, md5_file, predict, write_bundle

from .data import setting, task, trusted_types
from .errors import run_stage
from .files import (bundle_dir, family_params, metrics_file, model_dir, prepared_dir, read_json, require_file,
                    trained_signature)
from .tables import read_rows

# the code that turns raw records into the model's input, recorded in the card
PREPROCESSING_CODE = [f"src/{__package__}/features.py", f"src/{__package__}/data.py"]
SERVING_PACKAGES = ["scikit-learn", "skops", "numpy"]
# a flavor's own library, which serving needs beside them
FLAVOR_PACKAGES = {"xgboost": "xgboost", "lightgbm": "lightgbm"}
CONFIGURATION = ("task", "data", "preprocessing", "model", "train")


def requirements(flavor: str) -> dict:
    python = ".".join(platform.python_version_tuple()[:2])
    names = SERVING_PACKAGES + ([FLAVOR_PACKAGES[flavor]] if flavor in FLAVOR_PACKAGES else [])
    return {"python": python, "packages": {name: version(name) for name in names}}


def card(family: str, conf: dict, metrics: dict, flavor: dict) -> dict:
    raw = require_file(setting(conf, "data.raw"))
    return {
        "family": family,
        **(conf.get("card") or {}),
        "task": task(conf),
        "data_version": {raw: md5_file(raw)},
        "preprocessing": {path: md5_file(path) for path in PREPROCESSING_CODE},
        "params": {key: setting(conf, key) for key in CONFIGURATION},
        "metrics": metrics,
        "model": {"flavor": flavor.get("flavor"), "estimator": flavor.get("estimator")},
        "requirements": requirements(flavor.get("flavor")),
    }


def profile(conf: dict, folder: str, signature: dict, prepared: str) -> dict:
    """The training profile: the training split's inputs, and the model's predictions on the test split."""
    model = load_model_file(folder, trusted_types(conf), signature)
    predictions = predict(model, signature, read_rows(f"{prepared}/test.csv"))
    return build_profile(read_rows(f"{prepared}/train.csv"), signature, predictions, task(conf))


def main(family: str) -> None:
    conf = family_params(family)
    folder = require_file(model_dir(family), folder=True)
    flavor = read_json(f"{folder}/flavor.json")
    signature = read_json(trained_signature(family))
    prepared = prepared_dir(family)
    write_bundle(bundle_dir(family), folder, signature, read_rows(f"{prepared}/probe.csv"),
                 card(family, conf, read_json(metrics_file(family)), flavor), trusted_types(conf),
                 profile(conf, folder, signature, prepared))


if __name__ == "__main__":
    run_stage(main)
