"""Small file helpers shared by the pipeline stages, and where each family's files live.

Every stage takes the family's name as its argument (dvc.yaml runs it once per family) and
reads and writes only that family's paths below, so families never share an output."""

import csv
import json
from pathlib import Path

import yaml

from .errors import ProjectError

PARAMS_FILE = "params.yaml"


def prepared_dir(family: str) -> str:
    return f"data/prepared/{family}"


def model_dir(family: str) -> str:
    """The trained model, in its flavor's format (the registry's ``save_model_dir``), and the
    signature it was trained for (``trained_signature``)."""
    return f"build/{family}/model"


def trained_signature(family: str) -> str:
    return f"{model_dir(family)}/signature.json"


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


def require_file(path: str, folder: bool = False) -> str:
    """``path``, or ProjectError when there is no such file (``folder``: no such folder)."""
    if not (Path(path).is_dir() if folder else Path(path).is_file()):
        raise ProjectError(f"{path} is missing: `dvc pull` fetches DVC-tracked files, "
                           "`dvc repro` makes the pipeline's")
    return path


def read_params(path: str = PARAMS_FILE) -> dict:
    try:
        params = yaml.safe_load(Path(require_file(path)).read_text())
    except yaml.YAMLError:
        raise ProjectError(f"{path} is not valid YAML: run `dvc repro`, its config stage writes it") from None
    return params if isinstance(params, dict) else {}


def family_params(family: str, path: str = PARAMS_FILE) -> dict:
    """The composed configuration of one family (``families.<family>`` in params.yaml)."""
    families = read_params(path).get("families") or {}
    if family not in families:
        known = ", ".join(sorted(families)) or "none"
        raise ProjectError(f"{path} has no family {family!r} (families: {known}): "
                           f"add conf/families/{family}.yaml and run `dvc repro`")
    return families[family]


def write_csv(path: str, rows: list[dict], columns: list[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_json(path: str):
    try:
        return json.loads(Path(require_file(path)).read_text())
    except ValueError as exc:
        raise ProjectError(f"{path} is not valid JSON ({exc}): run `dvc repro` to write it afresh") from None


def write_json(path: str, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
