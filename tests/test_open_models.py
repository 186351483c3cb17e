"""A team's own models and data (issue 16), on one baked project with the real cookiecutter,
DVC, hydra, pyarrow, XGBoost and LightGBM.

One module fixture copies the session's reproduced project and, with the project's own
commands, adds four families:

- ``species``: a CSV whose gaps are written `NA`, `N/A`, `null` or left empty; switched to
  HistGradientBoostingClassifier by editing one line of its conf;
- ``species_xgb``: the same table as Parquet, on XGBoost (conf/model/xgboost.yaml);
- ``species_lgbm``: the CSV again, on LightGBM;
- ``intent``: short customer utterances (a free-text feature) and their intent;

then one `dvc repro`, a commit, `model-registry release` of each, `dvc push`, and a promotion
of each to production (`--skip-staging --reason`).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import yaml

from vml_testkit.bake import copy_project, package_of, ran_stages
from vml_testkit.git import commit_all, git, run, tag_yaml
from vml_testkit.registry import registry
from vml_testkit.serving import Server

pytestmark = pytest.mark.slow

FAMILIES = ["species", "species_xgb", "species_lgbm", "intent"]
MODELS = {"species": "hist_gradient_boosting", "species_xgb": "xgboost", "species_lgbm": "lightgbm"}
LABELS = ["adelie", "chinstrap", "gentoo"]
MEASURES = ["bill_length", "bill_depth", "flipper", "mass"]
INTENTS = {
    "book_table": (["book", "reserve", "get me", "i need"], ["a table", "a table for two", "dinner for four",
                                                             "a spot tonight", "seats at eight"]),
    "cancel": (["cancel", "drop", "call off", "please undo"], ["my booking", "the reservation", "tonight's table",
                                                               "my order", "the dinner"]),
    "opening_hours": (["when do you", "what time do you", "are you", "until when do you"],
                      ["open", "close today", "open on sunday", "open late", "serve lunch"]),
}


# ---- data written by the tests ---------------------------------------------------------------


def species_rows(count: int = 300, seed: int = 5) -> list[list]:
    """Three species by four measurements, island and sex; some measurements and sexes missing,
    written the ways real exports write them."""
    rng = random.Random(seed)
    gaps = ["NA", "N/A", "null", ""]
    rows = []
    for _ in range(count):
        species = rng.choice(LABELS)
        centre = {"adelie": (38.8, 18.3, 190, 3700), "chinstrap": (48.8, 18.4, 196, 3730),
                  "gentoo": (47.5, 15.0, 217, 5080)}[species]
        measures = [round(rng.gauss(mean, mean * 0.04), 1) for mean in centre]
        row = [rng.choice(gaps) if rng.random() < 0.06 else value for value in measures]
        row += [rng.choice(["biscoe", "dream", "torgersen"]), "NA" if rng.random() < 0.05 else rng.choice(["m", "f"]),
                species]
        rows.append(row)
    return rows


def write_species_csv(path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*MEASURES, "island", "sex", "species"])
        writer.writerows(species_rows())
    return path


def write_species_parquet(path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = species_rows()
    columns = {name: [None if row[i] in ("NA", "N/A", "null", "") else float(row[i]) for row in rows]
               for i, name in enumerate(MEASURES)}
    columns.update(island=[row[4] for row in rows], sex=[row[5] for row in rows], species=[row[6] for row in rows])
    pq.write_table(pa.table(columns), path, row_group_size=100)
    return path


def write_intents(path: Path, count: int = 300, seed: int = 9) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["utterance", "channel", "intent"])
        for _ in range(count):
            intent = rng.choice(sorted(INTENTS))
            verbs, objects = INTENTS[intent]
            text = (f"{rng.choice(['', 'hi, ', 'please ', 'can you ', 'hello '])}{rng.choice(verbs)} "
                    f"{rng.choice(objects)}{rng.choice(['', ' please', ' thanks', '?', ' asap'])}")
            writer.writerow([text, rng.choice(["web", "app", "NA"]), intent])
    return path


def add_family(project: Path, *args: str) -> str:
    return run(project, "python", "-m", package_of(project), "add-family", *args).stdout


def use_model(project: Path, family: str, model: str) -> str:
    """Point the family's `- /model:` line at ``model``; return the diff of its conf."""
    conf = project / f"conf/families/{family}.yaml"
    lines = conf.read_text().splitlines(keepends=True)
    lines = [f"  - /model: {model}\n" if line.startswith("  - /model:") else line for line in lines]
    conf.write_text("".join(lines))
    return git(project, "diff", "--unified=0", "--", str(conf.relative_to(project)))


