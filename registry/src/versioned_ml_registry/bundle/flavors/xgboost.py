"""XGBoost: the booster in XGBoost's own UBJSON format (``model.ubj``), the preprocessing with skops."""

from __future__ import annotations

from pathlib import Path

from ...errors import missing_extra
from . import booster, final_estimator

NAME = "xgboost"
EXTRA = "xgboost"
MODEL_FILE = "model.ubj"


def owns(model) -> bool:
    return type(final_estimator(model)).__module__.startswith("xgboost.")


def _xgboost():
    try:
        import xgboost
    except ImportError:
        raise missing_extra("an XGBoost model", EXTRA) from None
    return xgboost


def save(model, folder, signature=None) -> list[str]:
    head, estimator = booster.split(model)
    booster.check_classes(estimator, signature, str(folder))
    Path(folder).mkdir(parents=True, exist_ok=True)
    raw = estimator.get_booster().save_raw(raw_format="ubj")
    (Path(folder) / MODEL_FILE).write_bytes(bytes(raw))
    return booster.save_preprocess(head, folder) + [MODEL_FILE]


def load(blobs: dict, trusted, where: str, signature: dict | None = None):
    xgboost = _xgboost()
    model = xgboost.Booster()
    model.load_model(bytearray(blobs[MODEL_FILE]))
    objective = model.attr("objective") or _objective(model)
    n_classes = None
    if objective.startswith(("binary:", "multi:")):
        n_classes = int(_config(model)["learner"]["learner_model_param"].get("num_class") or 0) or 2
    return booster.BoosterModel(booster.load_preprocess(blobs, trusted, where),
                                lambda features: model.inplace_predict(features), n_classes, signature)


def _config(model) -> dict:
    import json

    return json.loads(model.save_config())


def _objective(model) -> str:
    return _config(model)["learner"]["objective"]["name"]
