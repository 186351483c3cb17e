"""`python -m {{ cookiecutter.package }} add-family NAME --data FILE --target COLUMN [--task ...]`:
a new model family from a CSV, in one command.

Everything is checked before anything is written: the name (one GTO and the registry accept,
not taken), the CSV (readable, a header without duplicates, enough rows), the target (present,
never empty; classification has two classes or more, regression is numeric) and every
feature's type (numeric when every non-empty value is a number, categorical otherwise). A
problem is one `error: ...` line and exit status 2, with nothing written.

Then the CSV is copied to data/raw/<name>.csv and put under DVC (`dvc add`), the family's
conf is written to conf/families/<name>.yaml with the inferred types (edit it freely), and
families.yaml and dvc.yaml's families block are rewritten (families.py). If any of that fails,
what was written is removed again.
"""

import csv
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

from . import families
from .config import CONF_DIR, sync

MIN_ROWS = 20
# a numeric target with at most this many distinct values defaults to classification
MAX_CLASSES = 20
TASKS = ("classification", "regression")
DEFAULT_MODELS = {"classification": "logistic_regression", "regression": "ridge"}
BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


class AddFamilyError(Exception):
    """Bad input: one line, exit status 2, nothing written."""


# ---- reading and judging the CSV ------------------------------------------------------------


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise AddFamilyError(f"--data {path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            table = [row for row in csv.reader(handle) if row]
    except UnicodeDecodeError:
        raise AddFamilyError(f"--data {path}: not UTF-8 text; save the CSV as UTF-8") from None
    except (OSError, csv.Error) as exc:
        raise AddFamilyError(f"--data {path}: cannot read it as CSV ({exc})") from None
    if not table:
        raise AddFamilyError(f"--data {path} is empty")
    header, rows = table[0], table[1:]
    for index, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise AddFamilyError(f"--data {path}: line {index} has {len(row)} fields, the header {len(header)}")
    for name in header:
        if not name.strip() or name != name.strip() or "${" in name or any(ord(c) < 32 for c in name):
            raise AddFamilyError(f"--data {path}: column name {name!r} is empty, padded or has "
                                 "control characters or '${': rename it in the CSV")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise AddFamilyError(f"--data {path}: column {duplicates[0]!r} appears twice in the header")
    return header, rows


def inspect(path: Path, target: str, task: str | None) -> dict:
    """What the CSV holds, or AddFamilyError: header, rows, task, typed features, target stats."""
    header, rows = read_table(path)
    if target not in header:
        raise AddFamilyError(f"--target {target!r} is not a column of {path.name} (columns: {', '.join(header)})")
    if len(rows) < MIN_ROWS:
        raise AddFamilyError(f"{path.name} has {len(rows)} data rows: at least {MIN_ROWS} are needed")
    column = header.index(target)
    values = [row[column] for row in rows]
    empty = sum(value == "" for value in values)
    if empty:
        raise AddFamilyError(f"target {target!r} is empty in {empty} row(s): drop or fill them first")
    numeric_target = all(is_number(value) and math.isfinite(float(value)) for value in values)
    if task is None:
        task = "regression" if numeric_target and len(set(values)) > MAX_CLASSES else "classification"
    if task == "classification" and len(set(values)) < 2:
        raise AddFamilyError(f"classification needs at least 2 classes: target {target!r} has only {values[0]!r}")
    if task == "regression" and not numeric_target:
        bad = next(value for value in values if not (is_number(value) and math.isfinite(float(value))))
        raise AddFamilyError(f"regression needs a numeric target: {target!r} has the value {bad[:40]!r}")
    features, notes = {}, []
    for index, name in enumerate(header):
        if name == target:
            continue
        present = [row[index] for row in rows if row[index] != ""]
        if not present:
            raise AddFamilyError(f"column {name!r} has no values, so its type cannot be inferred: "
                                 "remove it from the CSV")
        kind = "numeric" if all(is_number(value) for value in present) else "categorical"
        features[name] = {"type": kind, "required": len(present) == len(rows)}
        if kind == "categorical" and len(set(present)) == len(rows):
            notes.append(f"note: column {name!r} has a different value in every row (an identifier?): "
                         f"consider removing it from data.features")
    if not features:
        raise AddFamilyError(f"{path.name} has no column besides the target {target!r}")
    return {"header": header, "rows": len(rows), "task": task, "features": features, "notes": notes,
            "target_values": values}


# ---- the family's conf -----------------------------------------------------------------------


def yaml_key(name: str) -> str:
    if BARE_KEY.fullmatch(name) and name.lower() not in YAML_WORDS:
        return name
    return "'" + name.replace("'", "''") + "'"


def literal(text: str) -> str:
    """``text`` as a single-quoted YAML scalar that hydra reads literally (``${`` escaped)."""
    parts = text.split("${")
    out = []
    for part in parts[:-1]:
        kept = part.rstrip("\\")
        out.append(kept + (part[len(kept):] * 2) + "\\${")
    out.append(parts[-1])
    return "'" + "".join(out).replace("'", "''") + "'"


def commented(text: str, comment: str) -> str:
    return f"{text:<33} # {comment}"


def flow(**pairs) -> str:
    """A YAML flow mapping: flow(min=0.5) -> '{min: 0.5}'."""
    return "{" + ", ".join(f"{key}: {value}" for key, value in pairs.items()) + "}"


def significant(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}") if value else 0.0


def registry_block(task: str, target_values: list[str]) -> list[str]:
    """Gates and tolerances to start from: a model must beat the trivial one (the majority
    class; the mean of the target). Tighten them in the conf."""
    lines = [commented("registry:", "how model-registry derives this family's versions and gates its stages"),
             commented("  agreement_threshold: 0.99", "probe predictions agreeing less than this: MINOR")]
    if task == "classification":
        majority = max(target_values.count(value) for value in set(target_values)) / len(target_values)
        floor = math.floor(majority * 100) / 100
        lines += [commented("  metric_tolerance: 0.01", "a metric moving more than this: MINOR"),
                  commented("  gates:", "min: at least, max: at most"),
                  commented("    candidate:", "to start with: better than always answering the majority class"),
                  f"      accuracy: {flow(min=floor)}",
                  "    production:",
                  f"      accuracy: {flow(min=floor)}"]
    else:
        numbers = [float(value) for value in target_values]
        mean = sum(numbers) / len(numbers)
        std = math.sqrt(sum((x - mean) ** 2 for x in numbers) / len(numbers))
        tolerance = significant(0.01 * std)
        lines += [commented("  prediction_tolerance: 0.01", "probe predictions within 1 % (relative) agree"),
                  commented(f"  metric_tolerance: {flow(default=0.01, rmse=tolerance, mae=tolerance)}",
                            "per metric: MINOR beyond (rmse, mae: 1 % of the target's spread)"),
                  commented("  gates:", "min: at least, max: at most"),
                  commented("    candidate:", "to start with: better than always answering the mean"),
                  "      r2: {min: 0.0}",
                  "    production:",
                  "      r2: {min: 0.0}",
                  commented(f"      rmse: {flow(max=significant(std))}", "the target's standard deviation")]
    return lines


def owners() -> list[str]:
    try:
        answers = json.loads(Path(".cookiecutter.json").read_text())
        return [f"{answers['author_name']} <{answers['author_email']}>"]
    except (OSError, ValueError, KeyError):
        return []


def conf_text(name: str, source: Path, target: str, found: dict) -> str:
    task = found["task"]
    features = found["features"]
    binary = task == "classification" and len(set(found["target_values"])) == 2
    metrics = ("[accuracy, f1_macro, roc_auc]" if binary else "[accuracy, f1_macro]"
               if task == "classification" else "[rmse, mae, r2]")
    models = ", ".join(model for model, kind in (("logistic_regression", "classification"),
                                                  ("random_forest", "classification"),
                                                  ("ridge", "regression"),
                                                  ("random_forest_regressor", "regression")) if kind == task)
    description = f"Predicts {target} ({task}) from {len(features)} columns of {source.name}."
    limitations = f"Trained on {found['rows']} rows of {source.name}; not validated beyond them."
    lines = [
        "# @package _global_",
        f"# The {name} family, written by `python -m {__package__} add-family` from {source.name}.",
        "# Edit freely (features, model, metrics, gates, card), then `dvc repro`. After changing",
        f"# data.raw or task, run `python -m {__package__} sync-families`.",
        "defaults:",
        commented(f"  - /model: {DEFAULT_MODELS[task]}", f"{task}: {models} (conf/model/)"),
        "  - /preprocessing: standard",
        "  - /train: default",
        "  - _self_",
        "",
        commented(f"task: {task}", "classification | regression"),
        "data:",
        commented(f"  raw: data/raw/{name}.csv", "tracked by DVC"),
        f"  target: {yaml_key(target)}",
        commented("  features:", "column: {type: numeric | categorical, required: false if callers may omit it}"),
    ]
    for column, spec in features.items():
        shown = {"type": spec["type"]} if spec["required"] else {"type": spec["type"], "required": "false"}
        lines.append(f"    {yaml_key(column)}: {flow(**shown)}")
    lines += [
        "  test_size: 0.25",
        "  split_seed: 42",
        commented("  probe_size: 200", "the behaviour fingerprint: predictions on the first probe_size rows"),
        "",
        f"metrics: {metrics}",
        "",
        *registry_block(task, found["target_values"]),
        "",
        commented("card:", f"the text of models/{name}/card.json"),
        f"  description: {literal(description)}",
        "  intended_use: 'To be written by the owners: who uses the predictions, and for what.'",
        f"  limitations: {literal(limitations)}",
        f"  owners: [{', '.join(literal(owner) for owner in owners())}]",
    ]
    return "\n".join(lines) + "\n"


# ---- checking and writing ------------------------------------------------------------------


def tags_of(name: str) -> list[str]:
    done = subprocess.run(["git", "tag", "-l", f"{name}@v*", f"{name}#*"], capture_output=True, text=True)
    return done.stdout.split() if done.returncode == 0 else []


def check_name(name: str, data: Path) -> None:
    problem = families.name_problem(name)
    if problem:
        raise AddFamilyError(problem)
    if (Path(CONF_DIR) / "families" / f"{name}.yaml").exists() or name in families.registered():
        raise AddFamilyError(f"family {name!r} exists already (conf/families/{name}.yaml): choose another name")
    raw = Path("data/raw") / f"{name}.csv"
    if Path(f"{raw}.dvc").exists() or (raw.exists() and raw.resolve() != data.resolve()):
        raise AddFamilyError(f"{raw} exists already: choose another name or remove it")
    tags = tags_of(name)
    if tags:
        raise AddFamilyError(f"the registry has tags of {name!r} already (e.g. {tags[0]}): choose another name")


def check_project() -> None:
    for path in (families.DVC_YAML, families.FAMILIES_FILE, f"{CONF_DIR}/families"):
        if not Path(path).exists():
            raise AddFamilyError(f"no {path} here: run this in the project's root folder")


class Undo:
    """Remembers what add-family wrote, to remove it again if a later step fails."""

    def __init__(self, *files: str):
        self.saved = {path: (Path(path).read_bytes() if Path(path).exists() else None) for path in files}
        self.created: list[Path] = []

    def __call__(self) -> None:
        for path in reversed(self.created):
            path.unlink(missing_ok=True)
        for path, data in self.saved.items():
            if data is None:
                Path(path).unlink(missing_ok=True)
            else:
                Path(path).write_bytes(data)


def dvc_add(path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dvc", "add", "--quiet", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise AddFamilyError(f"dvc add {path} failed: {detail[-1] if detail else 'no output'}")


def add_family(name: str, data: str, target: str, task: str | None = None) -> list[str]:
    """Add the family; return what to tell the user. AddFamilyError: nothing was written."""
    check_project()
    source = Path(data)
    check_name(name, source)
    found = inspect(source, target, task)
    raw = Path("data/raw") / f"{name}.csv"
    conf = Path(CONF_DIR) / "families" / f"{name}.yaml"
    text = conf_text(name, source, target, found)

    undo = Undo(families.FAMILIES_FILE, families.DVC_YAML, "data/raw/.gitignore")
    try:
        if raw.resolve() != source.resolve():
            raw.parent.mkdir(parents=True, exist_ok=True)
            undo.created.append(raw)
            shutil.copyfile(source, raw)
        undo.created.append(Path(f"{raw}.dvc"))
        dvc_add(raw)
        undo.created.append(conf)
        conf.write_text(text)
        sync()
    except BaseException as exc:
        undo()
        if isinstance(exc, SystemExit):  # from the composition: one `error: ...` line
            raise AddFamilyError(str(exc.code).removeprefix("error: ")) from None
        raise

    kinds = [spec["type"] for spec in found["features"].values()]
    missing = [column for column, spec in found["features"].items() if not spec["required"]]
    return [
        f"added family {name}: {found['task']} of {target!r} from {found['rows']} rows, "
        f"{kinds.count('numeric')} numeric and {kinds.count('categorical')} categorical features"
        + (f" ({len(missing)} with missing values, imputed)" if missing else ""),
        *found["notes"],
        f"  {raw} (tracked by DVC: {raw}.dvc)",
        f"  {conf}: task, feature types, model, metrics, gates, card; review and edit it",
        f"  {families.FAMILIES_FILE}, {families.DVC_YAML}: the family list and its plots and artifact",
        "Next:",
        f"  dvc repro            # trains {name} (and nothing else that is up to date)",
        f"  git add {raw}.dvc data/raw/.gitignore {conf} {families.FAMILIES_FILE} {families.DVC_YAML} dvc.lock",
        f"  git commit -m \"feat: add the {name} family\"",
        f"  dvc push && model-registry release {name}",
    ]