# ---- the shared project -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(reproduced, tmp_path_factory):
    base = tmp_path_factory.mktemp("open-models")
    project = copy_project(reproduced, base / "wine-cultivar", storage=base / "storage")
    commit_all(project, "feat: first model")
    added = {
        "species": add_family(project, "species", "--data", str(write_species_csv(base / "species.csv")),
                              "--target", "species"),
        "species_xgb": add_family(project, "species_xgb", "--data",
                                  str(write_species_parquet(base / "species.parquet")), "--target", "species"),
        "species_lgbm": add_family(project, "species_lgbm", "--data", str(base / "species.csv"),
                                   "--target", "species"),
        "intent": add_family(project, "intent", "--data", str(write_intents(base / "intents.csv")),
                             "--target", "intent"),
    }
    confs = {family: yaml.safe_load((project / f"conf/families/{family}.yaml").read_text()) for family in FAMILIES}
    commit_all(project, "feat: add the species and intent families")
    edits = {family: use_model(project, family, model) for family, model in MODELS.items()}
    done = run(project, "dvc", "repro")
    assert {f"train@{family}" for family in FAMILIES} <= set(ran_stages(done.stdout))
    commit_all(project, "feat: boosted species models")
    releases = {family: registry(project, "release", family).stdout for family in FAMILIES}
    run(project, "dvc", "push")
    for family in FAMILIES:
        registry(project, "promote", family, "v0.1.0", "production", "--skip-staging", "--reason", "issue 16 test")
    return project, added, confs, edits, releases


# ---- (a) a CSV with NA markers -------------------------------------------------------------------


def test_add_family_reads_na_markers_as_missing_numbers(released):
    _, added, confs, _, _ = released
    assert "4 numeric, 2 categorical features (5 with missing values, imputed)" in added["species"]
    features = confs["species"]["data"]["features"]
    assert features == {**{name: {"type": "numeric", "required": False} for name in MEASURES},
                        "island": {"type": "categorical"}, "sex": {"type": "categorical", "required": False}}
    assert confs["species"]["data"]["missing_values"] == ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
    # the Parquet table gives the same types, from its column types; it is kept as Parquet
    assert confs["species_xgb"]["data"]["features"] == features
    assert confs["species_xgb"]["data"]["raw"] == "data/raw/species_xgb.parquet"
    assert confs["intent"]["data"]["features"] == {"utterance": {"type": "text"},
                                                   "channel": {"type": "categorical", "required": False}}


# ---- (b) one conf edit: HistGradientBoostingClassifier, released, promoted, probabilities --------


def test_one_conf_edit_switches_the_model_and_production_gives_probabilities(released):
    project, _, _, edits, releases = released
    changed = [line for line in edits["species"].splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-  - /model: logistic_regression   # a conf/model/ file; for classification: "
                       "hist_gradient_boosting, lightgbm, logistic_regression, random_forest, xgboost",
                       "+  - /model: hist_gradient_boosting"]
    assert "released species v0.1.0" in releases["species"], releases["species"]
    flavor = tag_yaml(project, "species@v0.1.0")["flavor"]
    assert flavor["flavor"] == "sklearn" and flavor["estimator"].endswith(".HistGradientBoostingClassifier")
    assert registry(project, "resolve", "species", "--stage", "production").stdout.strip() == "v0.1.0"

    from versioned_ml_registry import load_model

    model = load_model("species", repo=str(project), stage="production")
    assert model.labels == LABELS and model.has_probabilities
    records = [{"bill_length": 38.5, "bill_depth": 18.5, "flipper": 189, "mass": 3650, "island": "dream", "sex": "f"},
               {"bill_length": 47.0, "bill_depth": None, "flipper": 219, "mass": None, "island": "biscoe"},
               {"bill_length": 49.5, "bill_depth": 18.6, "flipper": 196, "mass": 3700, "island": "dream", "sex": None}]
    probabilities = model.predict_proba(records)
    assert all(len(row) == 3 and abs(sum(row) - 1) < 1e-6 for row in probabilities)
    # columns in label order: the most probable column is the predicted label
    assert [LABELS[row.index(max(row))] for row in probabilities] == model.predict(records)
    assert model.predict(records) == ["adelie", "gentoo", "chinstrap"]
    assert model.matches_fingerprint()


# ---- (c) XGBoost and LightGBM in their native formats --------------------------------------------


@pytest.mark.parametrize("family, flavor, native", [("species_xgb", "xgboost", "model.ubj"),
                                                    ("species_lgbm", "lightgbm", "model.txt")])
