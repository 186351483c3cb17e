"""The event of one stage tag: a ``stage.changed`` payload and the id it is sent with.

The payload is flat (the spec allows the data at the top level)::

    {"type": "stage.changed", "timestamp": "2026-01-02T03:04:05Z", "family": "wine",
     "stage": "production", "version": "v0.2.0", "previous": "v0.1.0", "who": "Ann <ann@x>",
     "why": "beats v0.1.0", "tag": "wine#production#4", "event": "promote", "commit": "<sha>"}

``timestamp`` is the tag's tagger time; ``previous`` the stage's holder before this tag (null for
the first); ``event`` the command that wrote it (promote, rollback, drill, abort-canary,
deprecate, archive, release). The id, ``msg_`` + the tag object's id, is the same for the same
tag wherever and however often it is announced, so a receiver can drop a repeat by it.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterable

from ..tags.names import StageTagName, family_patterns, parse_tag
from ..tags.refs import read_tags
from ..tags.state import FamilyState, iso

TYPE = "stage.changed"

Event = namedtuple("Event", "id body payload")  # body: the exact bytes sent and signed


def event_id(tag_object: str) -> str:
    return f"msg_{tag_object}"


def payload(fam: FamilyState, tag: str) -> dict | None:
    """The payload of the stage tag ``tag`` of ``fam``; None when ``fam`` has no such tag."""
    events = fam.events  # oldest first: the previous holder is the last earlier tag of the stage
    index = next((i for i, ev in enumerate(events) if ev.tag == tag), None)
    if index is None:
        return None
    ev = events[index]
    before = next((e for e in reversed(events[:index]) if e.stage == ev.stage), None)
    meta = ev.meta

    def text(key):
        value = meta.get(key)
        return value if isinstance(value, str) else None

    return {"type": TYPE, "timestamp": iso(ev.time), "family": fam.name, "stage": ev.stage,
            "version": ev.label, "previous": before.label if before else None, "who": ev.by,
            "why": text("reason"), "tag": ev.tag, "event": text("event") or "assign", "commit": ev.commit}


def encode(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def stage_events(toplevel: str, tags: Iterable[str]) -> list[Event]:
    """One event for each stage tag among ``tags`` (other names are skipped), read from the
    repository's refs now: one ``for-each-ref`` per family."""
    by_family: dict[str, list[str]] = {}
    for name in tags:
        parsed = parse_tag(name)
        if isinstance(parsed, StageTagName):
            by_family.setdefault(parsed.family, []).append(name)
    found = []
    for family, names in sorted(by_family.items()):
        records = read_tags(toplevel, family_patterns(family))
        objects = {rec.name: rec.oid for rec in records}
        fam = FamilyState.from_records(family, records)
        for name in names:
            data = payload(fam, name)
            if data is not None:
                found.append(Event(event_id(objects[name]), encode(data), data))
    return found
