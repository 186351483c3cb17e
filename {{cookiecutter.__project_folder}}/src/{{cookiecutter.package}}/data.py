"""The `prepare` stage: split the raw data and fix the probe set for the behaviour fingerprint."""

import numpy as np

from .files import read_csv, read_params, write_csv

PREPARED = "data/prepared"


def feature_matrix(rows: list[dict], features: list[str]) -> np.ndarray:
    """Floats in the given column order; empty or missing values become NaN (the imputer fills them)."""
    return np.array([[to_float(row.get(name)) for name in features] for row in rows], dtype=float)


def to_float(value) -> float:
    return np.nan if value is None or value == "" else float(value)


def labels(rows: list[dict], target: str) -> list[str]:
    return [row[target] for row in rows]


def split(rows: list[dict], target: str, test_size: float, seed: int) -> tuple[list[dict], list[dict]]:
    from sklearn.model_selection import train_test_split

    labels = [row[target] for row in rows]
    return train_test_split(rows, test_size=test_size, random_state=seed, stratify=labels)


def check_columns(rows: list[dict], columns: list[str], source: str) -> None:
    missing = [name for name in columns if rows and name not in rows[0]]
    if missing:
        raise SystemExit(f"error: {source} has no column {', '.join(map(repr, missing))}: fix data.features/data.target in conf/data/")


def main() -> None:
    data = read_params()["data"]
    rows = read_csv(data["raw"])
    check_columns(rows, data["features"] + [data["target"]], data["raw"])
    columns = data["features"] + [data["target"]]
    train, test = split(rows, data["target"], data["test_size"], data["split_seed"])
    write_csv(f"{PREPARED}/train.csv", train, columns)
    write_csv(f"{PREPARED}/test.csv", test, columns)
    write_csv(f"{PREPARED}/probe.csv", rows[: data["probe_size"]], data["features"])


if __name__ == "__main__":
    main()
