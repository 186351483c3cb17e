"""Small file helpers shared by the pipeline stages."""

import csv
import hashlib
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


def write_json(path: str, data) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str):
    return json.loads(Path(path).read_text())


def md5_file(path: str) -> str:
    """The md5 DVC records for a file: the plain md5 of its bytes."""
    return hashlib.md5(Path(path).read_bytes()).hexdigest()
