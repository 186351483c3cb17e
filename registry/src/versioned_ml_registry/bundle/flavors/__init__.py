"""Model flavors: how one kind of fitted model is saved in a bundle, loaded safely and called.

A flavor is a module with:

- ``NAME``: what ``flavor.json`` and the version tag record (``sklearn``, ``xgboost``, ``lightgbm``);
- ``EXTRA``: the pip extra of a generated project that installs it (None: always there);
- ``owns(model)``: whether a fitted estimator is of this flavor;
- ``save(model, folder, signature) -> list[str]``: write the model's files into ``folder``, with
  bytes that depend only on the fitted model, and return their names;
- ``load(blobs, trusted, where, signature=None)``: the model from ``{file name: bytes}``, running
  no code from the files (no pickle) and trusting only the skops types in ``trusted``.

The loaded model answers ``predict(matrix)`` with labels or numbers and, for classifiers that
have them, ``predict_proba(matrix)`` whose columns follow ``classes_``; the matrix is what
``contract.records_to_matrix`` builds. The bump evidence needs nothing else: it compares the
predictions (and probabilities) on the probe set and the md5s of the files.
"""

from __future__ import annotations

from importlib import import_module

from ...errors import RegistryError

NAMES = ("sklearn", "xgboost", "lightgbm")
DEFAULT = "sklearn"  # a bundle without flavor.json was written before flavors existed


def flavor(name: str):
    """The flavor module called ``name``; RegistryError for an unknown one."""
    if name not in NAMES:
        raise RegistryError(f"unknown model flavor {name!r}: expected one of {', '.join(NAMES)}")
    return import_module(f".{name}", __name__)


def flavor_of(model):
    """The flavor module of a fitted estimator: the boosters' own, else scikit-learn's."""
    for name in NAMES[1:]:
        module = flavor(name)
        if module.owns(model):
            return module
    return flavor(DEFAULT)


def final_estimator(model):
    """The last step of a fitted pipeline, or the model itself."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model
