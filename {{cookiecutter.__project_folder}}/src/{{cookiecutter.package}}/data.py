"""A family's data contract, from its configuration (``families.<name>`` in params.yaml):
its task, its typed features, its target, its missing markers, and how a table's rows become
the model's input.

A raw table (tables.py) becomes clean rows here (``records``), checked value by value against
the declared types: numbers as floats, categories and text as strings, missing values as None.
A value that does not fit is one error naming the file, its line (or row group) and the column.
From there, rows become the model's input only through the registry's bundle contract
(``versioned_ml_registry.bundle``), the same conversion serving uses. Everything else
(imputation, scaling, encoding, vectorizing text) happens inside the fitted pipeline
(features.py)."""

import math

from versioned_ml_registry.bundle import make_signature, records_to_matrix

from .errors import ProjectError
from .tables import DEFAULT_MISSING, Table

TASKS = ("classification", "regression")
TYPES = ("numeric", "categorical", "text")
MISSING = object()


def setting(conf: dict, path: str):
    """The family conf's value at a dotted ``path`` (``data.test_size``), or ProjectError."""
    value = conf
    for key in path.split("."):
        value = value.get(key, MISSING) if isinstance(value, dict) else MISSING
        if value is MISSING:
            raise ProjectError(f"the family conf has no {path}: set it in conf/families/<family>.yaml "
                               "(or the group its defaults name), then `dvc repro`")
    return value


def task(conf: dict) -> str:
    value = conf.get("task")
    if value not in TASKS:
        raise ProjectError(f"task is {value!r}: set task: classification or task: regression in the family conf")
    return value


def features(conf: dict) -> list[dict]:
    """The inputs in model column order: ``{"name", "type", "required"}``.

    In the conf, ``data.features`` maps each column to ``{type: numeric|categorical|text}``
    (``required: false`` when callers may leave it out: the fitted imputer fills it), or
    just to its type."""
    declared = (conf.get("data") or {}).get("features")
    if not isinstance(declared, dict) or not declared:
        raise ProjectError("data.features must map each input column to {type: numeric}, {type: categorical} "
                           "or {type: text}")
    inputs = []
    for name, spec in declared.items():
        spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
        if spec.get("type") not in TYPES:
            raise ProjectError(f"feature {name!r} has type {spec.get('type')!r}: use numeric, categorical or text")
        inputs.append({"name": str(name), "type": spec["type"], "required": bool(spec.get("required", True))})
    return inputs


def feature_names(conf: dict) -> list[str]:
    return [field["name"] for field in features(conf)]


def target(conf: dict) -> str:
    return setting(conf, "data.target")


def signature(conf: dict, labels: list | None = None) -> dict:
    """The family's interface (signature.json): typed inputs, the target, its labels."""
    return make_signature(task(conf), features(conf), target(conf), labels)


def matrix(conf: dict, rows: list[dict]):
    """Raw rows as the model's input, through the bundle contract."""
    return records_to_matrix(signature(conf, []), rows)


def missing_values(conf: dict) -> list[str]:
    """The markers of a missing value in the family's raw data (``data.missing_values``),
    compared with the text of CSV fields and with Parquet strings."""
    value = (conf.get("data") or {}).get("missing_values", MISSING)
    if value is MISSING:
        return list(DEFAULT_MISSING)
    if not isinstance(value, list) or not all(isinstance(item, (str, int, float)) and not isinstance(item, bool)
                                              for item in value):
        raise ProjectError(f"data.missing_values is {value!r}: make it a list of the values that mark a missing "
                           f"value, e.g. {DEFAULT_MISSING}")
    return [str(item) for item in value]


def trusted_types(conf: dict) -> list[str]:
    """The skops types the family's owners reviewed beyond the registry's list (``trusted_types``)."""
    value = conf.get("trusted_types") or []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ProjectError(f"trusted_types is {value!r}: make it a list of type names, as "
                           "`model-registry untrusted-types build/<family>/model` prints them")
    return value


