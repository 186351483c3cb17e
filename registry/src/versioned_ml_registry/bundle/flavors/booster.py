"""A gradient-boosted model saved in its library's native format, behind the scikit-learn
preprocessing it was trained with (saved with skops): what the xgboost and lightgbm flavors load.

Class ``i`` of a classifier is the signature's ``labels[i]``: the project trains the booster on
labels encoded in that order (or on the labels themselves, which the library sorts the same way).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import RegistryError
from . import sklearn as skops_flavor

PREPROCESS_FILE = "preprocess.skops"


def split(model):
    """(the preprocessing pipeline or None, the final estimator) of a fitted model."""
    steps = getattr(model, "steps", None)
    if not steps:
        return None, model
    from sklearn.pipeline import Pipeline

    head = Pipeline(steps[:-1]) if len(steps) > 1 else None
    return head, steps[-1][1]


def check_classes(estimator, signature, where: str) -> None:
    """The booster's classes must be the signature's labels, in order, or their indices."""
    classes = getattr(estimator, "classes_", None)
    if classes is None or not signature or signature.get("task") != "classification":
        return
    labels = list((signature.get("output") or {}).get("labels") or [])
    as_text = [str(c) for c in classes]
    if as_text != labels and as_text != [str(i) for i in range(len(labels))]:
        raise RegistryError(f"{where}: the booster's classes {as_text[:5]} are neither the signature's labels "
                            f"{labels[:5]} nor their indices: encode the target in the signature's label order")


def save_preprocess(head, folder) -> list[str]:
    if head is None:
        return []
    (Path(folder) / PREPROCESS_FILE).write_bytes(skops_flavor.dumps(head))
    return [PREPROCESS_FILE]


def load_preprocess(blobs: dict, trusted, where: str):
    if PREPROCESS_FILE not in blobs:
        return None
    return skops_flavor.loads(blobs[PREPROCESS_FILE], trusted, f"{where}/{PREPROCESS_FILE}")


class BoosterModel:
    """``predict`` and ``predict_proba`` on the raw matrix: preprocessing, then the booster.

    ``predict_scores(X)`` is the library's own prediction: class probabilities (one column for a
    binary model: the second class's), or numbers for regression.
    """

    def __init__(self, preprocess, predict_scores, n_classes: int | None, signature: dict | None = None):
        import numpy as np

        self.preprocess = preprocess
        self.predict_scores = predict_scores
        self.n_classes = n_classes
        labels = [str(label) for label in ((signature or {}).get("output") or {}).get("labels") or []]
        if n_classes:  # only a classifier has predict_proba, as in scikit-learn
            self.classes_ = np.array(labels if len(labels) == n_classes else range(n_classes), dtype=object)
            self.predict_proba = self._predict_proba

    def _features(self, matrix):
        import numpy as np

        features = self.preprocess.transform(matrix) if self.preprocess is not None else matrix
        if hasattr(features, "toarray"):
            features = features.toarray()
        return np.asarray(features, dtype=float)

    def _predict_proba(self, matrix):
        import numpy as np

        scores = np.asarray(self.predict_scores(self._features(matrix)), dtype=float)
        if scores.ndim == 1:
            scores = np.column_stack([1.0 - scores, scores])
        return scores

    def predict(self, matrix):
        if self.n_classes:
            return self.classes_[self.predict_proba(matrix).argmax(axis=1)]
        return self.predict_scores(self._features(matrix))
