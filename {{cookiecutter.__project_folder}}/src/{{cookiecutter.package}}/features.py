"""The preprocessing: fitted on the training split, saved inside the model bundle and applied
unchanged at serving time, so every model version carries the exact preprocessing it was
trained with."""

from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler


def preprocessing_steps(params: dict) -> list[tuple[str, object]]:
    steps = [("impute", SimpleImputer(strategy=params["impute_strategy"]))]
    if params["scale"]:
        steps.append(("scale", StandardScaler()))
    return steps
