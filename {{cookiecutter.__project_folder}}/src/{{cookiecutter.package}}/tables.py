"""Reading a table, CSV or Parquet, with pyarrow: one library for both formats, parsing in C,
no pandas needed.

Values come out as plain Python: CSV fields as text, never guessed (``007`` stays ``007``; the
family's feature types decide, data.py), Parquet values as their column's type. A value equal
to one of the missing markers (the family's ``data.missing_values``), and a NaN, is None. A
row whose every value is missing (a blank line) is left out.

Every row remembers where it came from, so a data error names the file, the place and the
column in one line (``Table.error``): for CSV the line in the file (the header is line 1; a
quoted value spanning lines counts all of its lines), for Parquet the row group and the row in
it. A file is read as Parquet when it starts with Parquet's magic bytes, else as CSV, whatever
its name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProjectError
from .files import require_file

DEFAULT_MISSING = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
PARQUET_MAGIC = b"PAR1"
CSV, PARQUET = "CSV", "Parquet"


@dataclass
class Table:
    """A table's columns and rows (``{column: value}``), and where each row came from."""

    path: str
    format: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    # CSV: each row's number among the file's records (the header is record 1);
    # Parquet: (row group, row in it), both counted from 1
    places: list = field(default_factory=list)
    row_groups: int = 0

    def where(self, index: int) -> str:
        """Where row ``index`` is in the file: ``line 41`` or ``row group 2 of 3, row 17``."""
        if self.format == PARQUET:
            group, row = self.places[index]
            return f"row group {group} of {self.row_groups}, row {row}"
        # a record is one line, plus one more per line break inside its quoted values
        spanned = sum(str(value).count("\n") for row in self.rows[:index] for value in row.values()
                      if isinstance(value, str))
        return f"line {self.places[index] + spanned}"

    def error(self, index: int, column: str, problem: str) -> ProjectError:
        """The one-line error about row ``index``'s value in ``column``."""
        return ProjectError(f"{self.path}, {self.where(index)}, column {column!r}: {problem}")


def is_parquet(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def read_table(path, missing_values: list[str], columns: list[str] | None = None) -> Table:
    """The table at ``path`` (CSV or Parquet), ``missing_values`` read as None. ``columns``:
    read only these (those the file lacks are left out: the caller names them)."""
    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"{path}: no such file")
    if is_parquet(path):
        return read_parquet(path, missing_values, columns)
    return read_csv_table(path, missing_values)


# ---- CSV -------------------------------------------------------------------------------------


def csv_header(path: Path) -> list[str]:
    import pyarrow.csv as pcsv

    with pcsv.open_csv(path, read_options=pcsv.ReadOptions(use_threads=False),
                       parse_options=pcsv.ParseOptions(newlines_in_values=True,
                                                       invalid_row_handler=lambda row: "skip")) as reader:
        return list(reader.schema.names)


def read_csv_table(path: Path, missing_values: list[str]) -> Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    invalid = []

    def refuse_later(row) -> str:  # collected, then reported with its line
        invalid.append(row)
        return "skip"

    try:
        header = csv_header(path)
        data = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False),
            parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False,
                                            invalid_row_handler=refuse_later),
            convert_options=pcsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                                null_values=list(missing_values), strings_can_be_null=True,
                                                quoted_strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        raise csv_error(path, str(exc)) from None
    except OSError as exc:
        raise ProjectError(f"{path} cannot be read: {exc}") from None
    rows = data.to_pylist()
    table = Table(str(path), CSV, list(data.column_names))
    for number, row in enumerate(rows, start=2):
        if any(value is not None for value in row.values()):
            table.rows.append(row)
            table.places.append(number)
    if invalid:
        raise ragged_row_error(table, rows, min(invalid, key=lambda row: row.number))
    return table


def ragged_row_error(table: Table, rows: list[dict], row) -> ProjectError:
    """A record with the wrong number of fields: pyarrow numbers records, not lines."""
    spanned = sum(str(value).count("\n") for record in rows[:row.number - 2] for value in record.values()
                  if isinstance(value, str))
    return ProjectError(f"{table.path}, line {row.number + spanned}: {row.actual_columns} fields, the header has "
                        f"{row.expected_columns}: fix that line (quote values that hold a comma)")


def csv_error(path: Path, message: str) -> ProjectError:
    if "Empty CSV file" in message:
        return ProjectError(f"{path} is empty: a table needs a header line and rows")
    if "invalid UTF8" in message:
        return ProjectError(f"{path}, line {first_non_utf8_line(path)}: not UTF-8 text: save the file as UTF-8")
    detail = message.splitlines()[0] if message else "unreadable"
    return ProjectError(f"{path} cannot be read as CSV: {detail}")


def first_non_utf8_line(path: Path) -> int:
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


# ---- Parquet ---------------------------------------------------------------------------------


def plain(value, missing: set[str]):
    """A Parquet value as a table value: markers and NaN are None."""
    if isinstance(value, str) and value in missing:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read_parquet(path: Path, missing_values: list[str], columns: list[str] | None) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise ProjectError(f"{path} cannot be read as Parquet: {str(exc).splitlines()[0]}") from None
    names = [name for name in schema.names if columns is None or name in columns]
    groups = parquet.metadata.num_row_groups
    for name in names:
        kind = schema.field(name).type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            raise ProjectError(f"{path}, row group 1 of {max(groups, 1)}, column {name!r}: a nested or binary "
                               f"column ({kind}): flatten it into plain columns, one number or string per cell")
    table = Table(str(path), PARQUET, names, row_groups=groups)
    missing = set(missing_values)
    for group in range(groups):
        try:
            rows = parquet.read_row_group(group, columns=names).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            raise ProjectError(f"{path}, row group {group + 1} of {groups}: cannot be read: "
                               f"{str(exc).splitlines()[0]}") from None
        for number, row in enumerate(rows, start=1):
            row = {name: plain(value, missing) for name, value in row.items()}
            if any(value is not None for value in row.values()):
                table.rows.append(row)
                table.places.append((group + 1, number))
    return table


# ---- the pipeline's own CSV files ------------------------------------------------------------


def read_rows(path) -> list[dict]:
    """The rows of a CSV the pipeline wrote (data/prepared/): an empty field is missing."""
    return read_table(require_file(str(path)), [""]).rows

