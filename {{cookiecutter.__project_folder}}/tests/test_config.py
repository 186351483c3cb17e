"""The config stage keeps `dvc exp run -S` overrides but follows edits in conf/."""

from pathlib import Path

from {{ cookiecutter.package }}.config import compose, keep_overrides

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def test_conf_composes_every_group():
    params = compose(CONF)
    assert {"family", "data", "preprocessing", "model", "train", "card", "registry"} <= set(params)
    assert params["family"] == "{{ cookiecutter.model_family }}"


def test_hydra_overrides_reach_the_composition():
    params = compose(CONF, ["model=random_forest", "model.n_estimators=5"])
    assert params["model"] == {"name": "random_forest", "n_estimators": 5, "max_depth": 6}


def test_an_override_survives_recomposition():
    previous = {"model": {"C": 1.0, "max_iter": 100}}
    current = {"model": {"C": 0.5, "max_iter": 100}}
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
