"""Strict checks of prediction requests against a version's signature, before any model sees
them. The HTTP server (``model-registry serve``, :mod:`.app`) uses them for every request.

A body is refused when it is larger than ``max_bytes`` or nested deeper than ``max_depth``
(checked before JSON parsing, so no recursion is spent on it), holds ``NaN`` or infinities or
an integer too long to be a number, or is not ``{"records": [...]}`` / a list of objects.
Each record must name only the signature's inputs (a misspelt one gets a "did you mean"),
give every required input, numbers as JSON numbers (never booleans or strings) and categories
as strings. Every error is one short line; values are quoted at most ``QUOTE`` characters.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from typing import Any, List

from ..bundle.contract import CATEGORICAL, NUMERIC, input_kind
from ..errors import RegistryError

QUOTE = 40
MAX_LINE = 300


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000
    max_depth: int = 16
    max_records: int = 10_000


class Invalid(RegistryError):
    """A refused request: ``errors`` lists one ``{"record", "field", "error"}`` per problem;
    the message is the first, on one line."""

    def __init__(self, errors: List[dict]):
        self.errors = errors
        first = errors[0]
        where = "".join(f"{key} {first[key]}: " for key in ("record", "field") if first.get(key) is not None)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(_cap(f"{where}{first['error']}{more}"))


def _cap(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


def quote(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= QUOTE else text[: QUOTE - 3] + "..."


def _depth(raw: str) -> int:
    """The deepest nesting of arrays and objects, strings skipped: no parser recursion spent."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number: send finite numbers")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{quote(text)} is not a finite number")
    return value


def _integer(text: str) -> int:
    if len(text) > 30:
        raise ValueError(f"an integer of {len(text)} digits is not a usable number")
    return int(text)


def parse_body(raw: bytes, limits: Limits = Limits()) -> Any:
    """The JSON of a request body, within ``limits``; :class:`Invalid` otherwise."""
    if len(raw) > limits.max_bytes:
        raise Invalid([{"error": f"body of {len(raw)} bytes is over the limit of {limits.max_bytes}"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid([{"error": "body is not UTF-8 text"}]) from None
    if _depth(text) > limits.max_depth:
        raise Invalid([{"error": f"body is nested deeper than {limits.max_depth} levels"}])
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_integer)
    except ValueError as exc:
        raise Invalid([{"error": f"body is not valid JSON: {_cap(str(exc).splitlines()[0])}"}]) from None


def records_of(body: Any, limits: Limits = Limits()) -> list:
    """The records of ``{"records": [...]}`` (or of a bare list)."""
    records = body.get("records") if isinstance(body, dict) and set(body) == {"records"} else body
    if isinstance(body, dict) and set(body) != {"records"}:
        extra = sorted(set(body) - {"records"})
        raise Invalid([{"error": f'send {{"records": [...]}}; unexpected keys: {", ".join(map(quote, extra))}'
                        if extra else 'send {"records": [...]}'}])
    if not isinstance(records, list):
        raise Invalid([{"error": f'"records" must be a list of objects, not {type(records).__name__}'}])
    if len(records) > limits.max_records:
        raise Invalid([{"error": f"{len(records)} records is over the limit of {limits.max_records}"}])
    return records


def _field_error(spec: dict, value: Any) -> str | None:
    kind = input_kind(spec)
    if value is None:
        return "is required" if spec.get("required", True) else None
    if kind == NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {quote(value)}"
        if not math.isfinite(float(value)):
            return f"must be a finite number, got {quote(value)}"
    elif kind == CATEGORICAL and not isinstance(value, str):
        return f"must be a string (a category), got {quote(value)}"
    return None


def validate_records(signature: dict, records: list) -> list:
    """``records`` when every one fits ``signature``; :class:`Invalid` listing every problem."""
    specs = {spec["name"]: spec for spec in signature["inputs"]}
    errors = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            errors.append({"record": index, "field": None, "error": f"must be an object, got {quote(record)}"})
            continue
        for name in record:
            if name not in specs:
                close = difflib.get_close_matches(str(name), list(specs), n=1)
                hint = f'; did you mean "{close[0]}"?' if close else ""
                errors.append({"record": index, "field": quote(name), "error": f"is not an input{hint}"})
        for name, spec in specs.items():
            problem = _field_error(spec, record.get(name))
            if problem:
                errors.append({"record": index, "field": quote(name), "error": problem})
    if errors:
        raise Invalid(errors)
    return records
