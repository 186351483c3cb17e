"""Strict checks of prediction requests against a version's signature, before any model sees
them. The HTTP server (``model-registry serve``, :mod:`.app`) uses them for every request.

A body is refused when it is larger than ``max_bytes`` or nested deeper than ``max_depth``,
holds ``NaN`` or infinities or an integer too long to be a number, a lone surrogate, or is not
``{"records": [...]}`` / a list of objects. Bodies are parsed by orjson (C, with its own
recursion limit, strict about UTF-8 and surrogates); only a body it refuses is read again by
the standard library's parser, to say exactly why.
Each record must name only the signature's inputs (a misspelt one gets a "did you mean"),
give every required input, numbers as JSON numbers (never booleans or strings) and categories
as strings. Every error is one short line; values are quoted at most ``QUOTE`` characters, and
a refusal lists at most ``MAX_ERRORS`` errors (its message counts the rest).
"""

from __future__ import annotations

import difflib
import json
import math

import orjson
from dataclasses import dataclass
from typing import Any, List

from ..bundle.contract import CATEGORICAL, NUMERIC, input_kind
from ..errors import RegistryError

QUOTE = 40
MAX_LINE = 300
MAX_ERRORS = 100


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1_000_000
    max_depth: int = 16
    max_records: int = 10_000
    body_seconds: float = 30.0  # a body still arriving after this is refused (408)
    header_seconds: float = 10.0  # headers still arriving after this: 408, connection closed (.protocol)


class Invalid(RegistryError):
    """A refused request: ``errors`` lists one ``{"record", "field", "error"}`` per problem;
    the message is the first, on one line."""

    def __init__(self, errors: List[dict], total: int | None = None):
        self.errors = errors[:MAX_ERRORS]
        self.total = max(total or 0, len(errors))
        first = errors[0]
        where = "".join(f"{key} {first[key]}: " for key in ("record", "field") if first.get(key) is not None)
        more = f" (and {self.total - 1} more)" if self.total > 1 else ""
        super().__init__(_cap(f"{where}{first['error']}{more}"))

    def __reduce__(self):  # rebuilt from its errors when it comes back from a worker process
        return _rebuilt, (type(self), self.errors, self.total)


def _rebuilt(kind: type, errors: List[dict], total: int) -> Invalid:
    found = Exception.__new__(kind)
    Invalid.__init__(found, errors, total)
    return found


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
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Invalid([{"error": _why_not(raw, exc, limits)}]) from None
    if _nesting(body) > limits.max_depth:
        raise Invalid([{"error": f"body is nested deeper than {limits.max_depth} levels"}])
    return body


def _nesting(value: Any) -> int:
    """How deep arrays and objects nest in a parsed body (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def _why_not(raw: bytes, refusal: Exception, limits: Limits) -> str:
    """Why orjson refused ``raw``, said as precisely as the standard library's parser can."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8 text"
    if _depth(text) > limits.max_depth:
        return f"body is nested deeper than {limits.max_depth} levels"
    try:
        json.loads(text, parse_constant=_reject_constant, parse_float=_finite, parse_int=_integer)
    except ValueError as exc:
        return f"body is not valid JSON: {_cap(str(exc).splitlines()[0])}"
    return f"body is not valid JSON: {_cap(str(refusal).splitlines()[0])}"  # e.g. a lone surrogate


def records_of(body: Any, limits: Limits = Limits()) -> list:
    """The records of ``{"records": [...]}`` (with ``"probabilities": true`` optional, read by
    :func:`wants_probabilities`), or of a bare list."""
    records = body.get("records") if isinstance(body, dict) else body
    if isinstance(body, dict):
        extra = sorted(set(body) - {"records", "probabilities"})
        if extra or "records" not in body:
            raise Invalid([{"error": f'send {{"records": [...]}}; unexpected keys: {", ".join(map(quote, extra[:5]))}'
                            if extra else 'send {"records": [...]}'}])
        if not isinstance(body.get("probabilities", False), bool):
            raise Invalid([{"error": '"probabilities" must be true or false'}])
    if not isinstance(records, list):
        raise Invalid([{"error": f'"records" must be a list of objects, not {type(records).__name__}'}])
    if len(records) > limits.max_records:
        raise Invalid([{"error": f"{len(records)} records is over the limit of {limits.max_records}"}])
    return records


def wants_probabilities(body: Any) -> bool:
    return isinstance(body, dict) and body.get("probabilities") is True


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
    """``records`` when every one fits ``signature``; :class:`Invalid` listing the first
    ``MAX_ERRORS`` problems and counting all of them."""
    specs = {spec["name"]: spec for spec in signature["inputs"]}
    errors, total = [], 0

    def found(record, field, problem):
        """Count a problem; keep it (field quoted, message made) while under the cap."""
        nonlocal total
        total += 1
        if len(errors) < MAX_ERRORS:
            errors.append({"record": record, "field": None if field is None else quote(field), "error": problem()})

    for index, record in enumerate(records):
        if not isinstance(record, dict):
            found(index, None, lambda: f"must be an object, got {quote(record)}")
            continue
        for name in record:
            if name not in specs:
                found(index, name, lambda: f"is not an input{_did_you_mean(name, specs)}")
        for name, spec in specs.items():
            problem = _field_error(spec, record.get(name))
            if problem:
                found(index, name, lambda: problem)
    if errors:
        raise Invalid(errors, total)
    return records


def _did_you_mean(name, specs: dict) -> str:
    close = difflib.get_close_matches(str(name)[:QUOTE], list(specs), n=1)
    return f'; did you mean "{close[0]}"?' if close else ""
