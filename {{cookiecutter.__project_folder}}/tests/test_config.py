"""Every family's configuration composes and is consistent; the config stage keeps
`dvc exp run -S` overrides but follows edits in conf/. Generic: these pass for any set of
families in conf/families/."""

from importlib.util import find_spec
from pathlib import Path

import pytest
from versioned_ml_registry.rules.names import family_problem

from {{ cookiecutter.package }} import families
from {{ cookiecutter.package }}.config import compose, compose_all, keep_overrides
from {{ cookiecutter.package }}.data import features, missing_values, signature, trusted_types
from {{ cookiecutter.package }}.estimators import EXTRAS, build_estimator
from {{ cookiecutter.package }}.evaluate import METRICS
from {{ cookiecutter.package }}.family_conf import models_for

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
FAMILIES = families.conf_names(str(ROOT / families.CONF_DIR))


def extra_missing(model: dict) -> str | None:
    """The extra a model conf needs that is not installed here, if any."""
    top = str(model.get("_target_", "")).split(".")[0]
    return EXTRAS[top] if top in EXTRAS and find_spec(top) is None else None


@pytest.fixture(scope="module")
def composed():
    return compose_all(CONF)["families"]


def test_there_is_a_family_and_each_name_is_a_registry_name():
    assert FAMILIES
    for name in FAMILIES:
        assert family_problem(name) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_composes_into_a_consistent_configuration(composed, family):
    conf = composed[family]
    assert conf["task"] in METRICS
    assert {"model", "preprocessing", "train", "data", "metrics", "registry", "card"} <= set(conf)
    assert features(conf) and conf["data"]["target"] not in [field["name"] for field in features(conf)]
    signature(conf, ["a", "b"])  # a valid signature.json
    missing_values(conf), trusted_types(conf)  # well formed
    if not extra_missing(conf["model"]):  # an estimator of the family's task
        build_estimator(conf["model"], conf["task"], conf["train"]["seed"], f"conf/families/{family}.yaml")
    assert set(conf["metrics"]) <= set(METRICS[conf["task"]])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_familys_gates_have_directions_and_name_its_metrics(composed, family):
    registry = composed[family]["registry"]
    for stage, gates in (registry.get("gates") or {}).items():
        assert stage in ("candidate", "production", "staging", "canary", "shadow"), stage
        for metric, bound in gates.items():
            assert metric in composed[family]["metrics"], f"gate on {metric}, which is not computed"
            bound = bound if isinstance(bound, dict) else {"min": bound}  # a bare number means min
            assert bound and set(bound) <= {"min", "max"}, bound
            assert all(isinstance(value, (int, float)) for value in bound.values()), bound


def test_families_yaml_and_dvc_yaml_match_conf(composed):
    """What the config stage checks before it writes params.yaml."""
    assert families.mismatch(families.entries_from(composed), str(ROOT)) is None


@pytest.mark.parametrize("family", FAMILIES)
def test_hydra_overrides_reach_one_familys_composition(composed, family):
    others = [name for name in models_for(composed[family]["task"], ROOT / "conf" / "model")
              if name != composed[family]["model"]["name"]]
    overrides = [f"train.seed={composed[family]['train']['seed'] + 1}"] + ([f"model={others[0]}"] if others else [])
    changed = compose(CONF, family, overrides)
    assert changed["train"]["seed"] == composed[family]["train"]["seed"] + 1
    if others:
        assert changed["model"]["name"] == others[0]
    assert changed["data"] == composed[family]["data"]


def test_an_override_survives_recomposition():
    previous = {"families": {"f": {"model": {"C": 1.0, "max_iter": 100}}}}
    current = {"families": {"f": {"model": {"C": 0.5, "max_iter": 100}}}}
    assert keep_overrides(previous, previous, current) == current


def test_an_edit_in_conf_wins_over_the_old_value():
    previous = {"model": {"C": 1.0, "max_iter": 100}}
    composed = {"model": {"C": 1.0, "max_iter": 300}}
    current = {"model": {"C": 0.5, "max_iter": 100}}
    assert keep_overrides(previous, composed, current) == {"model": {"C": 0.5, "max_iter": 300}}


def test_a_group_switch_drops_the_old_groups_keys():
    previous = {"model": {"name": "logistic_regression", "C": 1.0}}
    current = {"model": {"name": "random_forest", "n_estimators": 10}}
    assert keep_overrides(previous, previous, current) == current


def test_a_removed_family_leaves_params():
    previous = {"families": {"a": {"x": 1}, "b": {"x": 2}}}
    composed = {"families": {"a": {"x": 1}}}
    assert keep_overrides(previous, composed, previous) == composed


@pytest.mark.parametrize("name", ["Bad", "-x", "x-", "a b", "a/b", "true", "123", "a@b", "a#b", ""])
def test_names_gto_refuses_are_refused(name):
    assert family_problem(name)


def test_the_families_block_round_trips():
    entries = {"a": {"data": "data/raw/a.csv", "task": "classification"},
               "b-2": {"data": "data/raw/my b.csv", "task": "regression"}}
    text = "stages: {}\n\n" + families.block_text(entries)
    before, block, after = families.split_dvc_yaml(text)
    assert (before, block, after) == ("stages: {}\n\n", families.block_text(entries), "")
    import yaml

    parsed = yaml.safe_load(text)
    assert parsed["artifacts"]["b-2"]["path"] == "models/b-2"
    assert list(parsed["plots"][1]) == ["plots/b-2/predictions.csv"]
    listed = yaml.safe_load(families.families_text(entries))[families.LIST_KEY]
    assert listed == {"a": {"data": "data/raw/a.csv"}, "b-2": {"data": "data/raw/my b.csv"}}
