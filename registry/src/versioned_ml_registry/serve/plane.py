"""The data plane: a decision from a request body, whichever protocol or engine carries it.

``DataPlane`` holds the families' routers (:mod:`.router`), the ledger, the metrics and the
shadow runner. ``predict`` (our ``/v1``) and ``infer`` (the Open Inference Protocol,
:mod:`.v2`) take a body that HTTP has already read: they choose the version (the tags' route,
or a version named in the path), decide the body off the event loop (:mod:`.decide`: parse
and validate it against that version's signature, run the model; in the thread pool, or in a
worker process of :mod:`.workers` when it is large), write the decision to the ledger (waiting
for its commit when the ledger is durable), count it and queue its shadow copy. Each returns a :class:`Reply`
(status, JSON body, headers), refusals included, so that the single-process server
(:mod:`.app`) and a Ray Serve replica (:mod:`.ray_engine`) answer alike.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from starlette.concurrency import run_in_threadpool

from ..errors import RegistryError
from ..ledger.store import Decision
from . import v2
from .decide import V1, V2, Worked, work
from .router import FamilyRouter, Rejected, Unavailable, one_line
from .signals import Signals, flag_lines
from .validation import Invalid, Limits, quote
from .workers import Unserved

log = logging.getLogger("model_registry.serve")

COMMIT_SECONDS = 30.0  # how long an answer waits for its durable ledger row before a 503
PINNED = "pinned"  # the route of a request that names its version (V2 .../versions/{version}/infer)


class RequestIds:
    """Request ids unique across processes and restarts, 32 hex digits as a uuid4's: a random
    64-bit prefix per process, then a counter. Unlike ``uuid4`` it reads no random bytes per
    request: no system call, no GIL handed over on the hot path."""

    def __init__(self):
        self.renew()
        os.register_at_fork(after_in_child=self.renew)  # a forked child must not repeat its parent's ids

    def renew(self) -> None:
        self.prefix, self.counter = secrets.token_hex(8), itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


new_request_id = RequestIds()


@dataclass
class Reply:
    """An HTTP answer, as plain data (it crosses process boundaries under Ray)."""

    status: int
    body: Any
    headers: Dict[str, str] = field(default_factory=dict)


class Refused(Exception):
    """A request answered with an error: its HTTP status, one line, and what else the body holds."""

    def __init__(self, status: int, message: str, headers: Optional[dict] = None, **extra):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, headers or {}, extra

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.message, **self.extra}, self.headers)


def clip(text: str, limit: int = 60) -> str:
    """Client text echoed in an error, cut to ``limit`` characters."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DataPlane:
    def __init__(self, routers: Dict[str, FamilyRouter], ledger, metrics, shadow, limits: Limits,
                 outcomes=None, workers=None, commit_seconds: float = COMMIT_SECONDS):
        self.routers = routers
        self.ledger = ledger  # anything with append(Decision) -> Optional[Future] (durable: the commit)
        self.metrics = metrics
        self.shadow = shadow
        self.limits = limits
        self.signals = Signals()
        self.outcomes = outcomes  # ledger.outcomes.OutcomeStore: feedback and rollout evidence
        self.workers = workers  # .workers.Workers: large bodies decided in worker processes (None: here)
        self.commit_seconds = commit_seconds

    async def call(self, method: str, family: str, *args) -> Reply:
        """One of the methods below for ``family``'s request, by name: how an engine forwards a
        request it received (in this process, or in a Ray replica)."""
        found = getattr(self, method)(family, *args)
        return await found if asyncio.iscoroutine(found) else found

    # ---- choosing the version ---------------------------------------------------------------
    def router_of(self, family: str) -> FamilyRouter:
        router = self.routers.get(family)
        if router is None:
            raise Refused(404, f"family {clip(family)!r} is not served here (served: {', '.join(self.routers)})")
        return router

    def choose(self, family: str, key: Optional[str], version: Optional[str] = None):
        """(router, route, predictor): the tags' choice, or the named version when it is verified here."""
        router = self.router_of(family)
        if version is not None:
            predictor = router.verified(version) or router.verified(f"v{version}")
            if predictor is None:
                raise Refused(404, f"{family} {quote(version)} is not loaded and verified here "
                                   f"(loaded: {', '.join(router.view()['loaded']) or 'none'})")
            return router, PINNED, predictor
        try:
            route, predictor = router.routes.choose(key)
        except Unavailable as exc:
            self.metrics.refused(family, "", "", 503, "unavailable")
            raise Refused(503, str(exc)) from None
        return router, route, predictor

    # ---- decisions ----------------------------------------------------------------------------
    async def decide(self, router: FamilyRouter, route: str, predictor, protocol: str, raw: bytes, started: float,
                     received: float, headers: dict, refusal: int, **invalid) -> tuple[Worked, str, list]:
        """Decide the body (:func:`work`: in the thread pool, or in a worker process when it is
        large and workers are configured); then write the decision to the ledger, count it
        (:mod:`.signals` too) and queue its shadow copy. A body that does not fit, or values the
        model cannot use, are the caller's: ``refusal`` status (with ``invalid`` in the body),
        no decision."""
        family, metrics = router.family, self.metrics
        shadow = router.routes.shadow if route != PINNED else None
        try:
            if self.workers is not None and self.workers.takes(raw):
                worked = await self.workers.decide(predictor, protocol, raw, self.limits, keep_records=shadow is not None)
            else:
                worked = await run_in_threadpool(work, predictor, protocol, raw, self.limits)
        except Invalid as exc:
            metrics.refused(family, predictor.version, route, refusal, "invalid")
            raise Refused(refusal, str(exc), headers, **invalid, errors=exc.errors, errors_total=exc.total) from None
        except Rejected as exc:
            metrics.refused(family, predictor.version, route, refusal, "rejected")
            raise Refused(refusal, str(exc), headers) from None
        except Unserved as exc:
            metrics.refused(family, predictor.version, route, 503, "worker")
            raise Refused(503, str(exc), headers) from None
        except Exception as exc:  # noqa: BLE001 - one line to the caller, no traceback
            metrics.refused(family, predictor.version, route, 500, "failed")
            self.signals.failed(family, router.routes, route, predictor.version)
            log.error(f"{family} {predictor.version} failed on a request: {one_line(exc)}")
            raise Refused(500, f"{family} {predictor.version} failed on these records: {one_line(exc)}", headers) from None
        request, predictions, flags = worked.request, worked.predictions, worked.flags
        request_id = request.id or new_request_id()
        elapsed = time.perf_counter() - started
        try:
            committed = self.ledger.append(Decision(request_id, received, family, predictor.version, predictor.commit,
                                                    route, request.records, predictions, elapsed * 1000,
                                                    input_text=worked.input_text))
        except RegistryError as exc:  # the ledger closed: the server is stopping
            metrics.refused(family, predictor.version, route, 503, "ledger")
            raise Refused(503, f"no decision can be recorded now: {exc}", headers) from None
        if committed is not None:  # a durable ledger: answer only once the row is on disk
            try:
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(committed)), self.commit_seconds)
            except asyncio.TimeoutError:
                metrics.refused(family, predictor.version, route, 503, "ledger")
                raise Refused(503, f"the decision ledger did not commit within {self.commit_seconds:g} s "
                                   "(see /healthz): the decision may be written later",
                              {**headers, "X-Request-Id": request_id}, request_id=request_id) from None
            except Exception as exc:  # noqa: BLE001
                metrics.refused(family, predictor.version, route, 503, "ledger")
                raise Refused(503, f"the decision could not be written to the ledger: {one_line(exc)}", headers) from None
        metrics.answered(family, predictor.version, route, elapsed)
        metrics.flagged(family, predictor.version, route, flags)
        self.signals.answered(family, router.routes, route, predictor.version, elapsed * 1000, predictions, flags)
        headers["X-Request-Id"] = request_id
        if shadow is not None:
            self.shadow.submit(shadow, request_id, request.records)  # queued: it never delays the answer
        return worked, request_id, flag_lines(flags)

    async def predict(self, family: str, raw: bytes, key: Optional[str], started: float, received: float) -> Reply:
        """``POST /v1/models/{family}/predict``."""
        try:
            router, route, predictor = self.choose(family, key)
            headers = {"X-Model-Version": predictor.version, "X-Model-Route": route}
            worked, request_id, flags = await self.decide(router, route, predictor, V1, raw, started, received,
                                                          headers, 422, family=family, version=predictor.version)
        except Refused as refused:
            return refused.reply()
        body = {"family": family, "version": predictor.version, "request_id": request_id,
                "predictions": worked.predictions}
        if worked.probabilities is not None:
            body.update(labels=predictor.labels, probabilities=worked.probabilities)
        if any(flags):
            body["flags"] = flags
        return Reply(200, body, headers)

    async def infer(self, family: str, version: Optional[str], raw: bytes, key: Optional[str], started: float,
                    received: float) -> Reply:
        """``POST /v2/models/{family}[/versions/{version}]/infer``: refusals are 400, as the protocol says."""
        try:
            router, route, predictor = self.choose(family, key, version)
            headers = {"X-Model-Version": predictor.version, "X-Model-Route": route}
            worked, request_id, flags = await self.decide(router, route, predictor, V2, raw, started, received,
                                                          headers, 400)
        except Refused as refused:
            return refused.reply()
        body = v2.encode_infer(family, predictor.version, request_id, worked.request.outputs, worked.predictions,
                               worked.probabilities)
        if any(flags):
            body["parameters"] = {"input_flags": flags}
        return Reply(200, body, headers)

    # ---- what serves ----------------------------------------------------------------------------
    def served(self, family: str, version: Optional[str]):
        router = self.router_of(family)
        if version is not None:
            return router, self.choose(family, None, version)[2]
        return router, router.routes.production

    def model(self, family: str, version: Optional[str]) -> Reply:
        """``GET /v2/models/{family}[/versions/{version}]``."""
        try:
            router, predictor = self.served(family, version)
            if predictor is None:
                raise Refused(503, f"no verified version of {family} is serving yet (see /healthz)")
        except Refused as refused:
            return refused.reply()
        versions = [predictor.version] if version is not None else router.view()["loaded"]
        return Reply(200, v2.model_metadata(family, versions, predictor.signature, predictor.has_probabilities))

    def model_ready(self, family: str, version: Optional[str]) -> Reply:
        """``GET /v2/models/{family}[/versions/{version}]/ready``."""
        try:
            _, predictor = self.served(family, version)
        except Refused as refused:
            return refused.reply()
        ready = predictor is not None
        return Reply(200 if ready else 503, {"name": family, "ready": ready})

    def index(self) -> list:
        """The repository extension's index: each family's production version and state."""
        found = []
        for name, router in self.routers.items():
            serving = router.routes.production
            found.append({"name": name, "version": serving.version if serving else None,
                          "state": "READY" if serving else "UNAVAILABLE", "reason": "; ".join(router.problems())})
        return found
