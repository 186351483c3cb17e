"""The evidence a rollout is decided on: ``POST /v1/feedback`` (true outcomes, into the ledger)
and ``GET /v1/models/{family}/rollout`` (the canary's window next to production's).

Feedback is ``{"request_id": ..., "outcome": ...}`` or ``{"outcomes": [those]}``: the outcome of
a one-record request is a value, else a list with one value per record; a label of the
family's signature for a classifier, a number for a regressor. A call is all or nothing: an
unknown request id is 404, an outcome of the wrong type 422, an outcome that differs from the
one already recorded 409; the same outcome again changes nothing.
"""

from __future__ import annotations

import math
import time
from typing import Dict, Optional

from ..ledger.outcomes import Conflict, OutcomeStore, outcome_values
from ..rules.rollout import outcome_metric
from .plane import Refused, Reply, clip
from .router import FamilyRouter
from .signals import Signals
from .validation import Invalid, Limits, parse_body

MAX_OUTCOMES = 10_000


def _items(body) -> list:
    if isinstance(body, dict) and set(body) == {"outcomes"} and isinstance(body["outcomes"], list):
        items = body["outcomes"]
    elif isinstance(body, dict) and set(body) == {"request_id", "outcome"}:
        items = [body]
    else:
        raise Refused(400, 'send {"request_id": "...", "outcome": ...} or {"outcomes": [those]}')
    if not items or len(items) > MAX_OUTCOMES:
        raise Refused(400, f"send 1 to {MAX_OUTCOMES} outcomes at a time, not {len(items)}")
    for index, item in enumerate(items):
        if not (isinstance(item, dict) and set(item) == {"request_id", "outcome"} and isinstance(item["request_id"], str)):
            raise Refused(400, f'outcome {index}: expected {{"request_id": "<string>", "outcome": ...}}')
    return items


def _label_problem(value, labels) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"{clip(repr(value))} is not a label"
    if labels and str(value) not in {str(label) for label in labels}:
        return f"{clip(repr(value))} is not one of the labels ({', '.join(map(str, labels))[:80]})"
    return None


def _number_problem(value) -> Optional[str]:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{clip(repr(value))} is not a number"
    return None


class Evidence:
    def __init__(self, routers: Dict[str, FamilyRouter], signals: Signals, outcomes: OutcomeStore, ledger,
                 limits: Limits):
        self.routers, self.signals, self.outcomes, self.ledger, self.limits = routers, signals, outcomes, ledger, limits

    def signature(self, decision: dict) -> Optional[dict]:
        """The signature of the version that made ``decision``, while it is loaded here, else of
        what serves the family's production."""
        router = self.routers.get(decision["family"])
        if router is None:
            return None
        predictor = router.verified(decision["version"]) or router.routes.production
        return predictor.signature if predictor is not None else None

    def check(self, index: int, item: dict, found: list) -> int:
        """The ledger row ``item`` judges; Refused when it cannot be recorded."""
        rid = clip(item["request_id"])
        if not found:
            raise Refused(404, f"outcome {index}: no decision has request id {rid!r}; nothing recorded")
        if len(found) > 1:
            raise Refused(409, f"outcome {index}: {len(found)} decisions share request id {rid!r} (a client "
                               "reused it): their outcomes cannot be told apart; nothing recorded")
        decision = found[0]
        values = outcome_values(item["outcome"], decision["output"])
        if values is None:
            raise Refused(422, f"outcome {index}: request {rid} decided {len(decision['output'])} records: "
                               "send one value per record; nothing recorded")
        signature = self.signature(decision)
        if signature is not None:
            classifier = signature.get("task") == "classification"
        else:  # nothing of the family is loaded: what it answered says what it is
            classifier = not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in decision["output"])
        labels = (signature or {}).get("output", {}).get("labels") if classifier else None
        for value in values:
            problem = _label_problem(value, labels) if classifier else _number_problem(value)
            if problem:
                raise Refused(422, f"outcome {index}: {problem}; nothing recorded")
        return decision["seq"]

    def feedback(self, raw: bytes) -> Reply:
        """``POST /v1/feedback``."""
        try:
            try:
                items = _items(parse_body(raw, self.limits))
            except Invalid as exc:
                raise Refused(400, str(exc)) from None
            ids = [item["request_id"] for item in items]
            decisions = self.outcomes.decisions(ids)
            if len(decisions) < len(set(ids)) and self.ledger.flush():  # rows still on their way to disk
                decisions = self.outcomes.decisions(ids)
            rows = [self.check(index, item, decisions.get(item["request_id"], [])) for index, item in enumerate(items)]
            try:
                return Reply(200, self.outcomes.record([(seq, item["request_id"], item["outcome"])
                                                        for seq, item in zip(rows, items)]))
            except Conflict as exc:
                raise Refused(409, str(exc)) from None
        except Refused as refused:
            return refused.reply()

    def rollout(self, family: str) -> Reply:
        """``GET /v1/models/{family}/rollout``."""
        router = self.routers[family]
        routes = router.routes
        window = self.signals.report(family, routes)
        task = routes.production.task if routes.production is not None else None
        if window is None:
            return Reply(200, {"family": family, "live": False, "task": task,
                               "production": routes.version("production"), "canary": None})
        versions = {route: window[route]["version"] for route in ("production", "canary")}
        judged = self.outcomes.judged(family, window["since"], versions)
        report = {"family": family, "live": True, "task": task, "since": window["since"],
                  "soaked_seconds": time.time() - window["since"]}
        for route in versions:
            pairs = [pair for output, outcome in judged[route]
                     for pair in zip(output, outcome_values(outcome, output) or [])]
            report[route] = {**window[route], "outcomes": outcome_metric(task, pairs)}
        return Reply(200, report)
