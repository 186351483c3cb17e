"""The bump rules and Conventional Commits parsing: pure functions, no repository."""

from __future__ import annotations

import copy

import pytest

from versioned_ml_registry.bundle.reading import Bundle  # noqa: E402
from versioned_ml_registry.rules.commits import bump_from_commits, classify  # noqa: E402
from versioned_ml_registry.rules.evidence import compare, probe_agreement  # noqa: E402
from versioned_ml_registry.rules.gates import check_metrics  # noqa: E402
from versioned_ml_registry.rules.bump import Bump, higher  # noqa: E402
from versioned_ml_registry.lifecycle.propose import Proposal, format_report  # noqa: E402

LABELS = ["barbera", "barolo", "grignolino"]


def make_bundle(n_probe: int = 200) -> Bundle:
    probe = [{"alcohol": 12 + i / 100, "proline": 500 + i} for i in range(n_probe)]
    return Bundle(
        path="models/cultivar",
        signature={
            "inputs": [{"name": "alcohol", "type": "float", "required": True},
                       {"name": "proline", "type": "float", "required": True}],
            "output": {"name": "cultivar", "type": "label", "labels": list(LABELS)},
        },
        fingerprint={"probe": probe, "predictions": [LABELS[i % 3] for i in range(n_probe)]},
        card={"family": "cultivar", "description": "wine", "metrics": {"accuracy": 0.91},
              "requirements": {"python": "3.11", "packages": {"scikit-learn": "1.9.1"}}},
        model_md5="a" * 32,
        files={"model.skops": "a" * 32, "card.json": "c" * 32},
    )


def bump(old, new, threshold=0.99, tolerance=0.01):
    return compare(old, new, threshold, tolerance)


def test_identical_bundles_give_no_bump():
    old = make_bundle()
    assert bump(old, copy.deepcopy(old)) == (Bump.NONE, [])


def test_removed_input_is_major():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"] = [new.signature["inputs"][0]]
    kind, reasons = bump(old, new)
    assert kind is Bump.MAJOR
    assert "inputs removed: proline" in reasons


def test_renamed_retyped_and_newly_required_inputs_are_major():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"][1]["name"] = "proline_mg"
    kind, reasons = bump(old, new)
    # a changed input set is reported as it is, never as a positional rename
    assert kind is Bump.MAJOR
    assert reasons[:2] == ["inputs removed: proline", "inputs added as required: proline_mg"]
    assert not any("renamed" in reason for reason in reasons)

    new = make_bundle()
    new.signature["inputs"][0]["type"] = "categorical"
    kind, reasons = bump(old, new)
    assert kind is Bump.MAJOR and 'input "alcohol" type numeric → categorical' in reasons

    new = make_bundle()
    new.signature["inputs"][0]["type"] = "numeric"  # "float" in older bundles: the same type
    assert bump(old, new)[0] is Bump.PATCH

    old2, new2 = make_bundle(), make_bundle()
    old2.signature["inputs"][0]["required"] = False
    kind, reasons = bump(old2, new2)
    assert kind is Bump.MAJOR and 'input "alcohol" is now required' in reasons

    new3 = make_bundle()
    new3.signature["inputs"].append({"name": "hue", "type": "float", "required": True})
    kind, reasons = bump(old, new3)
    assert kind is Bump.MAJOR and "inputs added as required: hue" in reasons


def test_added_optional_input_is_not_a_break():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"].append({"name": "hue", "type": "float", "required": False})
    kind, reasons = bump(old, new)
    assert kind is Bump.PATCH
    assert reasons == ["inputs added as optional: hue"]


def test_label_set_and_output_type_changes_are_major():
    old, new = make_bundle(), make_bundle()
    new.signature["output"]["labels"] = ["barbera", "grignolino", "rose"]
    kind, reasons = bump(old, new)
    assert kind is Bump.MAJOR and "labels changed: +rose -barolo" in reasons

    new = make_bundle()
    new.signature["output"]["type"] = "probability"
    kind, reasons = bump(old, new)
    assert kind is Bump.MAJOR and "output type label → probability" in reasons


