"""The bump rules (DESIGN section 4, docs/BUNDLE.md): compare two bundles, no I/O.

| evidence                                                                 | bump  |
| ------------------------------------------------------------------------ | ----- |
| input removed, renamed, retyped or newly required; labels / output type  | major |
| probe agreement below the threshold; a metric moved beyond the tolerance | minor |
| anything else in the bundle differs (weights, card, requirements, files) | patch |
| identical                                                                | None  |

Every reason is one specific sentence, e.g. ``input "proline" removed`` or
``probe agreement 82.5% < 99.0%``. Reasons are listed major first, then minor, then patch.
"""

from __future__ import annotations

import json
import math

_EPSILON = 1e-12


def _inputs(signature: dict) -> list[dict]:
    return [field for field in signature.get("inputs") or [] if isinstance(field, dict)]


def _required(field: dict) -> bool:
    return bool(field.get("required", True))


def _signature_changes(old: dict, new: dict) -> tuple[list[str], list[str]]:
    """(breaking, compatible) changes between two signature.json documents."""
    breaking, compatible = [], []
    old_inputs, new_inputs = _inputs(old), _inputs(new)
    old_by_name = {f.get("name"): f for f in old_inputs}
    new_by_name = {f.get("name"): f for f in new_inputs}
    removed = [f for f in old_inputs if f.get("name") not in new_by_name]
    added = [f for f in new_inputs if f.get("name") not in old_by_name]

    # A removed and an added input at the same position with the same type: a rename.
    renamed_to = {}
    for field in removed:
        index = old_inputs.index(field)
        if index < len(new_inputs):
            candidate = new_inputs[index]
            if candidate in added and candidate.get("type") == field.get("type"):
                renamed_to[field.get("name")] = candidate
    for field in removed:
        name = field.get("name")
        if name in renamed_to:
            breaking.append(f'input "{name}" renamed to "{renamed_to[name].get("name")}"')
        else:
            breaking.append(f'input "{name}" removed')
    renamed_targets = [f.get("name") for f in renamed_to.values()]
    for field in added:
        if field.get("name") in renamed_targets:
            continue
        if _required(field):
            breaking.append(f'input "{field.get("name")}" added as required')
        else:
            compatible.append(f'input "{field.get("name")}" added (optional)')
    for name, before in old_by_name.items():
        after = new_by_name.get(name)
        if after is None:
            continue
        if before.get("type") != after.get("type"):
            breaking.append(f'input "{name}" type {before.get("type")} → {after.get("type")}')
        if not _required(before) and _required(after):
            breaking.append(f'input "{name}" is now required')
        elif _required(before) and not _required(after):
            compatible.append(f'input "{name}" is now optional')
        other_keys = (set(before) | set(after)) - {"name", "type", "required"}
        changed = sorted(k for k in other_keys if before.get(k) != after.get(k))
        if changed:
            compatible.append(f'input "{name}" changed: {", ".join(changed)}')
    common_old = [f.get("name") for f in old_inputs if f.get("name") in new_by_name]
    common_new = [f.get("name") for f in new_inputs if f.get("name") in old_by_name]
    if common_old != common_new:
        compatible.append("input order changed")

    old_out, new_out = old.get("output") or {}, new.get("output") or {}
    if old_out.get("type") != new_out.get("type"):
        breaking.append(f"output type {old_out.get('type')} → {new_out.get('type')}")
    if old_out.get("name") != new_out.get("name"):
        breaking.append(f'output renamed "{old_out.get("name")}" → "{new_out.get("name")}"')
    old_labels, new_labels = old_out.get("labels"), new_out.get("labels")
    if old_labels is not None or new_labels is not None:
        gained = sorted(set(new_labels or []) - set(old_labels or []), key=str)
        lost = sorted(set(old_labels or []) - set(new_labels or []), key=str)
        if gained or lost:
            change = " ".join([f"+{label}" for label in gained] + [f"-{label}" for label in lost])
            breaking.append(f"labels changed: {change}")
        elif list(old_labels or []) != list(new_labels or []):
            compatible.append("label order changed")
    other = (set(old_out) | set(new_out)) - {"name", "type", "labels"}
    changed = sorted(k for k in other if old_out.get(k) != new_out.get(k))
    if changed:
        compatible.append(f"output changed: {', '.join(changed)}")
    other = (set(old) | set(new)) - {"inputs", "output"}
    changed = sorted(k for k in other if old.get(k) != new.get(k))
    if changed:
        compatible.append(f"signature changed: {', '.join(changed)}")
    return breaking, compatible


def _record_key(record) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def probe_agreement(old: dict, new: dict) -> tuple[float | None, int]:
    """(share of agreeing predictions, records compared) on the probe records both share.

    Records are matched by content, so a reordered or extended probe set still compares; a
    record present twice keeps its first prediction. ``(None, 0)`` when nothing is common.
    """
    def table(fingerprint: dict) -> dict:
        rows: dict[str, object] = {}
        probe = fingerprint.get("probe") or []
        predictions = fingerprint.get("predictions") or []
        for record, prediction in zip(probe, predictions):
            rows.setdefault(_record_key(record), prediction)
        return rows

    before, after = table(old), table(new)
    common = [key for key in before if key in after]
    if not common:
        return None, 0
    agree = sum(1 for key in common if before[key] == after[key])
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


def compare(old, new, agreement_threshold: float = 0.99,
            metric_tolerance: float = 0.01) -> tuple[str | None, list[str]]:
    """The bump from bundle ``old`` (released) to bundle ``new``, and the reasons for it.

    ``old`` and ``new`` are ``bundles.Bundle`` objects (anything with ``signature``,
    ``fingerprint``, ``card``, ``model_md5`` and ``files``). ``agreement_threshold`` is a
    fraction (0.99); ``metric_tolerance`` an absolute difference. Returns ``(None, [])`` when
    the bundles are identical.
    """
    major, minor, patch = [], [], []

    breaking, compatible = _signature_changes(old.signature or {}, new.signature or {})
    major += breaking
    patch += compatible

    # Behaviour: the predictions on the probe set.
    agreement, compared = probe_agreement(old.fingerprint or {}, new.fingerprint or {})
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
        if before is None:
            patch.append(f'metric "{name}" added')
        elif after is None:
            patch.append(f'metric "{name}" removed')
        elif math.isnan(before) or math.isnan(after) or abs(after - before) > metric_tolerance + _EPSILON:
            minor.append(f"metric {name} {_number(before)} → {_number(after)} "
                         f"(tolerance {_number(metric_tolerance)})")
        elif after != before:
            metrics_within.append(name)
    if metrics_within:
        patch.append(f"metrics within tolerance {_number(metric_tolerance)}: "
                     + ", ".join(metrics_within))

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

    # Any other file of the bundle.
    known = {"model.skops", "signature.json", "fingerprint.json", "card.json"}
    old_files, new_files = old.files or {}, new.files or {}
    for name in sorted((set(old_files) | set(new_files)) - known):
        if name not in old_files:
            patch.append(f'file "{name}" added')
        elif name not in new_files:
            patch.append(f'file "{name}" removed')
        elif old_files[name] != new_files[name]:
            patch.append(f'file "{name}" changed')

    if major:
        bump = "major"
    elif minor:
        bump = "minor"
    elif patch:
        bump = "patch"
    else:
        bump = None
    return bump, major + minor + patch


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
