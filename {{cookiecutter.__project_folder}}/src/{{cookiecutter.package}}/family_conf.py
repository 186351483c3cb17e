"""The text of a new family's conf, conf/families/<name>.yaml, from what its table holds
(csv_inspection.py): task, typed features, missing markers, a model for the task, metrics,
starting gates and the card. It is written once, by `add-family`, with comments; the team edits
it from there."""

import json
import math
from pathlib import Path

import yaml

from .errors import ProjectError
from .estimators import TASK_KINDS, instantiate, kind_of
from .tables import DEFAULT_MISSING
from .yaml_scalars import quoted, scalar

DEFAULT_MODELS = {"classification": "logistic_regression", "regression": "ridge"}
MODEL_DIR = Path("conf/model")


def models_for(task: str, folder: Path = MODEL_DIR) -> list[str]:
    """The conf/model/ files whose estimator suits ``task`` (those that cannot be built here, e.g.
    for want of an extra, are left out)."""
    names = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = yaml.safe_load(path.read_text())
            if kind_of(instantiate(spec, str(path))) == TASK_KINDS[task]:
                names.append(path.stem)
        except (ProjectError, yaml.YAMLError, OSError):
            continue
    return names


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


def conf_text(name: str, source: Path, target: str, found: dict, raw: Path) -> str:
    task = found["task"]
    features = found["features"]
    binary = task == "classification" and len(set(found["target_values"])) == 2
    metrics = ("[accuracy, f1_macro, roc_auc]" if binary else "[accuracy, f1_macro]"
               if task == "classification" else "[rmse, mae, r2]")
    models = ", ".join(models_for(task)) or "see conf/model/"
    description = f"Predicts {target} ({task}) from {len(features)} columns of {source.name}."
    limitations = f"Trained on {found['rows']} rows of {source.name}; not validated beyond them."
    lines = [
        "# @package _global_",
        f"# The {name} family, written by `python -m {__package__} add-family` from {source.name}.",
        "# Edit freely (features, model, metrics, gates, card), then `dvc repro`. After changing",
        f"# data.raw or task, run `python -m {__package__} sync-families`.",
        "defaults:",
        commented(f"  - /model: {DEFAULT_MODELS[task]}", f"a conf/model/ file; for {task}: {models}"),
        "  - /preprocessing: standard",
        "  - /train: default",
        "  - _self_",
        "",
        commented(f"task: {task}", "classification | regression"),
        "data:",
        commented(f"  raw: {raw.as_posix()}", "tracked by DVC"),
        f"  target: {scalar(target, hydra=True)}",
        commented("  features:", "column: {type: numeric | categorical | text, required: false if callers may omit it}"),
    ]
    for column, spec in features.items():
        shown = {"type": spec["type"]} if spec["required"] else {"type": spec["type"], "required": "false"}
        lines.append(f"    {scalar(column)}: {flow(**shown)}")
    markers = ", ".join(quoted(marker, hydra=True) for marker in DEFAULT_MISSING)
    lines += [
        commented(f"  missing_values: [{markers}]", "the values that mark a missing value"),
        "  test_size: 0.25",
        "  split_seed: 42",
        commented("  probe_size: 200", "the behaviour fingerprint: predictions on the first probe_size rows"),
        "",
        f"metrics: {metrics}",
        "",
        "# skops types the owners reviewed and trust beyond the registry's list, for a model whose file holds",
        "# them: `model-registry untrusted-types build/<family>/model` lists them (docs/BUNDLE.md)",
        "trusted_types: []",
        "",
        *registry_block(task, found["target_values"]),
        "",
        commented("rollout:", "how `model-registry rollout` decides a live canary (docs/SERVING.md)"),
        commented("  soak: 30m", "it serves at least this long before a promotion"),
        commented("  min_requests: 100", "canary requests, and"),
        commented("  min_outcomes: 50", "outcomes on each route (POST /v1/feedback), before any decision"),
        "",
        commented("card:", f"the text of models/{name}/card.json"),
        f"  description: {quoted(description, hydra=True)}",
        "  intended_use: 'To be written by the owners: who uses the predictions, and for what.'",
        f"  limitations: {quoted(limitations, hydra=True)}",
        f"  owners: [{', '.join(quoted(owner, hydra=True) for owner in owners())}]",
    ]
    return "\n".join(lines) + "\n"