def test_probe_agreement_below_threshold_is_minor():
    old, new = make_bundle(), make_bundle()
    new.model_md5 = new.files["model.skops"] = "b" * 32
    predictions = new.fingerprint["predictions"]
    for i in range(35):  # 35 of 200 differ: 82.5 % agree
        predictions[i] = "barolo" if predictions[i] != "barolo" else "barbera"
    kind, reasons = bump(old, new)
    assert kind is Bump.MINOR
    assert "probe agreement 82.5% < 99.0%" in reasons
    assert "weights changed, probe agreement 82.5%" in reasons


def test_agreement_uses_common_probe_records_and_no_overlap_is_minor():
    old, new = make_bundle(), make_bundle()
    new.fingerprint["probe"] = new.fingerprint["probe"][::-1]  # reordered, same records
    new.fingerprint["predictions"] = new.fingerprint["predictions"][::-1]
    assert probe_agreement(old.fingerprint, new.fingerprint) == (1.0, 200)

    other = make_bundle()
    other.fingerprint["probe"] = [{"alcohol": 99.0, "proline": 1.0}]
    other.fingerprint["predictions"] = ["barolo"]
    kind, reasons = bump(old, other)
    assert kind is Bump.MINOR
    assert any("no probe record in common" in reason for reason in reasons)


def test_metric_beyond_tolerance_is_minor_within_is_patch():
    old, new = make_bundle(), make_bundle()
    new.card["metrics"]["accuracy"] = 0.86
    kind, reasons = bump(old, new)
    assert kind is Bump.MINOR
    assert "metric accuracy 0.91 → 0.86 (tolerance 0.01)" in reasons

    new.card["metrics"]["accuracy"] = 0.905
    kind, reasons = bump(old, new)
    assert kind is Bump.PATCH


def test_weights_only_change_is_patch():
    old, new = make_bundle(), make_bundle()
    new.model_md5 = new.files["model.skops"] = "b" * 32
    assert bump(old, new) == (Bump.PATCH, ["weights changed, probe agreement 100.0%"])


def test_card_only_and_requirements_changes_are_patch():
    old, new = make_bundle(), make_bundle()
    new.card["description"] = "better words"
    assert bump(old, new) == (Bump.PATCH, ["card changed: description"])

    new = make_bundle()
    new.card["requirements"]["packages"]["scikit-learn"] = "1.9.2"
    assert bump(old, new) == (Bump.PATCH, ["requirements changed: scikit-learn 1.9.1 → 1.9.2"])


def test_every_reason_is_listed_major_first():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"] = [new.signature["inputs"][0]]
    new.card["metrics"]["accuracy"] = 0.5
    new.card["description"] = "x"
    kind, reasons = bump(old, new)
    assert kind is Bump.MAJOR
    assert reasons[0] == "inputs removed: proline"
    assert reasons[1].startswith("metric accuracy")
    assert "card changed: description" in reasons


@pytest.mark.parametrize("message, expected", [
    ("feat: add proline", "minor"),
    ("fix: clip outliers", "patch"),
    ("FEAT(model): louder", "minor"),
    ("Fix: case", "patch"),
    ("feat(model)!: drop proline", "major"),
    ("chore!: drop python 3.10", "major"),
    ("refactor: tidy\n\nBREAKING CHANGE: inputs renamed", "major"),
    ("fix: x\n\nBREAKING-CHANGE: labels differ", "major"),
    ("fix: x\n\nbreaking change: lower-case token is not the footer", "patch"),
    ("docs: readme", None),
    ("chore(deps): bump", None),
    ("Merge branch 'main'", None),
    ("feat add without colon", None),
    ("", None),
])
def test_conventional_commit_classification(message, expected):
    assert classify(message)[0] is Bump.parse(expected)


def test_bump_from_commits_takes_the_highest_and_explains_each():
    kind, reasons = bump_from_commits([
        ("1a2b3c4d5e", "fix: clip outliers"),
        ("2b3c4d5e6f", "docs: nothing"),
        ("3c4d5e6f70", "feat: add proline\n\nbody"),
    ])
    assert kind is Bump.MINOR
    assert reasons == ['commit 1a2b3c4 "fix: clip outliers" → patch',
                       'commit 3c4d5e6 "feat: add proline" → minor']
    assert bump_from_commits(["feat!: x"])[0] is Bump.MAJOR
    assert bump_from_commits([]) == (Bump.NONE, [])


