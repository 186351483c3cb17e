"""The pure parts of rollout decisions: input flags against a profile, PSI, outcome metrics
with their intervals, and the decision rules on hand-made reports."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.rules.rollout import ABORT, PROMOTE, WAIT, decide, outcome_metric, parse_policy, seconds
from versioned_ml_registry.serve.signals import input_flags, psi

PROFILE = {"features": {
    "alcohol": {"kind": "numeric", "missing_rate": 0.0, "min": 11.0, "max": 14.8},
    "colour": {"kind": "categorical", "missing_rate": 0.1, "frequencies": {"red": 0.6, "white": 0.4}},
    "note": {"kind": "text", "missing_rate": 0.0}},
    "predictions": {"kind": "label", "frequencies": {"a": 0.5, "b": 0.5}}}


def test_flags_name_each_input_outside_the_profile():
    flags = input_flags(PROFILE, [
        {"alcohol": 12.0, "colour": "red", "note": "x"},
        {"alcohol": 15.0, "colour": "blue", "note": None},
        {"alcohol": None, "colour": None, "note": "y"}])
    assert flags[0] == []
    assert [kind for kind, _ in flags[1]] == ["range", "category", "missing"]
    assert flags[1][1][1] == "colour: category 'blue' never seen in training"
    assert flags[2] == [("missing", "alcohol: missing, and never missing in training")]  # colour was missing 10%
    assert input_flags(None, [{"alcohol": 99}]) == [[]]


def test_psi_is_zero_on_the_profile_and_grows_with_the_shift():
    assert psi({"a": 0.5, "b": 0.5}, Counter(a=50, b=50)) == pytest.approx(0.0)
    assert psi({"a": 0.5, "b": 0.5}, Counter(a=90, b=10)) > psi({"a": 0.5, "b": 0.5}, Counter(a=60, b=40)) > 0
    assert psi({}, Counter(a=1)) is None


def test_outcome_metrics_carry_an_interval_that_narrows_with_the_sample():
    small = outcome_metric("classification", [("a", "a")] * 9 + [("a", "b")])
    large = outcome_metric("classification", [("a", "a")] * 900 + [("a", "b")] * 100)
    assert small["value"] == large["value"] == 0.9 and small["n"] == 10
    assert large["ci95"][0] > small["ci95"][0] and large["ci95"][1] < small["ci95"][1]
    rmse = outcome_metric("regression", [(1.0, 2.0), (3.0, 3.0), (5.0, 3.0)])
    assert rmse["metric"] == "rmse" and rmse["value"] == pytest.approx(math.sqrt(5 / 3))


def route(version, accuracy_pairs, requests=200, errors=0, p99=10.0, drift=0.01):
    return {"version": version, "requests": requests, "errors": errors, "latency_ms": {"p50": 5.0, "p90": 8.0, "p99": p99},
            "drift": {"measure": "psi", "value": drift}, "flags": {"rate": 0.0},
            "outcomes": outcome_metric("classification", accuracy_pairs)}


def report(canary, production, soaked=3600.0):
    return {"live": True, "soaked_seconds": soaked, "canary": canary, "production": production}


def pairs(rng, n, accuracy):
    return [("a", "a" if rng.random() < accuracy else "b") for _ in range(n)]


def test_the_decision_waits_for_samples_and_the_soak_then_promotes_or_aborts():
    policy = parse_policy({"soak": "30m", "min_requests": 100, "min_outcomes": 50}, "rollout")
    rng = random.Random(0)
    few = decide(report(route("v2", pairs(rng, 10, 0.9)), route("v1", pairs(rng, 80, 0.9))), policy, "classification")
    assert few.kind == WAIT and few.why == ["canary has 10 of 50 outcomes"]
    early = decide(report(route("v2", pairs(rng, 80, 0.9)), route("v1", pairs(rng, 80, 0.9)), soaked=60),
                   policy, "classification")
    assert early.kind == WAIT and early.why[0].startswith("soaking: 60 of 1800 s")
    assert decide(report(route("v2", pairs(rng, 80, 0.9)), route("v1", pairs(rng, 80, 0.9))), policy,
                  "classification").kind == PROMOTE
    worse = decide(report(route("v2", pairs(rng, 200, 0.4)), route("v1", pairs(rng, 200, 0.9)), soaked=600),
                   policy, "classification")
    assert worse.kind == ABORT and worse.exit_code == 3  # far worse aborts before the soak ends
    nothing_yet = decide(report(route("v2", pairs(rng, 200, 0.4)), route("v1", pairs(rng, 200, 0.9)), soaked=0),
                         policy, "classification")
    assert nothing_yet.kind == WAIT  # the first look of all needs no verdict
    slow = decide(report(route("v2", pairs(rng, 80, 0.9), p99=400.0), route("v1", pairs(rng, 80, 0.9))), policy,
                  "classification")
    assert slow.kind == ABORT and "p99 latency" in slow.why[0]


def test_a_canary_worse_only_within_noise_is_not_aborted():
    """3 points of accuracy below production on 60 outcomes each is noise at alpha 0.01."""
    policy = parse_policy({"soak": "0s", "min_requests": 10, "min_outcomes": 50}, "rollout")
    canary = [("a", "a")] * 52 + [("a", "b")] * 8  # 0.867
    production = [("a", "a")] * 54 + [("a", "b")] * 6  # 0.9
    assert decide(report(route("v2", canary), route("v1", production)), policy, "classification").kind == PROMOTE


def test_equal_models_abort_at_most_at_the_level_alpha():
    policy = parse_policy({"soak": "0s", "min_requests": 10, "min_outcomes": 50}, "rollout")
    rng = random.Random(7)
    aborts = sum(decide(report(route("v2", pairs(rng, 100, 0.85)), route("v1", pairs(rng, 100, 0.85))), policy,
                        "classification").kind == ABORT for _ in range(2000))
    assert aborts / 2000 <= policy.alpha


def test_durations():
    assert seconds("1h30m", "x") == 5400 and seconds("0s", "x") == 0 and seconds(45, "x") == 45
    with pytest.raises(RegistryError, match="not a duration"):
        seconds("-3m", "rollout.soak")


def test_a_canary_failing_every_request_is_aborted_before_any_outcome():
    policy = parse_policy({"soak": "0s", "min_requests": 100, "min_outcomes": 50}, "rollout")
    failing = dict(route("v2", []), requests=0, errors=400)
    decision = decide(report(failing, route("v1", [], requests=400)), policy, "classification")
    assert decision.kind == ABORT and decision.why[0].startswith("error rate 1.000 is above production's 0.000")


def test_no_outcome_bound_without_two_outcomes_per_route():
    policy = parse_policy({"soak": "0s", "min_requests": 10, "min_outcomes": 0}, "rollout")
    assert decide(report(route("v2", []), route("v1", [])), policy, "classification").kind == PROMOTE
    one = dict(route("v2", []), outcomes=outcome_metric("regression", [(1.0, 2.0)]))
    assert decide(report(one, dict(route("v1", []), outcomes=outcome_metric("regression", [(1.0, 1.5)]))),
                  policy, "regression").kind == PROMOTE


def test_looking_often_during_the_soak_does_not_multiply_false_aborts():
    """60 looks over a 30 minute soak at equal accuracy: the boundary keeps aborts rare."""
    policy = parse_policy({"soak": "30m", "min_requests": 10, "min_outcomes": 20}, "rollout")
    rng = random.Random(3)
    runs, aborted = 300, 0
    for _ in range(runs):
        canary, production = [], []
        for look in range(1, 61):
            canary += pairs(rng, 5, 0.85)
            production += pairs(rng, 5, 0.85)
            if decide(report(route("v2", canary), route("v1", production), soaked=look * 30), policy,
                      "classification").kind == ABORT:
                aborted += 1
                break
    assert aborted / runs <= 3 * policy.alpha


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1])
def test_a_bound_that_is_not_a_finite_number_is_refused(value):
    with pytest.raises(RegistryError, match="max_psi must be a number >= 0"):
        parse_policy({"max_psi": value}, "rollout")
