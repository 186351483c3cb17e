"""The bump rules (the generated project's docs/BUNDLE.md): compare two bundles, no I/O.

| evidence                                                                 | bump  |
| ------------------------------------------------------------------------ | ----- |
| inputs removed, retyped or newly required; task, labels or output type   | major |
| probe agreement below the threshold; a metric moved beyond the tolerance | minor |
| anything else in the bundle differs (weights, card, requirements, files) | patch |
| identical                                                                | none  |

Every reason is one specific sentence, e.g. ``inputs removed: proline`` or
``probe agreement 82.5% < 99.0%``. Reasons are listed major first, then minor, then patch.
"""

from __future__ import annotations

import json
import math

from ..bundle.contract import FLAVOR_FILE, JSON_FILES, MODEL_FILE
from .bump import Bump
from .signature import changes as signature_changes

_EPSILON = 1e-12


def _record_key(record) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def _agree(before, after, relative_tolerance: float) -> bool:
    """Labels agree when equal; numbers (regression) when within the relative tolerance."""
    if isinstance(before, (int, float)) and isinstance(after, (int, float)) \
            and not isinstance(before, bool) and not isinstance(after, bool):
        return math.isclose(before, after, rel_tol=relative_tolerance, abs_tol=1e-12)
    return before == after


def _probabilities_agree(before, after, tolerance: float) -> bool:
    """Class probabilities agree when none moved by more than ``tolerance``; a record whose
    probabilities only one fingerprint has agrees on its label alone."""
    if not isinstance(before, list) or not isinstance(after, list) or len(before) != len(after):
        return True
    try:
        return all(abs(float(a) - float(b)) <= tolerance + _EPSILON for a, b in zip(before, after))
    except (TypeError, ValueError):
        return False


def probe_agreement(old: dict, new: dict, relative_tolerance: float = 1e-6,
                    probability_tolerance: float = 0.1) -> tuple[float | None, int]:
    """(share of agreeing predictions, records compared) on the probe records both share.

    A record agrees when its prediction agrees and, where both fingerprints hold class
    probabilities, no probability moved by more than ``probability_tolerance``. Records are
    matched by content, so a reordered or extended probe set still compares; a record present
    twice keeps its first prediction. ``(None, 0)`` when nothing is common.
    """
    def table(fingerprint: dict) -> dict:
        rows: dict[str, tuple] = {}
        probe = fingerprint.get("probe") or []
        predictions = fingerprint.get("predictions") or []
        probabilities = fingerprint.get("probabilities") or [None] * len(predictions)
        for record, prediction, probs in zip(probe, predictions, probabilities):
            rows.setdefault(_record_key(record), (prediction, probs))
        return rows

    before, after = table(old), table(new)
    common = [key for key in before if key in after]
    if not common:
        return None, 0
    agree = sum(1 for key in common
                if _agree(before[key][0], after[key][0], relative_tolerance)
                and _probabilities_agree(before[key][1], after[key][1], probability_tolerance))
    return agree / len(common), len(common)


def flatten_metrics(metrics, prefix: str = "") -> dict[str, float]:
    """Numeric metrics as ``{"accuracy": 0.9, "per_class.barolo.f1": 0.8}``."""
    flat: dict[str, float] = {}
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            flat.update(flatten_metrics(value, f"{prefix}{key}."))
    elif isinstance(metrics, (int, float)) and not isinstance(metrics, bool):
        flat[prefix.rstrip(".")] = float(metrics)
    return flat


def _number(value: float) -> str:
    return f"{value:.4g}"


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def tolerance_for(metric_tolerance, name: str) -> float:
    """A metric's tolerance: one number for all metrics, or ``{metric: x, default: y}``."""
    if isinstance(metric_tolerance, dict):
        return float(metric_tolerance.get(name, metric_tolerance.get("default", 0.01)))
    return float(metric_tolerance)


