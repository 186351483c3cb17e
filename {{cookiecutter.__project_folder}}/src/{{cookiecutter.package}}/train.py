"""The `train` stage of one family: fit the preprocessing and the estimator its model conf
names (estimators.py), as one scikit-learn Pipeline, on the family's training split; save it in
its flavor's format (the registry's ``save_model_dir``: skops for scikit-learn, the native
format for XGBoost and LightGBM) with the signature it was trained for.

XGBoost and LightGBM classifiers learn class ``i`` as the signature's ``labels[i]`` (the sorted
labels), so the target is encoded in that order for them; scikit-learn estimators learn the
labels themselves.

Usage (dvc.yaml runs it per family): python -m {{ cookiecutter.package }}.train FAMILY
"""

from sklearn.pipeline import Pipeline
from versioned_ml_registry.bundle import save_model_dir
from versioned_ml_registry.bundle.flavors import flavor_of

from .data import features, matrix, setting, signature, targets, task, trusted_types
from .errors import ProjectError, run_stage
from .estimators import build_estimator, model_source
from .features import preprocessor
from .files import family_params, model_dir, prepared_dir, trained_signature, write_json
from .tables import read_rows


def encoded(outputs: list, labels: list[str]) -> list[int]:
    """Each label as its index in the signature's label order."""
    index = {label: position for position, label in enumerate(labels)}
    return [index[label] for label in outputs]


def fit(conf: dict, rows: list[dict], where: str = "the family's model conf") -> tuple[Pipeline, dict]:
    """The fitted pipeline (raw rows' matrix in, labels or numbers out) and its signature."""
    estimator = build_estimator(setting(conf, "model"), task(conf), setting(conf, "train.seed"), where)
    pipeline = Pipeline([("preprocess", preprocessor(features(conf), setting(conf, "preprocessing"))),
                         ("estimator", estimator)])
    inputs, outputs = matrix(conf, rows), targets(conf, rows)
    labels = sorted(set(outputs)) if task(conf) == "classification" else None
    if labels and flavor_of(pipeline).NAME != "sklearn":
        outputs = encoded(outputs, labels)
    try:
        pipeline.fit(inputs, outputs)
    except (ValueError, TypeError) as exc:  # scikit-learn's words for a bad setting or unusable data
        raise ProjectError(f"training with {where} failed: {str(exc).strip().splitlines()[0]}") from None
    return pipeline, signature(conf, labels)


def main(family: str) -> None:
    conf = family_params(family)
    where = model_source(conf.get("model"), family)
    model, trained = fit(conf, read_rows(f"{prepared_dir(family)}/train.csv"), where)
    save_model_dir(model, model_dir(family), trained, trusted_types(conf))
    write_json(trained_signature(family), trained)


if __name__ == "__main__":
    run_stage(main)
