"""Loading a released version for serving: the bytes of that version, verified.

``load_version`` fetches the bundle recorded at the version's commit through DVC (cache
first, then the remote; never the working tree's files) and checks, before loading anything:

1. dvc.lock at that commit records the directory md5 the version tag recorded;
2. the ``.dir`` manifest DVC serves for it hashes to that md5 (recomputed from its entries);
3. the bytes of model.skops and signature.json hash to the md5s the manifest lists.

Only then is model.skops loaded with ``skops.io.loads(..., trusted=["numpy.dtype"])``: any
other type outside skops' defaults is refused. Nothing of the generated package is imported.
"""

from __future__ import annotations

import json
import math

from .bundles import (
    MODEL_FILE,
    _norm,
    dvc_dir_listing,
    lock_md5s,
    manifest_md5,
    md5_bytes,
    open_dvc_fs,
    read_dvc_file,
)
from .errors import RegistryError

# The reviewed types outside skops' defaults, the same list as the pipeline's bundle.py
# (the registry is self-contained, so it keeps its own copy): numpy.dtype for any
# Pipeline + LabelEncoder, sklearn's Tree for the random_forest option. Never read from the file.
TRUSTED = ["numpy.dtype", "sklearn.tree._tree.Tree"]
_NUMERIC = {"float", "int", "integer", "number", "double", "bool", "boolean"}


class Predictor:
    """A loaded version: ``predict(records)`` returns the label of each record."""

    def __init__(self, family: str, version: str, pipeline, label_encoder, signature: dict,
                 commit: str | None = None, md5: str | None = None):
        self.family = family
        self.version = version
        self.pipeline = pipeline
        self.label_encoder = label_encoder
        self.signature = signature
        self.commit = commit
        self.md5 = md5
        self.inputs = [f for f in signature.get("inputs") or [] if isinstance(f, dict)]
        self.columns = [f["name"] for f in self.inputs]

    def __repr__(self) -> str:
        return f"Predictor({self.family}@{self.version})"

    def _row(self, index: int, record: dict) -> list:
        if not isinstance(record, dict):
            raise RegistryError(f"record {index}: expected an object of input fields")
        row = []
        for field in self.inputs:
            name = field["name"]
            value = record.get(name)
            if value is None:
                if field.get("required", True):
                    raise RegistryError(f'record {index}: missing required field "{name}"')
                value = math.nan
            elif str(field.get("type", "float")).lower() in _NUMERIC:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise RegistryError(
                        f'record {index}: field "{name}" must be {field.get("type")}, got {value!r}'
                    ) from None
            row.append(value)
        return row

    def predict(self, records: list[dict]) -> list[str]:
        import numpy as np  # lazy

        if isinstance(records, dict):
            records = [records]
        if not records:
            return []
        rows = [self._row(i, record) for i, record in enumerate(records)]
        numeric = all(str(f.get("type", "float")).lower() in _NUMERIC for f in self.inputs)
        X = np.array(rows, dtype=float if numeric else object)
        labels = self.label_encoder.inverse_transform(self.pipeline.predict(X))
        return [str(label) for label in labels]


def load_version(repo, family: str, version: str, commit: str, bundle_path: str,
                 recorded_md5: str) -> Predictor:
    """The bundle of ``family`` ``version`` at ``commit``, verified against ``recorded_md5``."""
    import skops.io as sio  # lazy

    repo = str(repo)
    bundle_path = _norm(bundle_path)
    label = f"{family} {version}"
    locked = lock_md5s(repo, bundle_path, rev=commit)["md5"][bundle_path]
    if locked != recorded_md5:
        raise RegistryError(
            f"{label}: dvc.lock at {commit[:7]} records {locked} for {bundle_path}, "
            f"the version tag recorded {recorded_md5}"
        )
    fs = open_dvc_fs(repo, commit)
    try:
        dir_md5, files = dvc_dir_listing(fs, bundle_path)
        if dir_md5 != recorded_md5:
            raise RegistryError(f"{label}: DVC serves {dir_md5} for {bundle_path}, "
                                f"expected {recorded_md5}")
        if manifest_md5(files) != recorded_md5:
            raise RegistryError(f"{label}: the .dir manifest of {bundle_path} does not hash "
                                f"to {recorded_md5}; the DVC cache or remote is corrupt")
        blobs = {}
        for name in (MODEL_FILE, "signature.json"):
            if name not in files:
                raise RegistryError(f"{label}: bundle {bundle_path} has no {name}")
            data = read_dvc_file(fs, f"{bundle_path}/{name}")
            if md5_bytes(data) != files[name]:
                raise RegistryError(
                    f"{label}: {bundle_path}/{name} has md5 {md5_bytes(data)}, the .dir "
                    f"manifest lists {files[name]}; refusing to load it"
                )
            blobs[name] = data
    finally:
        fs.close()

    try:
        signature = json.loads(blobs["signature.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{label}: signature.json is not valid JSON: {exc}") from exc
    try:
        loaded = sio.loads(blobs[MODEL_FILE], trusted=TRUSTED)
    except Exception as exc:  # untrusted types or a malformed file
        raise RegistryError(f"{label}: cannot load {MODEL_FILE} safely: {exc}") from exc
    if not isinstance(loaded, dict) or "pipeline" not in loaded or "label_encoder" not in loaded:
        raise RegistryError(f"{label}: {MODEL_FILE} must hold a dict with pipeline and label_encoder")
    return Predictor(family, version, loaded["pipeline"], loaded["label_encoder"], signature,
                     commit=commit, md5=recorded_md5)