def test_commits_raise_never_lower():
    assert higher(Bump.MINOR, Bump.PATCH) is Bump.MINOR
    assert higher(Bump.PATCH, Bump.MAJOR) is Bump.MAJOR
    assert higher(Bump.NONE, Bump.PATCH) is Bump.PATCH
    assert higher(Bump.NONE, Bump.NONE) is Bump.NONE


def test_gates_and_report():
    ok, report = check_metrics({"accuracy": 0.95}, {"accuracy": 0.9}, "candidate")
    assert ok and report == ["accuracy 0.95 (≥ 0.9)"]
    ok, report = check_metrics({"accuracy": 0.85}, {"accuracy": 0.9, "f1": {"min": 0.5}}, "candidate")
    assert not ok
    assert "accuracy 0.85 fails (needs ≥ 0.9)" in report and "f1 missing (needs ≥ 0.5)" in report
    ok, report = check_metrics({"rmse": 12.0}, {"rmse": {"max": 10}}, "production")
    assert not ok and report == ["rmse 12 fails (needs ≤ 10)"]
    assert check_metrics({"rmse": 8.0}, {"rmse": {"max": 10}}, "production")[0]
    proposal = Proposal(family="cultivar", bump="minor", reasons=["probe agreement 82.5% < 99.0%"],
                        evidence_bump="minor", commit_bump="patch", released="v1.2.0",
                        gates_passed=False, gate_report=["accuracy 0.85 fails (needs ≥ 0.9)"],
                        next_version="v1.3.0")
    text = format_report(proposal)
    assert text.splitlines()[0] == "cultivar: MINOR → v1.3.0 (released: v1.2.0)"
    assert "  - probe agreement 82.5% < 99.0%" in text
    assert "candidate gates: FAILED" in text
    same = Proposal(family="cultivar", bump=None, reasons=["bundle identical to cultivar@v1.2.0"],
                    identical_to="v1.2.0")
    assert format_report(same).startswith("cultivar: no release, the bundle is identical to v1.2.0")


def regression_bundle(n_probe: int = 100) -> Bundle:
    bundle = make_bundle(n_probe)
    bundle.signature = {"task": "regression", "inputs": bundle.signature["inputs"],
                        "output": {"name": "progression", "type": "number"}}
    bundle.fingerprint["predictions"] = [100.0 + i for i in range(n_probe)]
    bundle.card["metrics"] = {"rmse": 30.0, "r2": 0.5}
    return bundle


def test_regression_predictions_agree_within_a_relative_tolerance():
    old, new = regression_bundle(), regression_bundle()
    new.model_md5 = new.files["model.skops"] = "b" * 32
    new.fingerprint["predictions"] = [p * 1.005 for p in old.fingerprint["predictions"]]  # 0.5 % off
    assert compare(old, new, 0.99, 0.01, relative_tolerance=0.01) == (
        Bump.PATCH, ["weights changed, probe agreement 100.0%"])
    moved = regression_bundle()
    moved.fingerprint["predictions"] = [p * (1.05 if i < 10 else 1.0) for i, p in enumerate(old.fingerprint["predictions"])]
    kind, reasons = compare(old, moved, 0.99, 0.01, relative_tolerance=0.01)
    assert kind is Bump.MINOR and "probe agreement 90.0% < 99.0%" in reasons


def test_metric_tolerances_are_per_metric():
    old, new = regression_bundle(), regression_bundle()
    new.card["metrics"] = {"rmse": 31.5, "r2": 0.5}
    tolerances = {"default": 0.01, "rmse": 2.0}
    assert compare(old, new, 0.99, tolerances)[0] is Bump.PATCH
    new.card["metrics"] = {"rmse": 30.0, "r2": 0.45}
    kind, reasons = compare(old, new, 0.99, tolerances)
    assert kind is Bump.MINOR and reasons == ["metric r2 0.5 → 0.45 (tolerance 0.01)"]
