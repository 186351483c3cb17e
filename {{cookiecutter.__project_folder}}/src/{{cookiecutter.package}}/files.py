"""Small file helpers shared by the pipeline stages, and where each family's files live.

Every stage takes the family's name as its argument (dvc.yaml runs it once per family) and
reads and writes only that family's paths below, so families never share an output."""

import csv
import json
from pathlib import Path

import yaml

PARAMS_FILE = "params.yaml"


def prepared_dir(family: str) -> str:
    return f"data/prepared/{family}"


def model_file(family: str) -> str:
    return f"build/{family}/model.skops"


def metrics_file(family: str) -> str:
    return f"metrics/{family}.json"


def plots_dir(family: str) -> str:
    return f"plots/{family}"


# each task's plot, under plots/<family>/ (the plots: entries of dvc.yaml's families block)
PLOT_FILES = {"classification": "confusion.csv", "regression": "predictions.csv"}


def plot_file(family: str, task: str) -> str:
    return f"{plots_dir(family)}/{PLOT_FILES[task]}"


def bundle_dir(family: str) -> str:
    return f"models/{family}"


def read_params(path: str = PARAMS_FILE) -> dict:
    return yaml.safe_load(Path(path).read_text()) or {}


def family_params(family: str, path: str = PARAMS_FILE) -> dict:
    """The composed configuration of one family (``families.<family>`` in params.yaml)."""
    families = read_params(path).get("families") or {}
    if family not in families:
        known = ", ".join(sorted(families)) or "none"
        raise SystemExit(f"error: {path} has no family {family!r} (families: {known}): "
                         f"add conf/families/{family}.yaml and run `dvc repro`")
    return families[family]


def read_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: str, rows: list[dict], columns: list[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_json(path: str):
    return json.loads(Path(path).read_text())


def write_json(path: str, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
