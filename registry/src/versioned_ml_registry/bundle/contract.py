"""The model bundle contract: the files of ``models/<family>/`` and the one way to save, load
and call a bundled model.

A project's ``package`` stage writes bundles through this module; the registry reads them
through it. docs/BUNDLE.md in a generated repository documents the same contract.

| file               | holds                                                             |
| ------------------ | ----------------------------------------------------------------- |
| ``model.skops``    | a fitted scikit-learn estimator (usually a Pipeline) saved with   |
|                    | skops; ``predict(matrix)`` returns labels or numbers              |
| ``signature.json`` | task, inputs (name, numeric/categorical, required) and output     |
| ``fingerprint.json`` | predictions on a fixed probe set of raw records                 |
| ``card.json``      | data and code md5s, params, metrics, serving requirements         |

numpy, scikit-learn and skops are imported only by the functions that need them (the
``bundle`` extra), so reading a signature costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from ..errors import RegistryError
from .skops_bytes import canonical_skops

MODEL_FILE = "model.skops"
SIGNATURE_FILE = "signature.json"
FINGERPRINT_FILE = "fingerprint.json"
CARD_FILE = "card.json"
JSON_FILES = (SIGNATURE_FILE, FINGERPRINT_FILE, CARD_FILE)
FILES = (MODEL_FILE, *JSON_FILES)

TASKS = ("classification", "regression")
NUMERIC, CATEGORICAL = "numeric", "categorical"
OUTPUT_TYPES = {"classification": "label", "regression": "number"}
# Older bundles wrote the input type as a Python-ish name.
_TYPE_ALIASES = {"float": NUMERIC, "int": NUMERIC, "integer": NUMERIC, "number": NUMERIC,
                 "double": NUMERIC, "string": CATEGORICAL, "str": CATEGORICAL, "category": CATEGORICAL}

# Types outside skops' defaults that scikit-learn pipelines need, reviewed by hand. Loading
# trusts nothing else, so a model file carrying any other type is refused. The list lives in
# code, never in the file it guards; extend it only for types you have reviewed
# (skops.io.get_untrusted_types lists a file's).
TRUSTED_TYPES = ["numpy.dtype", "sklearn.tree._tree.Tree"]


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
    """``numeric`` or ``categorical`` for an input of a signature (legacy names mapped)."""
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
        if input_kind(field) not in (NUMERIC, CATEGORICAL):
            raise RegistryError(f'{where}: input "{field["name"]}" has type {field.get("type")!r}: '
                                "expected numeric or categorical")
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

def _missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _numeric(name: str, value, index: int) -> float:
    if _missing(value):
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
            if _missing(value) and field.get("required", True) and field["name"] not in record:
                raise RegistryError(f'record {index}: missing required field "{field["name"]}"')
            if kind == NUMERIC:
                row.append(_numeric(field["name"], value, index))
            else:
                row.append(None if _missing(value) else str(value))
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
            if _missing(value):
                record[field["name"]] = None
            elif input_kind(field) == NUMERIC:
                record[field["name"]] = _numeric(field["name"], value, index)
            else:
                record[field["name"]] = str(value)
        records.append(record)
    return records


def predict(model, signature: dict, records: list) -> list:
    """Predictions for raw records: labels (str) for classification, floats for regression."""
    if not records:
        return []
    outputs = model.predict(records_to_matrix(signature, records))
    if task_of(signature) == "regression":
        return [float(value) for value in outputs]
    return [str(label) for label in outputs]


def fingerprint(model, signature: dict, probe: list[dict]) -> dict:
    """The behaviour fingerprint: the probe records and the model's predictions on them."""
    records = typed_records(signature, probe)
    return {"probe": records, "predictions": predict(model, signature, records)}


# ---- the model file -------------------------------------------------------------------------

def save_model(model, path) -> None:
    """Save a fitted estimator with skops, with reproducible bytes (see :mod:`.skops_bytes`)."""
    import skops.io as sio

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(canonical_skops(sio.dumps(model)))


def load_model_bytes(data: bytes, where: str = MODEL_FILE):
    """Load a model file, trusting only skops' defaults and ``TRUSTED_TYPES``."""
    import skops.io as sio

    try:
        model = sio.loads(data, trusted=TRUSTED_TYPES)
    except Exception as exc:  # untrusted types or a malformed file
        raise RegistryError(f"cannot load {where} safely: {str(exc).splitlines()[0][:200]}") from None
    if not hasattr(model, "predict"):
        raise RegistryError(f"{where} holds a {type(model).__name__}, not a fitted estimator with predict()")
    return model


def load_model_file(path):
    return load_model_bytes(Path(path).read_bytes(), str(path))


# ---- writing a bundle folder -----------------------------------------------------------------

def write_json(path, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_bundle(directory, model_file, signature: dict, probe: list[dict], card: dict) -> None:
    """Write ``directory`` afresh: the model file, its signature, fingerprint and card."""
    import shutil

    validate_signature(signature)
    model = load_model_file(model_file)
    out = Path(directory)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copyfile(model_file, out / MODEL_FILE)
    write_json(out / SIGNATURE_FILE, signature)
    write_json(out / FINGERPRINT_FILE, fingerprint(model, signature, probe))
    write_json(out / CARD_FILE, card)