def check_columns(conf: dict, table: Table) -> None:
    """Refuse a table that lacks a configured column, or has no rows, before anything is trained."""
    missing = [name for name in feature_names(conf) + [target(conf)] if name not in table.columns]
    if missing:
        raise ProjectError(f"{table.path} has no column {', '.join(map(repr, missing))}: "
                           "fix data.features / data.target in the family conf")
    if not table.rows:
        raise ProjectError(f"{table.path} has no rows: a table needs data rows under its header")


def number(value) -> float:
    """``value`` as a finite float; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    result = float(value) if isinstance(value, (int, float)) else float(str(value))
    if not math.isfinite(result):
        raise ValueError(value)
    return result


def not_a_number(value) -> str:
    """Why a value cannot be a numeric feature, and what to do."""
    text = str(value)
    if len(text.split()) > 1:
        return (f"{text[:40]!r} is text, not a number: declare the feature's type text (or categorical) "
                "in the family conf")
    return (f"{text[:40]!r} is not a finite number: fix it, add it to data.missing_values if it marks a "
            "missing value, or declare the feature categorical")


def feature_value(table: Table, index: int, field: dict):
    value = table.rows[index].get(field["name"])
    if value is None:
        return None
    if field["type"] != "numeric":
        return str(value)
    try:
        return number(value)
    except (TypeError, ValueError):
        raise table.error(index, field["name"], not_a_number(value)) from None


def target_values(conf: dict, table: Table) -> list:
    """Every row's target: a label (str) for classification, a number for regression."""
    name, family_task = target(conf), task(conf)
    values = [row.get(name) for row in table.rows]
    missing = [index for index, value in enumerate(values) if value is None]
    if missing:
        raise table.error(missing[0], name, f"the target is missing (in {len(missing)} row(s)): drop those "
                                            "rows or fill in their target")
    if family_task == "classification":
        labels = [str(value) for value in values]
        if len(set(labels)) < 2:
            raise ProjectError(f"{table.path}, column {name!r}: the target has one class ({labels[0][:40]!r}) in "
                               f"all {len(labels)} rows: classification needs at least 2 classes")
        return labels
    numbers = []
    for index, value in enumerate(values):
        try:
            numbers.append(number(value))
        except (TypeError, ValueError):
            raise table.error(index, name, f"the regression target {str(value)[:40]!r} is not a finite number: "
                                           "fix it, or use task: classification") from None
    return numbers


def records(conf: dict, table: Table) -> list[dict]:
    """The table's rows as clean records of the family's features and target, or the one-line
    error about the first value that does not fit."""
    check_columns(conf, table)
    inputs, name = features(conf), target(conf)
    labels = target_values(conf, table)
    return [{**{field["name"]: feature_value(table, index, field) for field in inputs}, name: label}
            for index, label in enumerate(labels)]


def targets(conf: dict, rows: list[dict]) -> list:
    """The target of every row (clean records, or the pipeline's prepared CSV rows): labels
    (str) for classification, numbers for regression."""
    name = target(conf)
    values = [row.get(name) for row in rows]
    missing = sum(value in (None, "") for value in values)
    if missing:
        raise ProjectError(f"target column {name!r} is empty in {missing} row(s): drop those rows or fill them")
    if task(conf) == "classification":
        return [str(value) for value in values]
    numbers = []
    for value in values:
        try:
            numbers.append(number(value))
        except (TypeError, ValueError):
            raise ProjectError(f"regression target {name!r} has the value {str(value)[:40]!r}: "
                               "it must be a finite number") from None
    return numbers


def split(conf: dict, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """The train and test rows; classification splits stratified when every class allows it."""
    from collections import Counter

    from sklearn.model_selection import train_test_split

    test_size, seed = setting(conf, "data.test_size"), setting(conf, "data.split_seed")
    stratify = None
    if task(conf) == "classification":
        labels = targets(conf, rows)
        if min(Counter(labels).values()) >= 2:
            stratify = labels
    try:
        return train_test_split(rows, test_size=test_size, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise ProjectError(f"cannot split {len(rows)} rows with data.test_size {test_size!r}: "
                           f"{str(exc).splitlines()[0]}") from None
