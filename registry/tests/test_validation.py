"""Strict request checks (validation.py): every hostile body is one clear error, never a
traceback, and nothing reaches a model."""

import pytest

from versioned_ml_registry.serve.validation import Invalid, Limits, parse_body, records_of, validate_records

SIGNATURE = {"task": "classification", "output": {"name": "y", "type": "label", "labels": ["a", "b"]},
             "inputs": [{"name": "alcohol", "type": "numeric", "required": True},
                        {"name": "colour", "type": "categorical", "required": True},
                        {"name": "hue", "type": "numeric", "required": False}]}
GOOD = {"alcohol": 13.2, "colour": "red"}


def refused(raw: bytes, match: str, limits=Limits()):
    with pytest.raises(Invalid, match=match) as exc:
        validate_records(SIGNATURE, records_of(parse_body(raw, limits), limits))
    message = str(exc.value)
    assert "\n" not in message and len(message) <= 300
    return exc.value


def test_a_good_body_passes():
    body = b'{"records": [{"alcohol": 13.2, "colour": "red", "hue": null}, {"alcohol": 12, "colour": "white"}]}'
    assert len(validate_records(SIGNATURE, records_of(parse_body(body)))) == 2


@pytest.mark.parametrize("raw, match", [
    (b"7", "records.*must be a list"),
    (b'"text"', "must be a list"),
    (b'{"records": 5}', "must be a list"),
    (b'{"records": [5]}', "record 0: must be an object, got 5"),
    (b'{"rows": []}', 'unexpected keys: "rows"'),
    (b'{"records": [{"alcohol": NaN, "colour": "red"}]}', "NaN is not a number"),
    (b'{"records": [{"alcohol": Infinity, "colour": "red"}]}', "Infinity is not a number"),
    (b'{"records": [{"alcohol": 1e400, "colour": "red"}]}', "not a finite number"),
    (b'{"records": [{"alcohol": ' + b"9" * 5000 + b', "colour": "red"}]}', "integer of 5000 digits"),
    (b'{"records": [{"alcohol": true, "colour": "red"}]}', 'field "alcohol": must be a number, got true'),
    (b'{"records": [{"alcohol": "13.2", "colour": "red"}]}', 'field "alcohol": must be a number, got "13.2"'),
    (b'{"records": [{"alcohol": null, "colour": "red"}]}', 'field "alcohol": is required'),
    (b'{"records": [{"colour": "red"}]}', 'field "alcohol": is required'),
    (b'{"records": [{"alcohol": 1, "colour": 3}]}', 'field "colour": must be a string'),
    (b'{"records": [{"alcohol": 1, "colour": "red", "alcohl": 2}]}', 'field "alcohl": is not an input; did you mean "alcohol"'),
    (b'{"records": [{"alcohol": 1, "colour": "red", "zzz": 2}]}', 'field "zzz": is not an input$'),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 16 levels"),
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json", "not valid JSON"),
])
def test_hostile_bodies_are_one_clear_error(raw, match):
    refused(raw, match)


def test_a_long_value_is_quoted_short_and_limits_apply():
    error = refused(b'{"records": [{"alcohol": "' + b"x" * 1_000_000 + b'", "colour": "red"}]}',
                    "must be a number", Limits(max_bytes=2_000_000))
    assert len(str(error)) < 200
    refused(b'{"records": []}' + b" " * 100, "over the limit of 50", Limits(max_bytes=50))
    refused(b'{"records": [{}, {}, {}]}', "3 records is over the limit of 2", Limits(max_records=2))


def test_every_problem_is_listed():
    error = refused(b'{"records": [{"alcohol": true}, {"colour": 1}]}', r"\(and 3 more\)")
    assert [(e["record"], e["field"]) for e in error.errors] == [
        (0, '"alcohol"'), (0, '"colour"'), (1, '"alcohol"'), (1, '"colour"')]
