"""sha256 of every bundle file, recorded in the version tag beside DVC's md5, and checked on
every read of a released bundle's bytes.

DVC addresses content by md5, and the registry's md5 chain (version tag → dvc.lock → ``.dir``
manifest → file) proves the bytes are the ones DVC stored. md5 collisions with a chosen prefix
are practical, so someone who can write to the DVC remote could store a different file whose
md5 is the same. The tag's sha256 is what the bytes are checked against for that.

In the version tag, ``sha256`` maps each file's path relative to the bundle folder (``path``)
to its hex sha256::

    path: models/intent
    md5: {models/intent: 3f2c...e1.dir}
    sha256: {model.skops: 9b1d...04, signature.json: 27aa...5c, ...}

Tags released before sha256 was recorded have no ``sha256``: they load on md5 alone, and
``verify`` says so in one line per version.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..errors import RegistryError

_HEX = re.compile(r"[0-9a-f]{64}")
SHOWN = 12  # hex digits of a sha256 an error message shows


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_sha256(root) -> dict[str, str]:
    """``{file path relative to root: sha256}`` of every file under ``root``: what a release records."""
    root = Path(root)
    return {item.relative_to(root).as_posix(): sha256_file(item)
            for item in sorted(root.rglob("*")) if item.is_file()}


def recorded_sha256(meta: dict, label: str) -> dict[str, str] | None:
    """The ``sha256`` mapping a version tag's body records, or None for a tag written before
    sha256 was recorded. A body that records one in another shape is refused: anyone who can
    push a tag writes these bodies, and a malformed record must not read as "none"."""
    recorded = meta.get("sha256") if isinstance(meta, dict) else None
    if recorded is None:
        return None
    if not (isinstance(recorded, dict) and recorded
            and all(isinstance(name, str) and isinstance(value, str) and _HEX.fullmatch(value)
                    for name, value in recorded.items())):
        raise RegistryError(f"{label}: its tag's sha256 is not a mapping of bundle file to 64 hex digits")
    return recorded


def sha256_problem(label: str, bundle_path: str, name: str, actual: str,
                   recorded: dict[str, str] | None, where: str = "") -> str | None:
    """One line when ``actual``, the sha256 of the bytes read for ``name`` (``where``: from
    where, e.g. " in the DVC remote"), is not what the tag recorded; None when it is, or when
    the tag records no sha256 at all (an older release)."""
    if recorded is None:
        return None
    expected = recorded.get(name)
    if expected is None:
        return f"{label}: its tag records no sha256 for {bundle_path}/{name}; refusing it"
    if actual != expected:
        return (f"{label}: {bundle_path}/{name}{where} has sha256 {actual[:SHOWN]}..., its version tag "
                f"recorded {expected[:SHOWN]}...; refusing it: these are not the bytes that were released")
    return None


def check_sha256(label: str, bundle_path: str, name: str, data: bytes, recorded: dict[str, str] | None) -> None:
    """Raise RegistryError when ``data`` read for ``name`` is not the file the tag recorded."""
    problem = sha256_problem(label, bundle_path, name, sha256_bytes(data), recorded)
    if problem:
        raise RegistryError(problem)


def tag_findings(versions) -> tuple[list[str], list[str]]:
    """``verify``'s view of the sha256 the version tags record: (problems, warnings), one line
    each. A sha256 record in the wrong shape is a problem; a tag that records an artifact md5
    but no sha256 (released before sha256 was recorded) is a warning: it still loads."""
    problems, warnings = [], []
    for info in versions:
        try:
            recorded = recorded_sha256(info.meta, info.tag)
        except RegistryError as error:
            problems.append(str(error))
            continue
        md5 = info.meta.get("md5")
        if recorded is None and isinstance(md5, dict) and md5:
            warnings.append(f"{info.tag} records no sha256 (released before sha256 was recorded): "
                            "its files are checked by md5 only; the family's next release pins sha256")
    return problems, warnings


def remote_sha256_problems(toplevel: str, info, remote: str | None = None) -> list[str]:
    """``verify --remote``: the bytes of every file of ``info``'s bundle as the DVC remote holds
    them, against the md5 the ``.dir`` manifest lists and the sha256 the tag recorded. Reads
    the whole bundle from the remote. A tag without sha256, or with a malformed one
    (``tag_findings`` reports it), is not read."""
    label = f"{info.family} {info.vstring}"
    try:
        recorded = recorded_sha256(info.meta, label)
    except RegistryError:
        return []
    if recorded is None:
        return []
    from ..dvc.store import remote_digests  # imports DVC

    path = info.bundle_path
    problems = []
    for name, (listed, md5, sha256) in sorted(remote_digests(toplevel, info.commit, path, remote).items()):
        if md5 != listed:
            problems.append(f"{label}: {path}/{name} in the DVC remote has md5 {md5}, the .dir manifest lists {listed}")
            continue
        problem = sha256_problem(label, path, name, sha256, recorded, where=" in the DVC remote")
        if problem:
            problems.append(problem)
    return problems
