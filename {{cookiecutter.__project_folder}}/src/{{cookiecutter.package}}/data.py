"""The `prepare` stage: split the raw data and fix the probe set for the behaviour fingerprint.

Also what every stage needs to turn raw rows into the model's input: the family's signature,
through the registry's bundle contract (the same conversion serving uses)."""

from versioned_ml_registry.bundle import make_signature, records_to_matrix

from .files import read_csv, read_params, write_csv

PREPARED = "data/prepared"


def signature(data: dict, labels: list[str]) -> dict:
    """The family's interface: its features as required numeric inputs, its target's labels."""
    inputs = [{"name": name, "type": "numeric", "required": True} for name in data["features"]]
    return make_signature("classification", inputs, data["target"], labels)


def feature_matrix(rows: list[dict], data: dict):
    """Raw rows as the model's input; empty values become NaN (the fitted imputer fills them)."""
    return records_to_matrix(signature(data, []), rows)


def labels(rows: list[dict], target: str) -> list[str]:
    return [row[target] for row in rows]


def split(rows: list[dict], target: str, test_size: float, seed: int) -> tuple[list[dict], list[dict]]:
    from sklearn.model_selection import train_test_split

    return train_test_split(rows, test_size=test_size, random_state=seed, stratify=labels(rows, target))


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
