"""The preprocessing: fitted on the training split, saved inside the model bundle and applied
unchanged at serving time, so every model version carries the exact preprocessing it was
trained with.

Numeric inputs: missing values imputed, then scaled. Categorical inputs: missing values
imputed with the most frequent category, then one-hot encoded; a category never seen in
training encodes as all zeros (handle_unknown="ignore"), so serving never fails on it.
The pipeline's input is the matrix the bundle contract builds from raw records
(``versioned_ml_registry.bundle.records_to_matrix``): columns in signature order."""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def preprocessor(inputs: list[dict], params: dict) -> ColumnTransformer:
    """A ColumnTransformer over ``inputs`` (the signature's inputs, in column order)."""
    numeric = [i for i, field in enumerate(inputs) if field["type"] == "numeric"]
    categorical = [i for i, field in enumerate(inputs) if field["type"] == "categorical"]
    numeric_steps = [("impute", SimpleImputer(strategy=params["numeric"]["impute"]))]
    if params["numeric"]["scale"]:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        # the bundle contract gives a missing category as None
        ("impute", SimpleImputer(strategy=params["categorical"]["impute"], missing_values=None)),
        ("encode", OneHotEncoder(handle_unknown="ignore")),
    ]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    return ColumnTransformer(transformers, sparse_threshold=0)