def compare(old, new, agreement_threshold: float = 0.99,
            metric_tolerance=0.01, relative_tolerance: float = 1e-6,
            probability_tolerance: float = 0.1) -> tuple[Bump, list[str]]:
    """The bump from bundle ``old`` (released) to bundle ``new``, and the reasons for it.

    ``old`` and ``new`` are ``bundles.Bundle`` objects (anything with ``signature``,
    ``fingerprint``, ``card``, ``model_md5`` and ``files``). ``agreement_threshold`` is a
    fraction (0.99); ``metric_tolerance`` an absolute difference (one for all metrics, or per
    metric: see ``tolerance_for``); regression predictions agree within ``relative_tolerance``,
    class probabilities within ``probability_tolerance``. Returns ``(Bump.NONE, [])`` when the
    bundles are identical.
    """
    major, minor, patch = [], [], []

    breaking, compatible = signature_changes(old.signature or {}, new.signature or {})
    major += breaking
    patch += compatible
    if not breaking and not compatible and old.signature != new.signature:
        patch.append("signature.json rewritten, same interface")

    # Behaviour: the predictions on the probe set.
    agreement, compared = probe_agreement(old.fingerprint or {}, new.fingerprint or {}, relative_tolerance,
                                          probability_tolerance)
    old_probe = len((old.fingerprint or {}).get("probe") or [])
    new_probe = len((new.fingerprint or {}).get("probe") or [])
    if agreement is None:
        if old_probe or new_probe:
            minor.append("no probe record in common: behaviour cannot be shown unchanged")
    elif agreement + _EPSILON < agreement_threshold:
        minor.append(f"probe agreement {_percent(agreement)} < {_percent(agreement_threshold)}")
    probe_changed = [_record_key(r) for r in (old.fingerprint or {}).get("probe") or []] != [
        _record_key(r) for r in (new.fingerprint or {}).get("probe") or []
    ]
    if probe_changed and agreement is not None:
        patch.append(f"probe set changed ({old_probe} → {new_probe} records, "
                     f"{compared} in common)")

    # Metrics, from card.json.
    old_card, new_card = old.card or {}, new.card or {}
    old_metrics = flatten_metrics(old_card.get("metrics") or {})
    new_metrics = flatten_metrics(new_card.get("metrics") or {})
    metrics_within = []
    for name in sorted(set(old_metrics) | set(new_metrics)):
        before, after = old_metrics.get(name), new_metrics.get(name)
        tolerance = tolerance_for(metric_tolerance, name)
        if before is None:
            patch.append(f'metric "{name}" added')
        elif after is None:
            patch.append(f'metric "{name}" removed')
        elif math.isnan(before) or math.isnan(after) or abs(after - before) > tolerance + _EPSILON:
            minor.append(f"metric {name} {_number(before)} → {_number(after)} (tolerance {_number(tolerance)})")
        elif after != before:
            metrics_within.append(name)
    if metrics_within:
        patch.append("metrics within tolerance: " + ", ".join(metrics_within))

    # Weights and predictions.
    agreement_text = (f"probe agreement {_percent(agreement)}" if agreement is not None
                      else "no probe record in common")
    if old.model_md5 != new.model_md5:
        patch.append(f"weights changed, {agreement_text}")
    elif old.fingerprint != new.fingerprint and not probe_changed:
        patch.append(f"fingerprint changed, {agreement_text}")

    # The rest of the card: requirements get their own sentence.
    old_req, new_req = old_card.get("requirements") or {}, new_card.get("requirements") or {}
    if old_req != new_req:
        patch.append("requirements changed: " + _requirements_diff(old_req, new_req))
    changed = sorted(k for k in (set(old_card) | set(new_card)) - {"metrics", "requirements"}
                     if old_card.get(k) != new_card.get(k))
    if changed:
        patch.append("card changed: " + ", ".join(changed))

    # The model's flavor and files.
    old_flavor, new_flavor = getattr(old, "flavor", None) or {}, getattr(new, "flavor", None) or {}
    for key, what in (("flavor", "flavor"), ("estimator", "estimator"), ("trusted_types", "reviewed skops types")):
        if old_flavor.get(key) != new_flavor.get(key) and (old_flavor or new_flavor):
            patch.append(f"{what} {_shown(old_flavor.get(key))} → {_shown(new_flavor.get(key))}")

    # Any other file of the bundle.
    known = {*JSON_FILES, FLAVOR_FILE, *(old_flavor.get("files") or [MODEL_FILE]),
             *(new_flavor.get("files") or [MODEL_FILE])}
    old_files, new_files = old.files or {}, new.files or {}
    for name in sorted((set(old_files) | set(new_files)) - known):
        if name not in old_files:
            patch.append(f'file "{name}" added')
        elif name not in new_files:
            patch.append(f'file "{name}" removed')
        elif old_files[name] != new_files[name]:
            patch.append(f'file "{name}" changed')

    bump = Bump.MAJOR if major else Bump.MINOR if minor else Bump.PATCH if patch else Bump.NONE
    return bump, major + minor + patch


def _shown(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value) if value is not None else "none"


def _requirements_diff(old: dict, new: dict) -> str:
    def flat(req: dict) -> dict:
        out = {}
        for key, value in req.items():
            if isinstance(value, dict):
                out.update({f"{sub}": val for sub, val in value.items()})
            else:
                out[key] = value
        return out

    before, after = flat(old), flat(new)
    parts = []
    for name in sorted(set(before) | set(after), key=str):
        if before.get(name) != after.get(name):
            parts.append(f"{name} {before.get(name, 'none')} → {after.get(name, 'none')}")
    return ", ".join(parts) or "layout"
