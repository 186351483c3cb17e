"""The preprocessing: fitted on the training split, saved inside the model bundle and applied
unchanged at serving time, so every model version carries the exact preprocessing it was
trained with.

Numeric inputs: missing values imputed, then scaled. Categorical inputs: missing values
imputed with the most frequent category, then one-hot encoded; a category never seen in
training encodes as all zeros (handle_unknown="ignore"), so serving never fails on it.
Text inputs: a missing text is an empty one, then each text column is vectorized by the
preprocessing conf's ``text:`` (hydra ``_target_``; TF-IDF by default), whose fitted
vocabulary is saved with the model. The pipeline's input is the matrix the bundle contract
builds from raw records (``versioned_ml_registry.bundle.records_to_matrix``): columns in
signature order."""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .estimators import instantiate

DEFAULT_TEXT = {"_target_": "sklearn.feature_extraction.text.TfidfVectorizer"}
# with text, the features come out sparse when less than this share of them is non-zero
DEFAULT_SPARSE_THRESHOLD = 0.3


def text_steps(params: dict) -> Pipeline:
    """One text column (given as a one-column matrix): missing -> "", then the vectorizer,
    which takes the column as 1-D (a scalar column index) as scikit-learn's vectorizers need."""
    vectorizer = instantiate(params.get("text") or DEFAULT_TEXT, "preprocessing.text (conf/preprocessing/)")
    return Pipeline([
        ("impute", SimpleImputer(strategy="constant", fill_value="", missing_values=None)),
        ("vectorize", ColumnTransformer([("words", vectorizer, 0)])),
    ])


def preprocessor(inputs: list[dict], params: dict) -> ColumnTransformer:
    """A ColumnTransformer over ``inputs`` (the signature's inputs, in column order)."""
    numeric = [i for i, field in enumerate(inputs) if field["type"] == "numeric"]
    categorical = [i for i, field in enumerate(inputs) if field["type"] == "categorical"]
    text = [i for i, field in enumerate(inputs) if field["type"] == "text"]
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
    for number, index in enumerate(text):
        transformers.append((f"text{number}", text_steps(params), [index]))
    sparse = params.get("sparse_threshold", DEFAULT_SPARSE_THRESHOLD) if text else 0
    return ColumnTransformer(transformers, sparse_threshold=sparse)
