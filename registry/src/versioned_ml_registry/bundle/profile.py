"""The training profile of a bundle (``profile.json``): per input, what the model saw in
training (missing rate; numeric range and quantiles; category frequencies), and the
distribution of the model's predictions on the test split.

The server flags live inputs outside the profile and measures prediction drift against it.
Bundles written before the profile have no ``profile.json``: their readers get None.

Shape (``format`` 1)::

    {"format": 1, "rows": <training rows>,
     "features": {"<numeric input>": {"kind": "numeric", "missing_rate": f, "min": f, "max": f,
                                      "quantiles": {"0.01": f, ..., "0.99": f}},
                  "<categorical input>": {"kind": "categorical", "missing_rate": f,
                                          "frequencies": {"<category>": fraction, ...}},
                  "<text input>": {"kind": "text", "missing_rate": f}},
     "predictions": {"split": "test", "rows": n, "kind": "label", "frequencies": {"<label>": fraction}}
                 or {"split": "test", "rows": n, "kind": "numeric", "edges": [11 floats],
                     "frequencies": [10 fractions]}}

Fractions are over the non-missing values and sum to 1. Regression bins are ``[edges[i],
edges[i+1])``, the last one closed: ``edges`` are the minimum, the deciles and the maximum.
"""

from __future__ import annotations

import math
from collections import Counter

from ..errors import RegistryError
from .contract import CATEGORICAL, NUMERIC, PROFILE_FILE, TASKS, input_kind
from .contract import is_missing  # missing as the model's input reads it (None, "", NaN)

__all__ = ["PROFILE_FILE", "build_profile"]

FORMAT = 1
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
MAX_CATEGORIES = 200
OTHER = "__other__"
BINS = 10


def build_profile(features, signature: dict, predictions, task: str) -> dict:
    """The profile.json document. ``features``: the training split's raw input columns, named as
    the signature names them (a pandas DataFrame, or a list of records);
    ``predictions``: the model's predictions on the test split (labels or numbers)."""
    if task not in TASKS:
        raise RegistryError(f"unknown task {task!r}: expected one of {', '.join(TASKS)}")
    names = [field["name"] for field in signature["inputs"]]
    rows, columns = _columns(features, names)
    profiled = {}
    for field in signature["inputs"]:
        kind, values = input_kind(field), columns[field["name"]]
        if kind == NUMERIC:
            profiled[field["name"]] = _numeric(field["name"], values, rows)
        elif kind == CATEGORICAL:
            profiled[field["name"]] = _categorical(values, rows)
        else:
            present = [value for value in values if not is_missing(value)]
            profiled[field["name"]] = {"kind": "text", "missing_rate": _rate(rows - len(present), rows)}
    return {"format": FORMAT, "rows": rows, "features": profiled,
            "predictions": _predictions(list(predictions), task)}


def _columns(features, names: list[str]) -> tuple[int, dict[str, list]]:
    """(rows, ``{name: values}``), a missing value as None."""
    if hasattr(features, "columns") and hasattr(features, "iloc"):  # a pandas DataFrame, duck-typed
        absent = [name for name in names if name not in features.columns]
        if absent:
            raise RegistryError(f"the training features lack the input(s) {', '.join(absent)}")
        # astype(object).where(notna) turns NaN, None, pd.NA and NaT alike into None
        return len(features), {name: features[name].astype(object).where(features[name].notna(), None).tolist()
                               for name in names}
    records = list(features)
    return len(records), {name: [record.get(name) for record in records] for name in names}


def _rate(count: int, total: int) -> float:
    return count / total if total else 0.0


def _numeric(name: str, values: list, rows: int) -> dict:
    import numpy as np

    numbers = []
    for value in values:
        if is_missing(value):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RegistryError(f'input "{name}": {str(value)[:40]!r} is not a number') from None
        # an infinite value counts as missing: the profile holds finite JSON numbers only
        if math.isfinite(number):
            numbers.append(number)
    found = {"kind": "numeric", "missing_rate": _rate(rows - len(numbers), rows),
             "min": None, "max": None, "quantiles": {str(q): None for q in QUANTILES}}
    if numbers:
        found["min"], found["max"] = min(numbers), max(numbers)
        points = np.quantile(np.array(numbers), QUANTILES)
        found["quantiles"] = {str(q): float(point) for q, point in zip(QUANTILES, points)}
    return found


def _frequencies(values: list[str]) -> dict[str, float]:
    """Each value's fraction of ``values``: the :data:`MAX_CATEGORIES` most frequent (ties by
    name), the rest summed under :data:`OTHER`."""
    counts = sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))
    kept = dict(counts[:MAX_CATEGORIES])
    rest = sum(count for _, count in counts[MAX_CATEGORIES:])
    if rest:
        kept[OTHER] = kept.get(OTHER, 0) + rest
    return {value: count / len(values) for value, count in kept.items()}


def _categorical(values: list, rows: int) -> dict:
    present = [str(value) for value in values if not is_missing(value)]
    return {"kind": "categorical", "missing_rate": _rate(rows - len(present), rows),
            "frequencies": _frequencies(present)}


def _predictions(predictions: list, task: str) -> dict:
    import numpy as np

    if not predictions:
        raise RegistryError("no test predictions to profile: the test split is empty")
    found = {"split": "test", "rows": len(predictions)}
    if task == "classification":
        return {**found, "kind": "label", "frequencies": _frequencies([str(label) for label in predictions])}
    values = np.array([float(value) for value in predictions])
    if not np.isfinite(values).all():
        raise RegistryError("the model predicted a non-finite number on the test split")
    # quantile edges never decrease in exact arithmetic; accumulate guards against rounding
    edges = np.maximum.accumulate(np.quantile(values, np.linspace(0.0, 1.0, BINS + 1)))
    counts, _ = np.histogram(values, bins=edges)
    return {**found, "kind": "numeric", "edges": [float(edge) for edge in edges],
            "frequencies": [int(count) / len(values) for count in counts]}
