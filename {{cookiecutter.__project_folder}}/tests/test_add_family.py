"""What `add-family` infers from a CSV or Parquet file, and what it refuses (nothing is written
here: these check the inspection, csv_inspection.py, that runs before anything is written)."""

import csv
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from {{ cookiecutter.package }}.csv_inspection import MIN_ROWS, inspect, is_text
from {{ cookiecutter.package }}.errors import ProjectError
from {{ cookiecutter.package }}.family_conf import conf_text


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
    with pytest.raises(ProjectError, match=message):
        inspect(write(tmp_path / "d.csv", header, rows), target, task)


def test_the_written_conf_reads_back_every_name_literally(tmp_path):
    header = ["yes", "a: b", "it's", "#x", "café", "null", "Name-2"]
    rows = [[str(i), f"{i / 3}", "xyz"[i % 3], str(i * 2), "pq"[i % 2], "" if i % 4 else "1", str(i)]
            for i in range(30)]
    source = write(tmp_path / "it's ${x}.csv", header, rows)
    text = conf_text("tricky", source, "it's", inspect(source, "it's", None), Path("data/raw/tricky.csv"))
    conf = OmegaConf.to_container(OmegaConf.create(yaml.safe_load(text)), resolve=True)  # as hydra reads it
    assert conf["data"]["raw"] == "data/raw/tricky.csv"
    assert conf["data"]["missing_values"] == ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
    assert conf["trusted_types"] == []
    assert conf["task"] == "classification" and conf["data"]["target"] == "it's"
    assert list(conf["data"]["features"]) == ["yes", "a: b", "#x", "café", "null", "Name-2"]
    assert conf["data"]["features"]["café"] == {"type": "categorical"}
    assert conf["data"]["features"]["null"] == {"type": "numeric", "required": False}
    assert source.name in conf["card"]["description"] and source.name in conf["card"]["limitations"]


def parquet(path, columns: dict, row_group_size: int = 64):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_a_numeric_column_with_missing_markers_is_numeric_and_optional(tmp_path):
    markers = ["NA", "N/A", "NaN", "nan", "null", "NULL", "None", ""]
    rows = [[markers[i % 8] if i % 3 == 0 else f"{i * 0.7:.1f}", ["x", "NA"][i % 5 == 0], ["yes", "no"][i % 2]]
            for i in range(40)]
    found = inspect(write(tmp_path / "d.csv", ["length", "colour", "y"], rows), "y", None)
    assert found["features"] == {"length": {"type": "numeric", "required": False},
                                 "colour": {"type": "categorical", "required": False}}


def test_free_text_is_told_from_categories(tmp_path):
    phrases = [f"please book a table for {i} people" for i in range(30)]
    rows = [[phrases[i], ["red", "dark blue"][i % 2], f"v{i % 3}", ["a", "b"][i % 2]] for i in range(30)]
    found = inspect(write(tmp_path / "d.csv", ["message", "shade", "code", "y"], rows), "y", None)
    assert {name: spec["type"] for name, spec in found["features"].items()} == {
        "message": "text", "shade": "categorical", "code": "categorical"}


@pytest.mark.parametrize("values, text", [
    (["book a table"] * 12 + [f"w{i}" for i in range(8)], False),  # multi-word, but 9 distinct of 20
    ([f"book table {i}" for i in range(10)] + [f"w{i}" for i in range(10)], True),  # half multi-word, all distinct
    ([f"book table {i}" for i in range(9)] + [f"w{i}" for i in range(11)], False),  # under half multi-word
    ([f"x{i}" for i in range(20)], False),  # one word each: an identifier, not text
])
def test_the_text_rule_at_its_bounds(values, text):
    assert is_text(values) is text


def test_a_parquet_file_is_inspected_by_its_column_types(tmp_path):
    path = parquet(tmp_path / "d.parquet", {
        "age": [None if i % 4 == 0 else float(i) for i in range(30)],
        "plan": ["basic", "pro", None] * 10,
        "note": [f"called about invoice {i} twice" for i in range(30)],
        "flag": [True, False] * 15,
        "y": [i % 2 for i in range(30)]})
    found = inspect(path, "y", None)
    assert found["format"] == "Parquet" and found["task"] == "classification"
    assert found["features"] == {"age": {"type": "numeric", "required": False},
                                 "plan": {"type": "categorical", "required": False},
                                 "note": {"type": "text", "required": True},
                                 "flag": {"type": "categorical", "required": True}}


def test_a_parquet_file_with_a_nested_column_is_refused(tmp_path):
    path = parquet(tmp_path / "d.parquet", {"tags": [["a", "b"]] * 30, "y": [i % 2 for i in range(30)]})
    with pytest.raises(ProjectError, match="d.parquet, row group 1 of 1, column 'tags': a nested or binary column"):
        inspect(path, "y", None)


def test_a_missing_target_names_its_line(tmp_path):
    rows = [[str(i), "" if i == 12 else ["a", "b"][i % 2]] for i in range(30)]
    with pytest.raises(ProjectError, match=r"d.csv, line 14, column 'y': the target is missing \(in 1 row"):
        inspect(write(tmp_path / "d.csv", ["x", "y"], rows), "y", None)


def test_a_text_regression_target_names_its_line(tmp_path):
    rows = [[str(i), "many" if i == 3 else str(i * 1.5)] for i in range(30)]
    with pytest.raises(ProjectError, match="d.csv, line 5, column 'y': regression needs a numeric target: 'many'"):
        inspect(write(tmp_path / "d.csv", ["x", "y"], rows), "y", "regression")
