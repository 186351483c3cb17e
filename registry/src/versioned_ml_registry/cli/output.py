"""How commands print: JSON for scripts, lines for people."""

from __future__ import annotations


def print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, default=str))


def print_result(res, as_json: bool = False) -> int:
    """A write command's :class:`~versioned_ml_registry.result.Result`: its lines, then the tags written."""
    if as_json:
        print_json(res.as_dict())
        return 0
    for line in res.messages:
        print(line)
    if res.tags:
        print("tags: " + " ".join(res.tags))
    return 0
