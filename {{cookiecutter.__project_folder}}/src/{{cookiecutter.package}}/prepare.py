"""The `prepare` stage of one family: split its raw data and fix the probe set of its
behaviour fingerprint.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.prepare FAMILY
"""

import sys

from .data import check_columns, feature_names, split, target, targets
from .files import family_params, prepared_dir, read_csv, write_csv


def main(family: str) -> None:
    conf = family_params(family)
    data = conf["data"]
    rows = read_csv(data["raw"])
    check_columns(conf, rows, data["raw"])
    targets(conf, rows)  # every row has a usable target
    columns = feature_names(conf) + [target(conf)]
    train, test = split(conf, rows)
    out = prepared_dir(family)
    write_csv(f"{out}/train.csv", train, columns)
    write_csv(f"{out}/test.csv", test, columns)
    write_csv(f"{out}/probe.csv", rows[: data["probe_size"]], feature_names(conf))


if __name__ == "__main__":
    main(sys.argv[1])
