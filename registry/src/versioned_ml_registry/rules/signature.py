"""What changed between two signatures, for callers: breaking or compatible.

Inputs are matched by name only. A changed feature list reads as "inputs removed: a, b;
inputs added as required: c", never as positional renames: a caller that sends ``a`` breaks
whatever the new input happens to be called.
"""

from __future__ import annotations

from ..bundle.contract import input_kind, task_of


def _inputs(signature: dict) -> dict:
    return {f.get("name"): f for f in signature.get("inputs") or [] if isinstance(f, dict)}


def _required(field: dict) -> bool:
    return bool(field.get("required", True))


def _task(signature: dict):
    try:
        return task_of(signature)
    except Exception:  # noqa: BLE001 - an unreadable task compares as unknown
        return None


def _names(names) -> str:
    return ", ".join(str(name) for name in names)


def changes(old: dict, new: dict) -> tuple[list[str], list[str]]:
    """(breaking, compatible) changes from signature ``old`` to signature ``new``."""
    breaking, compatible = [], []
    before, after = _inputs(old or {}), _inputs(new or {})
    removed = [name for name in before if name not in after]
    added = [name for name in after if name not in before]
    if removed:
        breaking.append(f"inputs removed: {_names(removed)}")
    required = [name for name in added if _required(after[name])]
    optional = [name for name in added if not _required(after[name])]
    if required:
        breaking.append(f"inputs added as required: {_names(required)}")
    if optional:
        compatible.append(f"inputs added as optional: {_names(optional)}")
    for name, was in before.items():
        now = after.get(name)
        if now is None:
            continue
        if input_kind(was) != input_kind(now):
            breaking.append(f'input "{name}" type {input_kind(was)} → {input_kind(now)}')
        if not _required(was) and _required(now):
            breaking.append(f'input "{name}" is now required')
        elif _required(was) and not _required(now):
            compatible.append(f'input "{name}" is now optional')
    common_before = [name for name in before if name in after]
    common_after = [name for name in after if name in before]
    if common_before != common_after:
        compatible.append("input order changed")

    if _task(old or {}) != _task(new or {}):
        breaking.append(f"task {_task(old or {})} → {_task(new or {})}")
    out_before, out_after = (old or {}).get("output") or {}, (new or {}).get("output") or {}
    if out_before.get("type") != out_after.get("type"):
        breaking.append(f"output type {out_before.get('type')} → {out_after.get('type')}")
    if out_before.get("name") != out_after.get("name"):
        breaking.append(f'output renamed "{out_before.get("name")}" → "{out_after.get("name")}"')
    labels_before, labels_after = out_before.get("labels"), out_after.get("labels")
    if labels_before is not None or labels_after is not None:
        gained = sorted(set(labels_after or []) - set(labels_before or []), key=str)
        lost = sorted(set(labels_before or []) - set(labels_after or []), key=str)
        if gained or lost:
            breaking.append("labels changed: " + " ".join([f"+{x}" for x in gained] + [f"-{x}" for x in lost]))
    had, has = out_before.get("probabilities"), out_after.get("probabilities")
    if had is True and has is False:
        breaking.append("class probabilities no longer available")
    elif has is True and had is not True:
        compatible.append("class probabilities available")
    return breaking, compatible


def breaking_changes(old: dict, new: dict) -> list[str]:
    return changes(old, new)[0]
