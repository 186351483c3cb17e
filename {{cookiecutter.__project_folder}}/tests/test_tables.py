"""Reading tables with pyarrow: CSV and Parquet, the missing markers, and where each row came
from, so that a data error names the file, its line (CSV) or row group (Parquet), and the column."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.package }}.errors import ProjectError
from {{ cookiecutter.package }}.tables import DEFAULT_MISSING, read_table


def test_csv_values_stay_text_and_markers_are_missing(tmp_path):
    (tmp_path / "t.csv").write_text("code,size,y\n007,NA,a\n010,1.50,\n")
    table = read_table(tmp_path / "t.csv", DEFAULT_MISSING)
    assert table.columns == ["code", "size", "y"]
    assert table.rows == [{"code": "007", "size": None, "y": "a"}, {"code": "010", "size": "1.50", "y": None}]


def test_csv_lines_count_the_header_blank_lines_and_quoted_line_breaks(tmp_path):
    (tmp_path / "t.csv").write_text('x,note\n1,a\n\n2,"three\nline\nnote"\n3,b\n\n4,c\n')
    table = read_table(tmp_path / "t.csv", DEFAULT_MISSING)
    assert [row["x"] for row in table.rows] == ["1", "2", "3", "4"]  # the blank lines are left out
    assert [table.where(index) for index in range(4)] == ["line 2", "line 4", "line 7", "line 9"]
    assert str(table.error(2, "x", "bad")) == f"{tmp_path / 't.csv'}, line 7, column 'x': bad"


def test_a_ragged_csv_line_is_named_by_its_line_in_the_file(tmp_path):
    (tmp_path / "t.csv").write_text('x,note\n1,"two\nlines"\n2,b,extra\n')
    with pytest.raises(ProjectError, match=r"t.csv, line 4: 3 fields, the header has 2"):
        read_table(tmp_path / "t.csv", DEFAULT_MISSING)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"x,y\n1,a\n2,\xff\n", r"t.csv, line 3: not UTF-8 text"),
])
def test_an_unreadable_csv_is_one_line(tmp_path, content, message):
    (tmp_path / "t.csv").write_bytes(content)
    with pytest.raises(ProjectError, match=message):
        read_table(tmp_path / "t.csv", DEFAULT_MISSING)


def test_parquet_rows_keep_their_types_and_row_groups(tmp_path):
    path = tmp_path / "t.data"  # Parquet by its content, whatever its name
    pq.write_table(pa.table({"n": [1.5, float("nan"), None, 4.0, 5.0], "s": ["a", "NA", None, "b", "c"]}), path,
                   row_group_size=2)
    table = read_table(path, DEFAULT_MISSING)
    assert table.format == "Parquet"
    assert table.rows == [{"n": 1.5, "s": "a"}, {"n": 4.0, "s": "b"}, {"n": 5.0, "s": "c"}]  # all-missing rows out
    assert [table.where(index) for index in range(3)] == ["row group 1 of 3, row 1", "row group 2 of 3, row 2",
                                                          "row group 3 of 3, row 1"]


def test_a_nested_parquet_column_is_refused_unless_left_out(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1, 2], "info": [{"a": 1}, {"a": 2}]}), path)
    with pytest.raises(ProjectError, match=r"t.parquet, row group 1 of 1, column 'info': a nested or binary column"):
        read_table(path, DEFAULT_MISSING)
    assert read_table(path, DEFAULT_MISSING, columns=["x"]).rows == [{"x": 1}, {"x": 2}]
