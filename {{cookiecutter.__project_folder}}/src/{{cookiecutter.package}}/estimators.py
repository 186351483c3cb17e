"""Estimators and transformers from configuration, with hydra's ``_target_``.

A model is configuration: ``conf/model/<name>.yaml`` names any importable scikit-learn-compatible
class with ``_target_`` and gives its arguments beside it::

    _target_: sklearn.ensemble.HistGradientBoostingClassifier
    max_iter: 200

The config stage records the file's name as ``model.name`` (so params.yaml, ``dvc params diff``
and these errors name it); it is not an argument. The family's ``train.seed`` becomes the
estimator's ``random_state`` when it takes one and the conf does not set it. The estimator must
suit the family's task: a classifier for classification, a regressor for regression.

XGBoost and LightGBM are extras of this project (``pip install -e ".[xgboost]"``, ``".[lightgbm]"``).
A wrong ``_target_``, a missing extra, a bad argument or an estimator of the other task is one
line naming the conf file.
"""

from importlib.util import find_spec

from .errors import ProjectError

# the top-level module of a class -> the extra of this project that installs it
EXTRAS = {"xgboost": "xgboost", "lightgbm": "lightgbm"}
TASK_KINDS = {"classification": "classifier", "regression": "regressor"}


def model_source(model: dict, family: str) -> str:
    """Where a family's model conf comes from, for messages."""
    name = model.get("name") if isinstance(model, dict) else None
    return f"conf/model/{name}.yaml" if name else f"the model: block of conf/families/{family}.yaml"


def instantiate(spec, where: str):
    """The object ``spec`` (``{_target_: class path, **arguments}``) describes."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate

    target = spec.get("_target_") if isinstance(spec, dict) else None
    if not isinstance(target, str) or not target:
        raise ProjectError(f"{where} has no _target_: name a class with its module, e.g. "
                           "_target_: sklearn.linear_model.LogisticRegression")
    top = target.split(".")[0]
    if top in EXTRAS and find_spec(top) is None:
        raise ProjectError(f"{where}: {target} needs the {EXTRAS[top]} extra, which is not installed: "
                           f'pip install -e ".[{EXTRAS[top]}]"')
    try:
        return hydra_instantiate(spec, _convert_="all")
    except InstantiationException as exc:
        if str(exc).startswith("Error locating target"):
            raise ProjectError(f"{where}: _target_ {target!r} cannot be imported: give the full path of an "
                               "installed class, e.g. sklearn.ensemble.RandomForestClassifier") from None
        cause = exc.__cause__ or exc
        detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise ProjectError(f"{where}: {target}: {detail}") from None


def kind_of(estimator) -> str | None:
    """``classifier``, ``regressor`` or None, as scikit-learn tells them apart."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        return "classifier"
    return "regressor" if is_regressor(estimator) else None


def build_estimator(model: dict, task: str, seed: int, where: str):
    """The unfitted estimator of a family's model conf, checked against the family's task."""
    if not isinstance(model, dict):
        raise ProjectError(f"{where}: the model must be a mapping with a _target_")
    arguments = {key: value for key, value in model.items() if key != "name"}
    estimator = instantiate(arguments, where)
    name = type(estimator).__name__
    if not (callable(getattr(estimator, "fit", None)) and callable(getattr(estimator, "predict", None))):
        raise ProjectError(f"{where}: {arguments['_target_']} is not an estimator (it has no fit and predict): "
                           "name a scikit-learn-compatible class")
    wanted, kind = TASK_KINDS[task], kind_of(estimator)
    if kind != wanted:
        raise ProjectError(f"{where}: {name} is {'a ' + kind if kind else 'neither a classifier nor a regressor'}, "
                           f"the family's task is {task}: choose a {wanted} in the family's `- /model:` line")
    if "random_state" not in arguments and "random_state" in estimator.get_params(deep=False):
        estimator.set_params(random_state=seed)
    return estimator
