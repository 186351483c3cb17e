"""The `prepare` stage of one family: read its raw table (CSV or Parquet), check every value
against the family's types, split it, and fix the probe set of its behaviour fingerprint.

The prepared files (data/prepared/<family>/) are CSVs of clean values: numbers as numbers,
categories and text as text, a missing value as an empty field.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.prepare FAMILY
"""

from .data import feature_names, missing_values, records, setting, split, target
from .errors import ProjectError, run_stage
from .files import family_params, prepared_dir, require_file, write_csv
from .tables import read_table


def main(family: str) -> None:
    conf = family_params(family)
    raw, probe_size = setting(conf, "data.raw"), setting(conf, "data.probe_size")
    if not isinstance(probe_size, int) or isinstance(probe_size, bool) or probe_size < 1:
        raise ProjectError(f"data.probe_size is {probe_size!r}: set it to a number of rows, e.g. 200")
    columns = feature_names(conf) + [target(conf)]
    rows = records(conf, read_table(require_file(raw), missing_values(conf), columns))
    train, test = split(conf, rows)
    out = prepared_dir(family)
    write_csv(f"{out}/train.csv", train, columns)
    write_csv(f"{out}/test.csv", test, columns)
    write_csv(f"{out}/probe.csv", rows[:probe_size], feature_names(conf))


if __name__ == "__main__":
    run_stage(main)
