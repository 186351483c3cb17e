"""The bump rules and Conventional Commits parsing: pure functions, no repository."""

from __future__ import annotations

import copy

import pytest

from evidence_support import registry

registry()
from evreg.bundles import Bundle  # noqa: E402
from evreg.commits import bump_from_commits, classify, highest  # noqa: E402
from evreg.evidence import compare, probe_agreement  # noqa: E402
from evreg.proposal import check_gates, format_report, Proposal  # noqa: E402

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
    assert bump(old, copy.deepcopy(old)) == (None, [])


def test_removed_input_is_major():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"] = [new.signature["inputs"][0]]
    kind, reasons = bump(old, new)
    assert kind == "major"
    assert 'input "proline" removed' in reasons


def test_renamed_retyped_and_newly_required_inputs_are_major():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"][1]["name"] = "proline_mg"
    kind, reasons = bump(old, new)
    assert kind == "major" and 'input "proline" renamed to "proline_mg"' in reasons

    new = make_bundle()
    new.signature["inputs"][0]["type"] = "int"
    kind, reasons = bump(old, new)
    assert kind == "major" and 'input "alcohol" type float → int' in reasons

    old2, new2 = make_bundle(), make_bundle()
    old2.signature["inputs"][0]["required"] = False
    kind, reasons = bump(old2, new2)
    assert kind == "major" and 'input "alcohol" is now required' in reasons

    new3 = make_bundle()
    new3.signature["inputs"].append({"name": "hue", "type": "float", "required": True})
    kind, reasons = bump(old, new3)
    assert kind == "major" and 'input "hue" added as required' in reasons


def test_added_optional_input_is_not_a_break():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"].append({"name": "hue", "type": "float", "required": False})
    kind, reasons = bump(old, new)
    assert kind == "patch"
    assert reasons == ['input "hue" added (optional)']


def test_label_set_and_output_type_changes_are_major():
    old, new = make_bundle(), make_bundle()
    new.signature["output"]["labels"] = ["barbera", "grignolino", "rose"]
    kind, reasons = bump(old, new)
    assert kind == "major" and "labels changed: +rose -barolo" in reasons

    new = make_bundle()
    new.signature["output"]["type"] = "probability"
    kind, reasons = bump(old, new)
    assert kind == "major" and "output type label → probability" in reasons


def test_probe_agreement_below_threshold_is_minor():
    old, new = make_bundle(), make_bundle()
    new.model_md5 = new.files["model.skops"] = "b" * 32
    predictions = new.fingerprint["predictions"]
    for i in range(35):  # 35 of 200 differ: 82.5 % agree
        predictions[i] = "barolo" if predictions[i] != "barolo" else "barbera"
    kind, reasons = bump(old, new)
    assert kind == "minor"
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
    assert kind == "minor"
    assert any("no probe record in common" in reason for reason in reasons)


def test_metric_beyond_tolerance_is_minor_within_is_patch():
    old, new = make_bundle(), make_bundle()
    new.card["metrics"]["accuracy"] = 0.86
    kind, reasons = bump(old, new)
    assert kind == "minor"
    assert "metric accuracy 0.91 → 0.86 (tolerance 0.01)" in reasons

    new.card["metrics"]["accuracy"] = 0.905
    kind, reasons = bump(old, new)
    assert kind == "patch"


def test_weights_only_change_is_patch():
    old, new = make_bundle(), make_bundle()
    new.model_md5 = new.files["model.skops"] = "b" * 32
    assert bump(old, new) == ("patch", ["weights changed, probe agreement 100.0%"])


def test_card_only_and_requirements_changes_are_patch():
    old, new = make_bundle(), make_bundle()
    new.card["description"] = "better words"
    assert bump(old, new) == ("patch", ["card changed: description"])

    new = make_bundle()
    new.card["requirements"]["packages"]["scikit-learn"] = "1.9.2"
    assert bump(old, new) == ("patch", ["requirements changed: scikit-learn 1.9.1 → 1.9.2"])


def test_every_reason_is_listed_major_first():
    old, new = make_bundle(), make_bundle()
    new.signature["inputs"] = [new.signature["inputs"][0]]
    new.card["metrics"]["accuracy"] = 0.5
    new.card["description"] = "x"
    kind, reasons = bump(old, new)
    assert kind == "major"
    assert reasons[0] == 'input "proline" removed'
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
    assert classify(message)[0] == expected


def test_bump_from_commits_takes_the_highest_and_explains_each():
    kind, reasons = bump_from_commits([
        ("1a2b3c4d5e", "fix: clip outliers"),
        ("2b3c4d5e6f", "docs: nothing"),
        ("3c4d5e6f70", "feat: add proline\n\nbody"),
    ])
    assert kind == "minor"
    assert reasons == ['commit 1a2b3c4 "fix: clip outliers" → patch',
                       'commit 3c4d5e6 "feat: add proline" → minor']
    assert bump_from_commits(["feat!: x"])[0] == "major"
    assert bump_from_commits([]) == (None, [])


def test_highest_never_lowers():
    assert highest("minor", "patch") == "minor"
    assert highest("patch", "major") == "major"
    assert highest(None, "patch") == "patch"
    assert highest("minor", None) == "minor"
    assert highest(None, None) is None


def test_gates_and_report():
    ok, report = check_gates({"accuracy": 0.95}, {"accuracy": 0.9})
    assert ok and report == ["accuracy 0.95 ≥ 0.9"]
    ok, report = check_gates({"accuracy": 0.85}, {"accuracy": 0.9, "f1": 0.5})
    assert not ok
    assert "accuracy 0.85 < 0.9: fails" in report and "f1 missing (needs ≥ 0.5)" in report
    proposal = Proposal(family="cultivar", bump="minor", reasons=["probe agreement 82.5% < 99.0%"],
                        evidence_bump="minor", commit_bump="patch", released="v1.2.0",
                        gates_passed=ok, gate_report=report)
    text = format_report(proposal, "v1.3.0")
    assert text.splitlines()[0] == "cultivar: MINOR → v1.3.0 (released: v1.2.0)"
    assert "  - probe agreement 82.5% < 99.0%" in text
    assert "candidate gates: FAILED" in text
    same = Proposal(family="cultivar", bump=None, reasons=["bundle identical to cultivar@v1.2.0"],
                    identical_to="v1.2.0")
    assert format_report(same).startswith("cultivar: no release, the bundle is identical to v1.2.0")
