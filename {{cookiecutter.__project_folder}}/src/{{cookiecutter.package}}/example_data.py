"""Writes the example family's raw data: the wine recognition data that ships with
scikit-learn, as a CSV. The bake runs it once (the file is then tracked by DVC), and CI runs it
where a local DVC remote cannot be pulled. Your own families bring their own CSV
(`python -m {{ cookiecutter.package }} add-family`) and need nothing here.

Usage: python -m {{ cookiecutter.package }}.example_data data/raw/{{ cookiecutter.model_family }}.csv
"""

import re
import sys

from .files import write_csv

# The three cultivars of the UCI wine data, in the order of scikit-learn's class indices.
CULTIVARS = ["barolo", "grignolino", "barbera"]
TARGET = "cultivar"


def column_name(feature: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", feature.lower()).strip("_")


def write_example_csv(path: str) -> None:
    from sklearn.datasets import load_wine

    wine = load_wine()
    columns = [column_name(feature) for feature in wine.feature_names]
    rows = [
        {**{column: repr(float(value)) for column, value in zip(columns, features)}, TARGET: CULTIVARS[label]}
        for features, label in zip(wine.data, wine.target)
    ]
    write_csv(path, rows, columns + [TARGET])


if __name__ == "__main__":
    write_example_csv(sys.argv[1])
