"""Reproducible skops files: the same model saved twice gives the same bytes, so an unchanged
retrain keeps its md5 and reads as "identical", not as a PATCH."""

from __future__ import annotations

import io
import json
import zipfile


def canonical_skops(data: bytes) -> bytes:
    """The same skops file with reproducible bytes: same model in, same md5 out.

    skops names its array files and memo ``__id__``s after ``id()`` of the objects and zips
    them with the current time, so saving one model twice gives two md5s and every forced
    retrain would look like a weights change. This renumbers ids in order of appearance in
    schema.json, renames the arrays to match, and writes the zip sorted, with a fixed time.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    renumber: dict[str, int] = {}

    def new_id(old) -> int:
        return renumber.setdefault(str(old), len(renumber) + 1)

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    node[key] = new_id(value)
                elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
                    node[key] = f"{new_id(value[:-4])}.npy"
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    members = {"schema.json": json.dumps(schema, indent=2).encode("utf-8")}
    for info in source.infolist():
        if info.filename == "schema.json":
            continue
        stem, dot, ext = info.filename.rpartition(".")
        name = f"{renumber[stem]}.{ext}" if dot and stem in renumber else info.filename
        members[name] = source.read(info.filename)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            target.writestr(info, members[name])
    return out.getvalue()
