"""Small file helpers shared by the pipeline stages."""

import csv
import json
from pathlib import Path

import yaml

PARAMS_FILE = "params.yaml"


def read_params(path: str = PARAMS_FILE) -> dict:
    return yaml.safe_load(Path(path).read_text())


def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: str, rows: list[dict], columns: list[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_json(path: str):
    return json.loads(Path(path).read_text())
