"""What `add-family` infers from a CSV, and what it refuses (nothing is written here: these
check the inspection that runs before anything is written)."""

import csv

import pytest

from {{ cookiecutter.package }}.add_family import MIN_ROWS, AddFamilyError, inspect


def write(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_types_required_and_task_are_inferred(tmp_path):
    rows = [[str(i), "" if i % 5 == 0 else ["a", "b"][i % 2], f"{i * 1.5}", ["yes", "no"][i % 2]] for i in range(30)]
    found = inspect(write(tmp_path / "d.csv", ["n", "colour", "x", "y"], rows), "y", None)
    assert found["task"] == "classification"
    assert found["features"] == {"n": {"type": "numeric", "required": True},
                                 "colour": {"type": "categorical", "required": False},
                                 "x": {"type": "numeric", "required": True}}


def test_a_numeric_target_with_many_values_is_regression(tmp_path):
    rows = [[str(i), str(i * 2.5)] for i in range(40)]
    assert inspect(write(tmp_path / "d.csv", ["x", "y"], rows), "y", None)["task"] == "regression"
    rows = [[str(i), str(i % 3)] for i in range(40)]
    assert inspect(write(tmp_path / "d.csv", ["x", "y"], rows), "y", None)["task"] == "classification"


@pytest.mark.parametrize("header, rows, target, task, message", [
    (["x", "y"], [["1", "a"]] * 30, "z", None, "not a column"),
    (["x", "y"], [["1", "a"], ["2", "b"]] * 5, "y", None, f"at least {MIN_ROWS}"),
    (["x", "y"], [["1", "a"]] * 30, "y", None, "at least 2 classes"),
    (["x", "y"], [["1", "a"], ["2", "b"]] * 15, "y", "regression", "numeric target"),
    (["x", "y"], [["", "a"], ["", "b"]] * 15, "y", None, "type cannot be inferred"),
    (["x", "x"], [["1", "a"]] * 30, "x", None, "appears twice"),
    (["y"], [["a"], ["b"]] * 15, "y", None, "no column besides"),
])
def test_bad_input_is_refused(tmp_path, header, rows, target, task, message):
    with pytest.raises(AddFamilyError, match=message):
        inspect(write(tmp_path / "d.csv", header, rows), target, task)
