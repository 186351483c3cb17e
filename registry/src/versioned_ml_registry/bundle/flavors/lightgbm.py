"""LightGBM: the booster in LightGBM's own text format (``model.txt``), the preprocessing with skops."""

from __future__ import annotations

from pathlib import Path

from ...errors import missing_extra
from . import booster, final_estimator

NAME = "lightgbm"
EXTRA = "lightgbm"
MODEL_FILE = "model.txt"


def owns(model) -> bool:
    return type(final_estimator(model)).__module__.startswith("lightgbm.")


def save(model, folder, signature=None) -> list[str]:
    head, estimator = booster.split(model)
    booster.check_classes(estimator, signature, str(folder))
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / MODEL_FILE).write_text(estimator.booster_.model_to_string(), encoding="utf-8")
    return booster.save_preprocess(head, folder) + [MODEL_FILE]


def load(blobs: dict, trusted, where: str, signature: dict | None = None):
    try:
        import lightgbm
    except ImportError:
        raise missing_extra("a LightGBM model", EXTRA) from None
    model = lightgbm.Booster(model_str=blobs[MODEL_FILE].decode("utf-8"))
    objective = str(model.params.get("objective", ""))
    n_classes = None
    if objective.startswith(("binary", "multiclass", "softmax", "cross_entropy")):
        n_classes = max(int(model.params.get("num_class", 1) or 1), 2)
    return booster.BoosterModel(booster.load_preprocess(blobs, trusted, where),
                                lambda features: model.predict(features), n_classes, signature)
