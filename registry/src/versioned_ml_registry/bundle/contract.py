"""The model bundle contract: the files of ``models/<family>/`` and the one way to save, load
and call a bundled model.

A project's ``package`` stage writes bundles through this module; the registry reads them
through it. docs/BUNDLE.md in a generated repository documents the same contract.

| file               | holds                                                             |
| ------------------ | ----------------------------------------------------------------- |
| the model files    | the fitted model in its flavor's safe format (:mod:`.flavors`):   |
|                    | ``model.skops`` for scikit-learn; the preprocessing as skops and  |
|                    | the booster in its native format for XGBoost and LightGBM         |
| ``flavor.json``    | the flavor, the estimator class, the model files, and the skops   |
|                    | types the project reviewed beyond the registry's list             |
| ``signature.json`` | task, inputs (name, numeric/categorical/text, required), output   |
|                    | (labels, and whether class probabilities exist)                   |
| ``fingerprint.json`` | predictions (and probabilities) on a fixed probe set of records |
| ``card.json``      | data and code md5s, params, metrics, serving requirements         |
| ``profile.json``   | the training profile (:mod:`.profile`): per input, missing rate,  |
|                    | numeric range and quantiles, category frequencies; the prediction |
|                    | distribution on the test split                                    |

A bundle without ``flavor.json`` (written before flavors) is a scikit-learn bundle; one without
``profile.json`` (written before profiles) is valid, and its readers get no profile.

numpy, scikit-learn and skops are imported only by the functions that need them (the
``bundle`` extra), so reading a signature costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from ..errors import RegistryError
from . import flavors

MODEL_FILE = "model.skops"
FLAVOR_FILE = "flavor.json"
SIGNATURE_FILE = "signature.json"
FINGERPRINT_FILE = "fingerprint.json"
CARD_FILE = "card.json"
PROFILE_FILE = "profile.json"
JSON_FILES = (SIGNATURE_FILE, FINGERPRINT_FILE, CARD_FILE)  # every bundle has these
# and these when written by a newer registry: older bundles lack them (readers get None)
OPTIONAL_JSON_FILES = (PROFILE_FILE,)
FILES = (MODEL_FILE, *JSON_FILES)  # the files of a scikit-learn bundle

TASKS = ("classification", "regression")
NUMERIC, CATEGORICAL, TEXT = "numeric", "categorical", "text"
KINDS = (NUMERIC, CATEGORICAL, TEXT)
OUTPUT_TYPES = {"classification": "label", "regression": "number"}
# Older bundles wrote the input type as a Python-ish name.
_TYPE_ALIASES = {"float": NUMERIC, "int": NUMERIC, "integer": NUMERIC, "number": NUMERIC,
                 "double": NUMERIC, "string": CATEGORICAL, "str": CATEGORICAL, "category": CATEGORICAL}

# Types outside skops' defaults that scikit-learn's own estimators and transformers need,
# reviewed by hand against skops.io.get_untrusted_types over every estimator the tests fit
# (registry/tests/test_flavors.py): plain data holders of fitted trees, neighbour indexes and
# optimizers. Loading trusts nothing else but the types a version's tag lists (reviewed per
# family by the project), so a model file carrying any other type is refused. The list lives in
# code, never in the file it guards.
TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
]


# ---- md5: content addresses, as DVC computes them ---------------------------------------

def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - a content address, as DVC uses it


def md5_file(path) -> str:
    digest = hashlib.md5()  # noqa: S324
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def json_object(raw: bytes, where: str) -> dict:
    """A bundle's JSON file as an object; one-line RegistryError naming ``where`` otherwise."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RegistryError(f"{where} must hold a JSON object")
    return value


# ---- the signature ------------------------------------------------------------------------

def input_kind(field: dict) -> str:
    """``numeric``, ``categorical`` or ``text`` for an input of a signature (legacy names mapped)."""
    kind = str(field.get("type", NUMERIC)).lower()
    return _TYPE_ALIASES.get(kind, kind)


def make_signature(task: str, inputs: list[dict], target: str, labels: list | None = None) -> dict:
    """A signature.json document. ``inputs``: ``{"name", "type", "required"}`` in the column
    order the model expects; ``labels`` for classification."""
    if task not in TASKS:
        raise RegistryError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    fields = [{"name": str(f["name"]), "type": input_kind(f), "required": bool(f.get("required", True))}
              for f in inputs]
    output = {"name": target, "type": OUTPUT_TYPES[task]}
    if task == "classification":
        output["labels"] = sorted(str(label) for label in labels or [])
    return validate_signature({"task": task, "inputs": fields, "output": output})


