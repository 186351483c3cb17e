"""scikit-learn: the whole fitted pipeline in one skops file (``model.skops``)."""

from __future__ import annotations

from pathlib import Path

from ...errors import RegistryError
from ..skops_bytes import canonical_skops

NAME = "sklearn"
EXTRA = None
MODEL_FILE = "model.skops"


def owns(model) -> bool:
    return hasattr(model, "predict")


def dumps(model) -> bytes:
    import skops.io as sio

    return canonical_skops(sio.dumps(model))


def loads(data: bytes, trusted, where: str):
    """A skops file's object, trusting skops' defaults and ``trusted`` only."""
    import skops.io as sio

    try:
        return sio.loads(data, trusted=list(trusted))
    except Exception as exc:  # untrusted types or a malformed file
        raise RegistryError(f"cannot load {where} safely: {str(exc).splitlines()[0][:300]} "
                            "(review them with `model-registry untrusted-types`)") from None


def save(model, folder, signature=None) -> list[str]:
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / MODEL_FILE).write_bytes(dumps(model))
    return [MODEL_FILE]


def load(blobs: dict, trusted, where: str, signature: dict | None = None):
    if MODEL_FILE not in blobs:
        raise RegistryError(f"{where} has no {MODEL_FILE}")
    return loads(blobs[MODEL_FILE], trusted, f"{where}/{MODEL_FILE}")
