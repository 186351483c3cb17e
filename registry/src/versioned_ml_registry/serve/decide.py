"""Deciding one body: parse and validate it against the answering version's signature, flag
inputs outside that version's training profile, run the model. Plain functions over plain data,
so that a worker process (:mod:`.workers`) decides a body exactly as the server's thread pool
does (:mod:`.plane`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import v2
from .router import answer, class_probabilities
from .signals import input_flags
from .validation import Invalid, Limits, parse_body, records_of, validate_records, wants_probabilities

V1, V2 = "v1", "v2"  # the protocol of a body: ours, or the Open Inference Protocol


def v1_records(raw: bytes, signature: dict, limits: Limits) -> tuple[list, bool]:
    """(records, probabilities asked for) of a /v1 body."""
    body = parse_body(raw, limits)
    records = records_of(body, limits)
    if not records:
        raise Invalid([{"record": None, "field": None, "error": "no records: send at least one"}])
    return validate_records(signature, records), wants_probabilities(body)


def v2_request(raw: bytes, signature: dict, probabilities: bool, limits: Limits) -> v2.InferRequest:
    """The decoded and validated V2 request."""
    request = v2.decode_infer(parse_body(raw, limits), signature, probabilities, limits)
    validate_records(signature, request.records)
    return request


def request_of(protocol: str, raw: bytes, predictor, limits: Limits) -> v2.InferRequest:
    """The validated request of a ``/v1`` (``V1``) or ``/v2`` (``V2``) body, for ``predictor``."""
    if protocol == V2:
        return v2_request(raw, predictor.signature, predictor.has_probabilities, limits)
    records, probabilities = v1_records(raw, predictor.signature, limits)
    if probabilities and not predictor.has_probabilities:
        raise Invalid([{"record": None, "field": None,
                        "error": f"{predictor.family} {predictor.version} gives no class probabilities"}])
    return v2.InferRequest(None, records, [v2.PREDICT, v2.PREDICT_PROBA] if probabilities else [v2.PREDICT])


def run_model(predictor, records: list, probabilities: bool) -> tuple[list, Optional[list]]:
    return answer(predictor, records), (class_probabilities(predictor, records) if probabilities else None)


@dataclass
class Worked:
    """A body decided: plain data, as it comes back from a worker process (:mod:`.workers`).
    ``input_text`` is the ledger's text of the records when it was computed there."""

    request: v2.InferRequest
    predictions: list
    probabilities: Optional[list]
    flags: list
    input_text: Optional[str] = None


def work(predictor, protocol: str, raw: bytes, limits: Limits) -> Worked:
    """Parse and validate the body, flag inputs outside the version's training profile, run the model."""
    request = request_of(protocol, raw, predictor, limits)
    flags = input_flags(predictor.profile, request.records)
    predictions, probabilities = run_model(predictor, request.records, v2.PREDICT_PROBA in request.outputs)
    return Worked(request, predictions, probabilities, flags)