def test_a_booster_family_is_released_in_its_native_format_and_predicts(released, family, flavor, native):
    project, _, _, _, releases = released
    assert f"released {family} v0.1.0" in releases[family], releases[family]
    bundle = project / "models" / family
    assert {path.name for path in bundle.iterdir()} == {native, "preprocess.skops", "flavor.json", "signature.json",
                                                        "fingerprint.json", "card.json", "profile.json"}
    recorded = tag_yaml(project, f"{family}@v0.1.0")["flavor"]
    assert recorded["flavor"] == flavor and recorded["trusted_types"] == []
    card = json.loads((bundle / "card.json").read_text())
    assert card["model"]["flavor"] == flavor and flavor in card["requirements"]["packages"]
    assert json.loads((project / f"metrics/{family}.json").read_text())["accuracy"] > 0.8

    from versioned_ml_registry import load_model

    model = load_model(family, repo=str(project), stage="production")
    assert model.flavor == flavor and model.labels == LABELS
    records = [{"bill_length": 38.5, "bill_depth": 18.5, "flipper": 189, "mass": 3650, "island": "dream", "sex": "f"},
               {"bill_length": 47.0, "bill_depth": 14.8, "flipper": 219, "mass": 5100, "island": "biscoe",
                "sex": None}]
    assert model.predict(records) == ["adelie", "gentoo"]
    assert all(abs(sum(row) - 1) < 1e-6 for row in model.predict_proba(records))
    assert model.matches_fingerprint()


# ---- (d) a text family: its vectorizer pinned in the model ----------------------------------------


def test_a_text_family_is_released_with_its_vocabulary_and_predicts(released):
    project, _, _, _, releases = released
    assert "released intent v0.1.0" in releases["intent"], releases["intent"]
    signature = json.loads((project / "models/intent/signature.json").read_text())
    assert [(field["name"], field["type"]) for field in signature["inputs"]] == [("utterance", "text"),
                                                                                 ("channel", "categorical")]
    assert signature["output"]["labels"] == sorted(INTENTS) and signature["output"]["probabilities"] is True

    from versioned_ml_registry import load_model

    model = load_model("intent", repo=str(project), stage="production")
    records = [{"utterance": "could you book a table for two tonight", "channel": "web"},
               {"utterance": "please cancel my booking", "channel": None},
               {"utterance": "what time do you close on sunday"},
               {"utterance": None, "channel": "app"}]  # a missing text is an empty one
    assert model.predict(records)[:3] == ["book_table", "cancel", "opening_hours"]
    assert all(abs(sum(row) - 1) < 1e-6 for row in model.predict_proba(records))
    # the fitted vocabulary is inside the model: words never seen in training change nothing
    assert model.predict_proba([{"utterance": "zzz qqq", "channel": "web"}]) == \
        model.predict_proba([{"utterance": "", "channel": "web"}])


def test_every_new_family_is_served_by_its_production_tag(released):
    project = released[0]
    with Server(project, "--interval", "0.2") as server:
        server.wait_healthy()
        for family in FAMILIES:
            server.wait_serving(family, "v0.1.0")
        status, _, body = server.client.predict("intent", [{"utterance": "cancel the reservation please"}])
        assert status == 200 and body["version"] == "v0.1.0" and body["predictions"] == ["cancel"], body
        status, _, body = server.client.predict("species_lgbm", [{"bill_length": 47.0, "bill_depth": 14.8,
                                                                  "flipper": 219, "mass": 5100,
                                                                  "island": "biscoe"}])
        assert status == 200 and body["predictions"] == ["gentoo"], body

        # the same through the Open Inference Protocol, from tritonclient: text and categories
        # as BYTES, integers as INT64, probabilities from a booster
        import numpy as np
        import tritonclient.http as triton

        client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
        json_body = {"Content-Type": "application/json"}

        def column(name, values, datatype):
            tensor = triton.InferInput(name, [len(values)], datatype)
            tensor.set_data_from_numpy(np.array(values, dtype=object if datatype == "BYTES" else None),
                                       binary_data=False)
            return tensor

        result = client.infer("intent", [column("utterance", ["cancel the reservation please"], "BYTES")],
                              headers=json_body)
        assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict").tolist()] == ["cancel"]
        inputs = [column("bill_length", [47.0], "FP64"), column("bill_depth", [14.8], "FP64"),
                  column("flipper", [219], "INT64"), column("mass", [5100], "INT64"),
                  column("island", ["biscoe"], "BYTES")]
        result = client.infer("species_lgbm", inputs, headers=json_body, request_id="penguin-1",
                              outputs=[triton.InferRequestedOutput(name, binary_data=False)
                                       for name in ("predict", "predict_proba")])
        assert result.get_response()["model_version"] == "v0.1.0" and result.get_response()["id"] == "penguin-1"
        assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict").tolist()] == ["gentoo"]
        assert abs(result.as_numpy("predict_proba").sum() - 1.0) < 1e-6
        client.close()


def test_untrusted_types_lists_nothing_to_review_for_these_models(released):
    project = released[0]
    for family in ("species", "intent"):  # a histogram gradient boosting model; a TF-IDF vocabulary
        out = registry(project, "untrusted-types", f"build/{family}/model", "--json").stdout
        assert json.loads(out)["untrusted_types"] == [], out


def test_the_projects_own_tests_pass_with_these_families(released):
    """They are generic: each family's model, with text, XGBoost and LightGBM, trained on synthetic rows."""
    project = released[0]
    done = run(project, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert " passed" in done.stdout and "failed" not in done.stdout and "skipped" not in done.stdout, done.stdout