def validate_signature(signature, where: str = "signature.json") -> dict:
    """``signature`` if it follows the schema, else one-line RegistryError."""
    if not isinstance(signature, dict):
        raise RegistryError(f"{where} must hold a JSON object")
    inputs = signature.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise RegistryError(f"{where}: inputs must be a non-empty list")
    names = set()
    for index, field in enumerate(inputs):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str) or not field["name"]:
            raise RegistryError(f"{where}: input {index} needs a name")
        if field["name"] in names:
            raise RegistryError(f'{where}: input "{field["name"]}" is listed twice')
        names.add(field["name"])
        if input_kind(field) not in KINDS:
            raise RegistryError(f'{where}: input "{field["name"]}" has type {field.get("type")!r}: '
                                f"expected {', '.join(KINDS)}")
    output = signature.get("output")
    if not isinstance(output, dict):
        raise RegistryError(f"{where}: output must be an object")
    task = task_of(signature)
    if task == "classification" and not isinstance(output.get("labels"), list):
        raise RegistryError(f"{where}: a classification output lists its labels")
    return signature


def task_of(signature: dict) -> str:
    """The task a signature declares (bundles before the ``task`` key were classifiers)."""
    task = signature.get("task")
    if task is None:
        task = "regression" if (signature.get("output") or {}).get("type") == "number" else "classification"
    if task not in TASKS:
        raise RegistryError(f"signature task {task!r} is not one of {', '.join(TASKS)}")
    return task


# ---- records -> the model's input -----------------------------------------------------------

def is_missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _numeric(name: str, value, index: int) -> float:
    if is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RegistryError(f'record {index}: field "{name}" must be a number, got {str(value)[:40]!r}') from None


def records_to_matrix(signature: dict, records: list):
    """The 2-D array the bundled model's ``predict`` takes: one row per record, columns in
    signature order; numbers as floats and missing values as NaN, categories as strings
    (missing: None). The fitted pipeline does all preprocessing from there."""
    import numpy as np

    inputs = signature["inputs"]
    kinds = [input_kind(f) for f in inputs]
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RegistryError(f"record {index}: expected an object of input fields")
        row = []
        for field, kind in zip(inputs, kinds):
            value = record.get(field["name"])
            if is_missing(value) and field.get("required", True) and field["name"] not in record:
                raise RegistryError(f'record {index}: missing required field "{field["name"]}"')
            if kind == NUMERIC:
                row.append(_numeric(field["name"], value, index))
            else:
                row.append(None if is_missing(value) else str(value))
        rows.append(row)
    if all(kind == NUMERIC for kind in kinds):
        return np.array(rows, dtype=float).reshape(len(rows), len(inputs))
    return np.array(rows, dtype=object).reshape(len(rows), len(inputs))


def typed_records(signature: dict, rows: list[dict]) -> list[dict]:
    """Raw rows (e.g. CSV strings) as JSON records of the signature's inputs: numbers as
    floats, categories as strings, missing values as None."""
    records = []
    for index, row in enumerate(rows):
        record = {}
        for field in signature["inputs"]:
            value = row.get(field["name"])
            if is_missing(value):
                record[field["name"]] = None
            elif input_kind(field) == NUMERIC:
                record[field["name"]] = _numeric(field["name"], value, index)
            else:
                record[field["name"]] = str(value)
        records.append(record)
    return records


def labels_of(signature: dict) -> list[str]:
    return [str(label) for label in (signature.get("output") or {}).get("labels") or []]


def predict(model, signature: dict, records: list) -> list:
    """Predictions for raw records: labels (str) for classification, floats for regression."""
    if not records:
        return []
    outputs = model.predict(records_to_matrix(signature, records))
    if task_of(signature) == "regression":
        return [float(value) for value in outputs]
    return [str(label) for label in outputs]


def has_probabilities(model) -> bool:
    """Whether a fitted classifier gives class probabilities (an SVC without them does not)."""
    try:
        return callable(getattr(model, "predict_proba"))
    except AttributeError:
        return False


def predict_proba(model, signature: dict, records: list) -> list[list[float]]:
    """Class probabilities for raw records, one row per record, columns in the signature's
    label order; RegistryError when the model has none."""
    if task_of(signature) != "classification" or not has_probabilities(model):
        raise RegistryError("this model gives no class probabilities")
    if not records:
        return []
    scores = model.predict_proba(records_to_matrix(signature, records))
    classes = [str(label) for label in getattr(model, "classes_", labels_of(signature))]
    columns = [classes.index(label) if label in classes else None for label in labels_of(signature)]
    return [[float(row[col]) if col is not None else 0.0 for col in columns] for row in scores]


def fingerprint(model, signature: dict, probe: list[dict]) -> dict:
    """The behaviour fingerprint: the probe records and the model's predictions on them (and
    its class probabilities, when it has them)."""
    records = typed_records(signature, probe)
    found = {"probe": records, "predictions": predict(model, signature, records)}
    if task_of(signature) == "classification" and has_probabilities(model):
        found["probabilities"] = predict_proba(model, signature, records)
    return found


# ---- the model files -------------------------------------------------------------------------

