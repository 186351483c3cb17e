"""Terminal text for ``history`` and ``diff``: rows that fit in 100 columns, values summarised
(``history`` cuts only on a terminal: piped, its rows are whole).

``--json`` prints the API's data unchanged; these functions only shorten what a person reads.
"""

from __future__ import annotations

import re

WIDTH = 100
_EMAIL = re.compile(r"\s*<[^<>]*>\s*$")


def person(who) -> str:
    """The name of ``"Name <email>"`` (the email alone when there is no name)."""
    text = str(who or "")
    name = _EMAIL.sub("", text).strip()
    return name or text.strip("<> ") or "-"


def clip(text, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _when(iso_time: str) -> str:
    return iso_time.replace("T", " ")[:16]  # minutes are enough to read; --json has seconds


def history_header() -> str:
    return f"{'when (UTC)':<16}  {'family':<12} {'event':<10} {'version':<9} {'stage':<10} {'by':<14} why"


def history_line(row: dict, width: int | None = WIDTH) -> str:
    """One event in aligned columns, cut to ``width`` (a terminal's); ``width=None`` (piped
    output) cuts nothing: every name and reason is whole."""
    why = row.get("reason") or ""
    if row["event"] == "release" and row.get("bump"):
        why = f"{row['bump']}: {why}" if why else row["bump"]
    if row.get("forced"):
        why = "[forced] " + why

    def cell(text, size: int) -> str:
        return f"{clip(text, size) if width else ' '.join(str(text).split()):<{size}}"

    head = (f"{_when(row['when']):<16}  {cell(row['family'], 12)} {cell(row['event'], 10)} "
            f"{cell(row['version'], 9)} {cell(row['stage'] or '-', 10)} {cell(person(row['by']), 14)}")
    if not why:
        return head
    return head + " " + (clip(why, width - len(head) - 1) if width else " ".join(why.split()))


def value_text(value, width: int = 40) -> str:
    if isinstance(value, (list, tuple)):
        return f"list of {len(value)} items"
    if isinstance(value, dict):
        return f"mapping of {len(value)} keys"
    return clip(repr(value) if isinstance(value, str) else value, width)


def _list_change(before: list, after: list) -> str:
    scalar = all(isinstance(item, (str, int, float, bool)) for item in [*before, *after])
    if scalar:
        added = [item for item in after if item not in before]
        removed = [item for item in before if item not in after]
        if (added or removed) and len(added) + len(removed) <= 6:
            return clip(" ".join([f"+{item}" for item in added] + [f"-{item}" for item in removed]), 70)
        if not added and not removed:
            return f"reordered ({len(after)} items)"
    return f"list of {len(before)} → {len(after)} items"


def change_line(key: str, before, after) -> str:
    """One changed parameter or metric; an absent side (None) reads as added or removed."""
    if before is None:
        return f"added {key} = {value_text(after)}"
    if after is None:
        return f"removed {key} (was {value_text(before)})"
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        return f"{key}: {_list_change(list(before), list(after))}"
    return f"changed {key}: {value_text(before)} → {value_text(after)}"


def diff_lines(report: dict) -> list[str]:
    lines = [f"{report['family']} {report['old']} → {report['new']}: {report['bump'] or 'identical bundles'}"]
    for section in ("params", "metrics"):
        changes = report[section]
        if changes:
            lines.append(f"  {section}:")
            lines += [f"    {change_line(key, *pair)}" for key, pair in changes.items()]
    lines += [f"  - {clip(reason, WIDTH - 4)}" for reason in report["reasons"]]
    return lines
