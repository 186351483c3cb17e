"""What a table (CSV or Parquet) holds, judged before `add-family` writes anything: a header
without duplicates, enough rows, a usable target, and each feature's type and whether it has
gaps. The task, when not given, is inferred from the target.

A value is missing when it is one of the default markers (``tables.DEFAULT_MISSING``: empty,
NA, N/A, NaN, nan, null, NULL, None), which the written conf lists as ``data.missing_values``.
Each column but the target becomes a feature:

- ``numeric`` when every present value is a finite number (a Parquet number column, or text
  that reads as one);
- ``text`` when it is not numeric and its present values look like free text: at least
  ``TEXT_WORDY`` (half) of them hold more than one word (whitespace between characters), and
  at least ``TEXT_DISTINCT`` (half) of them are distinct (distinct / present); the table has at
  least ``MIN_ROWS`` rows, as every table must;
- ``categorical`` otherwise.

A feature is ``required: false`` when some row misses it (the fitted pipeline fills it in).
"""

from pathlib import Path

from .data import number
from .errors import ProjectError
from .tables import DEFAULT_MISSING, Table, read_table

MIN_ROWS = 20
# a numeric target with at most this many distinct values defaults to classification
MAX_CLASSES = 20
# free text: shares of the present values that hold several words, and that are distinct
TEXT_WORDY = 0.5
TEXT_DISTINCT = 0.5


def is_number(value) -> bool:
    try:
        number(value)
    except (TypeError, ValueError):
        return False
    return True


def check_header(table: Table) -> None:
    for name in table.columns:
        if not name.strip() or name != name.strip() or "${" in name or any(ord(c) < 32 for c in name):
            raise ProjectError(f"{table.path}: column name {name!r} is empty, padded or has "
                               "control characters or '${': rename it in the file")
    duplicates = sorted({name for name in table.columns if table.columns.count(name) > 1})
    if duplicates:
        raise ProjectError(f"{table.path}: column {duplicates[0]!r} appears twice in the header")


def is_text(present: list) -> bool:
    """Whether a non-numeric column's present values look like free text (see the docstring)."""
    wordy = sum(len(str(value).split()) > 1 for value in present)
    return wordy >= TEXT_WORDY * len(present) and len(set(present)) >= TEXT_DISTINCT * len(present)


def feature_type(present: list) -> str:
    if all(is_number(value) for value in present):
        return "numeric"
    return "text" if is_text(present) else "categorical"


def target_of(table: Table, target: str, task: str | None) -> tuple[str, list[str]]:
    """(the task, every row's target as text), or the one-line error naming the first bad row."""
    values = [row.get(target) for row in table.rows]
    missing = [index for index, value in enumerate(values) if value is None]
    if missing:
        raise table.error(missing[0], target, f"the target is missing (in {len(missing)} row(s)): drop those "
                                              "rows or fill them first")
    numeric = [is_number(value) for value in values]
    texts = [str(value) for value in values]
    if task is None:
        task = "regression" if all(numeric) and len(set(texts)) > MAX_CLASSES else "classification"
    if task == "classification" and len(set(texts)) < 2:
        raise ProjectError(f"{table.path}, column {target!r}: classification needs at least 2 classes: the "
                           f"target has only {texts[0][:40]!r}")
    if task == "regression" and not all(numeric):
        index = numeric.index(False)
        raise table.error(index, target, f"regression needs a numeric target: {texts[index][:40]!r} is not a "
                                         "finite number")
    return task, texts


def inspect(path: Path, target: str, task: str | None) -> dict:
    """What the table holds, or ProjectError: header, rows, task, typed features, target values."""
    table = read_table(path, DEFAULT_MISSING)
    check_header(table)
    if target not in table.columns:
        raise ProjectError(f"--target {target!r} is not a column of {path.name} (columns: {', '.join(table.columns)})")
    if len(table.rows) < MIN_ROWS:
        raise ProjectError(f"{path.name} has {len(table.rows)} data rows: at least {MIN_ROWS} are needed")
    task, values = target_of(table, target, task)
    features, notes = {}, []
    for name in table.columns:
        if name == target:
            continue
        present = [row[name] for row in table.rows if row[name] is not None]
        if not present:
            raise ProjectError(f"{table.path}, column {name!r}: it has no values, so its type cannot be inferred: "
                               "remove it from the file")
        kind = feature_type(present)
        features[name] = {"type": kind, "required": len(present) == len(table.rows)}
        if kind == "categorical" and len(set(present)) == len(table.rows):
            notes.append(f"note: column {name!r} has a different value in every row (an identifier?): "
                         f"consider removing it from data.features")
    if not features:
        raise ProjectError(f"{path.name} has no column besides the target {target!r}")
    return {"header": table.columns, "rows": len(table.rows), "task": task, "features": features, "notes": notes,
            "target_values": values, "format": table.format}