def save_model(model, path) -> None:
    """Save a fitted scikit-learn estimator as one skops file, with reproducible bytes (see
    :mod:`.skops_bytes`). Models of any flavor: :func:`save_model_dir`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(flavors.flavor("sklearn").dumps(model))


def save_model_dir(model, folder, signature: dict | None = None, trusted_types=()) -> dict:
    """Save a fitted model in its flavor's format into ``folder``, with ``flavor.json`` naming
    the flavor, the estimator class, the files and the skops types the project reviewed
    (``trusted_types``, beyond :data:`TRUSTED_TYPES`). Returns what flavor.json holds."""
    import shutil

    flavor = flavors.flavor_of(model)
    out = Path(folder)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = flavor.save(model, out, signature)
    estimator = flavors.final_estimator(model)
    meta = {"flavor": flavor.NAME, "estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "files": sorted(files), "trusted_types": sorted({str(name) for name in trusted_types})}
    write_json(out / FLAVOR_FILE, meta)
    return meta


def flavor_meta(blobs: dict, where: str) -> dict:
    """flavor.json of a bundle or model folder (``{name: bytes}``); a scikit-learn default for a
    bundle written before flavors."""
    if FLAVOR_FILE not in blobs:
        return {"flavor": flavors.DEFAULT, "files": [MODEL_FILE], "trusted_types": []}
    meta = json_object(blobs[FLAVOR_FILE], f"{where}/{FLAVOR_FILE}")
    files = meta.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(name, str) for name in files):
        raise RegistryError(f"{where}/{FLAVOR_FILE}: files must list the model files")
    flavors.flavor(meta.get("flavor"))
    return meta


def load_model_blobs(blobs: dict, where: str, trusted_types=(), signature: dict | None = None):
    """The model of a bundle or model folder given as ``{file name: bytes}``, trusting skops'
    defaults, :data:`TRUSTED_TYPES` and ``trusted_types`` only (never a list read from the files)."""
    meta = flavor_meta(blobs, where)
    missing = [name for name in meta["files"] if name not in blobs]
    if missing:
        raise RegistryError(f"{where} lacks {', '.join(missing)}")
    model = flavors.flavor(meta["flavor"]).load(blobs, [*TRUSTED_TYPES, *trusted_types], where, signature)
    if not hasattr(model, "predict"):
        raise RegistryError(f"{where} holds a {type(model).__name__}, not a fitted estimator with predict()")
    return model


def load_model_bytes(data: bytes, where: str = MODEL_FILE, trusted_types=()):
    """Load a scikit-learn model file, trusting only skops' defaults, ``TRUSTED_TYPES`` and ``trusted_types``."""
    return load_model_blobs({MODEL_FILE: data}, where, trusted_types)


def model_blobs(path) -> dict:
    """``{file name: bytes}`` of a model: a model folder's files, or one skops file."""
    path = Path(path)
    if path.is_dir():
        return {item.name: item.read_bytes() for item in sorted(path.iterdir()) if item.is_file()}
    return {MODEL_FILE: path.read_bytes()}


def load_model_file(path, trusted_types=(), signature: dict | None = None):
    """The model saved at ``path``: a skops file (:func:`save_model`) or a model folder
    (:func:`save_model_dir`)."""
    return load_model_blobs(model_blobs(path), str(path), trusted_types, signature)


def untrusted_types(path) -> list[str]:
    """The types in a model's skops files that loading would refuse: what to review before adding
    them to a family's ``trusted_types``."""
    import skops.io as sio

    found = set()
    for name, data in model_blobs(path).items():
        if name.endswith(".skops"):
            try:
                found.update(sio.get_untrusted_types(data=data))
            except Exception as exc:  # not a skops file
                raise RegistryError(f"{path}/{name} is not a readable skops file: {str(exc).splitlines()[0][:200]}") from None
    return sorted(found - set(TRUSTED_TYPES))


# ---- writing a bundle folder -----------------------------------------------------------------

def write_json(path, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_bundle(directory, model_file, signature: dict, probe: list[dict], card: dict,
                 trusted_types=(), profile: dict | None = None) -> None:
    """Write ``directory`` afresh: the model's files (a skops file or a model folder written by
    :func:`save_model_dir`), flavor.json, its signature, fingerprint and card; and its profile
    when given (what :func:`.profile.build_profile` returns)."""
    import shutil

    validate_signature(signature)
    if profile is not None and not isinstance(profile, dict):
        raise RegistryError(f"a bundle's profile is a JSON object, not a {type(profile).__name__}")
    blobs = model_blobs(model_file)
    if FLAVOR_FILE in blobs:
        trusted_types = [*flavor_meta(blobs, str(model_file)).get("trusted_types", []), *trusted_types]
    model = load_model_blobs(blobs, str(model_file), trusted_types, signature)
    out = Path(directory)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    meta = flavor_meta(blobs, str(model_file))
    for name in meta["files"]:
        (out / name).write_bytes(blobs[name])
    estimator = flavors.final_estimator(model)
    meta.setdefault("estimator", f"{type(estimator).__module__}.{type(estimator).__qualname__}")
    meta["trusted_types"] = sorted({str(name) for name in trusted_types})
    write_json(out / FLAVOR_FILE, meta)
    if task_of(signature) == "classification":
        signature = {**signature, "output": {**signature["output"], "probabilities": has_probabilities(model)}}
    write_json(out / SIGNATURE_FILE, signature)
    write_json(out / FINGERPRINT_FILE, fingerprint(model, signature, probe))
    write_json(out / CARD_FILE, card)
    if profile is not None:
        write_json(out / PROFILE_FILE, profile)
