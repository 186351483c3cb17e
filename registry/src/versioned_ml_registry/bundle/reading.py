"""Reading bundles for comparison: from the working tree (what ``dvc repro`` just wrote) or at
a git revision through DVC (cache first, then the remote; never the working tree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..dvc.files import norm_path
from ..dvc.store import dvc_dir_listing, open_dvc_fs, read_dvc_file
from ..errors import RegistryError
from .contract import (
    FLAVOR_FILE,
    JSON_FILES,
    flavor_meta,
    json_object,
    md5_bytes,
    md5_file,
)
from .digests import check_sha256


@dataclass
class Bundle:
    """The parts of a bundle the bump rules compare.

    ``files`` maps every file of the bundle (relative to the bundle folder) to its md5, so a
    change to any file, even one the rules do not know, is noticed.
    """

    path: str
    signature: dict
    fingerprint: dict
    card: dict
    model_md5: str  # of the model files: one file's md5, else an md5 over theirs
    files: dict[str, str] = field(default_factory=dict)
    flavor: dict = field(default_factory=dict)  # flavor.json (a scikit-learn default for older bundles)


def _bundle(path: str, files: dict[str, str], read, where: str) -> Bundle:
    flavor = flavor_meta({FLAVOR_FILE: read(FLAVOR_FILE)} if FLAVOR_FILE in files else {}, where)
    missing = [name for name in (*flavor["files"], *JSON_FILES) if name not in files]
    if missing:
        raise RegistryError(f"bundle {where} lacks {', '.join(missing)}; run `dvc repro`")
    parsed = {name: json_object(read(name), f"{where}/{name}") for name in JSON_FILES}
    model_files = sorted(flavor["files"])
    return Bundle(
        path=path,
        signature=parsed["signature.json"],
        fingerprint=parsed["fingerprint.json"],
        card=parsed["card.json"],
        model_md5=files[model_files[0]] if len(model_files) == 1 else
        md5_bytes(" ".join(f"{name}:{files[name]}" for name in model_files).encode()),
        files=dict(sorted(files.items())),
        flavor=flavor,
    )


def read_bundle_from_workspace(repo, bundle_path: str) -> Bundle:
    """The bundle as the working tree holds it (what the last ``dvc repro`` wrote)."""
    root = Path(repo) / bundle_path
    if not root.is_dir():
        raise RegistryError(f"no bundle at {bundle_path}; run `dvc repro` first")
    files = {
        item.relative_to(root).as_posix(): md5_file(item)
        for item in sorted(root.rglob("*"))
        if item.is_file()
    }
    return _bundle(norm_path(bundle_path), files, lambda name: (root / name).read_bytes(), bundle_path)


def read_bundle_at(repo, rev: str, bundle_path: str, sha256: dict | None = None,
                   label: str | None = None) -> Bundle:
    """The bundle recorded at ``rev``, read through DVC (cache first, then the remote).

    The JSON files are fetched, each checked against ``sha256`` (``{file: sha256}`` the version
    tag of ``rev`` records, :mod:`.digests`; ``label`` names that version in a refusal); the
    model files are known by the md5s of the ``.dir`` manifest, so comparing two bundles does
    not download the model.
    """
    bundle_path = norm_path(bundle_path)
    where = f"{bundle_path}@{rev[:7]}"

    def read(name: str) -> bytes:
        data = read_dvc_file(fs, f"{bundle_path}/{name}")
        check_sha256(label or where, bundle_path, name, data, sha256)
        return data

    fs = open_dvc_fs(repo, rev)
    try:
        _, files = dvc_dir_listing(fs, bundle_path)
        return _bundle(bundle_path, files, read, where)
    finally:
        fs.close()
