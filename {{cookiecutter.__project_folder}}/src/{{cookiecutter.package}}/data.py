"""A family's data contract, from its configuration (``families.<name>`` in params.yaml):
its task, its typed features, its target, and how raw rows become the model's input.

Raw rows become the model's input only through the registry's bundle contract
(``versioned_ml_registry.bundle``), the same conversion serving uses: numbers as floats,
categories as strings, missing values as NaN / None. Everything else (imputation, scaling,
encoding) happens inside the fitted pipeline (features.py)."""

import math

from versioned_ml_registry.bundle import make_signature, records_to_matrix

TASKS = ("classification", "regression")
TYPES = ("numeric", "categorical")


class DataError(SystemExit):
    """A configuration or data problem: one `error: ...` line, exit status 1."""

    def __init__(self, message: str):
        super().__init__(f"error: {message}")


def task(conf: dict) -> str:
    value = conf.get("task")
    if value not in TASKS:
        raise DataError(f"task is {value!r}: set task: classification or task: regression in the family conf")
    return value


def features(conf: dict) -> list[dict]:
    """The inputs in model column order: ``{"name", "type", "required"}``.

    In the conf, ``data.features`` maps each column to ``{type: numeric|categorical}``
    (``required: false`` when callers may leave it out: the fitted imputer fills it), or
    just to its type."""
    declared = (conf.get("data") or {}).get("features")
    if not isinstance(declared, dict) or not declared:
        raise DataError("data.features must map each input column to {type: numeric} or {type: categorical}")
    inputs = []
    for name, spec in declared.items():
        spec = {"type": spec} if isinstance(spec, str) else dict(spec or {})
        if spec.get("type") not in TYPES:
            raise DataError(f"feature {name!r} has type {spec.get('type')!r}: use numeric or categorical")
        inputs.append({"name": str(name), "type": spec["type"], "required": bool(spec.get("required", True))})
    return inputs


def feature_names(conf: dict) -> list[str]:
    return [field["name"] for field in features(conf)]


def target(conf: dict) -> str:
    return conf["data"]["target"]


def signature(conf: dict, labels: list | None = None) -> dict:
    """The family's interface (signature.json): typed inputs, the target, its labels."""
    return make_signature(task(conf), features(conf), target(conf), labels)


def matrix(conf: dict, rows: list[dict]):
    """Raw rows as the model's input, through the bundle contract."""
    return records_to_matrix(signature(conf, []), rows)


def targets(conf: dict, rows: list[dict]) -> list:
    """The target of every row: labels (str) for classification, numbers for regression."""
    name = target(conf)
    values = [row.get(name) for row in rows]
    missing = sum(value in (None, "") for value in values)
    if missing:
        raise DataError(f"target column {name!r} is empty in {missing} row(s): drop those rows or fill them")
    if task(conf) == "classification":
        return [str(value) for value in values]
    numbers = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            raise DataError(f"regression target {name!r} has the non-numeric value {value[:40]!r}") from None
        if not math.isfinite(number):
            raise DataError(f"regression target {name!r} has the value {value!r}")
        numbers.append(number)
    return numbers


def check_columns(conf: dict, rows: list[dict], source: str) -> None:
    """Refuse data that lacks a configured column, before anything is trained."""
    columns = feature_names(conf) + [target(conf)]
    missing = [name for name in columns if rows and name not in rows[0]]
    if missing:
        raise DataError(f"{source} has no column {', '.join(map(repr, missing))}: "
                        "fix data.features / data.target in the family conf")
    if not rows:
        raise DataError(f"{source} has no rows")


def split(conf: dict, rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """The train and test rows; classification splits stratified when every class allows it."""
    from collections import Counter

    from sklearn.model_selection import train_test_split

    data = conf["data"]
    stratify = None
    if task(conf) == "classification":
        labels = targets(conf, rows)
        if min(Counter(labels).values()) >= 2:
            stratify = labels
    return train_test_split(rows, test_size=data["test_size"], random_state=data["split_seed"], stratify=stratify)
