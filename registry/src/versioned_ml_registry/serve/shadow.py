"""Shadow traffic: a copy of each answered request goes to the family's shadow holder after the
response is sent, on a small thread pool of its own. Its answer goes only to the ledger (route
``shadow``, the same request id), never to the caller, and it can neither delay nor change the
response. When the shadow falls behind by ``max_pending`` copies, new copies are dropped (and
counted in ``model_shadow_total{outcome="dropped"}``) rather than queued without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..bundle.loading import Predictor
from ..ledger.store import Decision, LedgerWriter
from .metrics import Metrics
from .router import answer, one_line
from .validation import validate_records

log = logging.getLogger("model_registry.serve")


class ShadowRunner:
    def __init__(self, ledger: LedgerWriter, metrics: Metrics, workers: int = 1, max_pending: int = 1000):
        self._ledger = ledger
        self._metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shadow")
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()

    def submit(self, predictor: Predictor, request_id: str, records: list) -> None:
        """Queue a copy of a request for ``predictor``; never blocks."""
        with self._lock:
            if self._pending >= self._max_pending:
                self._metrics.shadow.labels(predictor.family, predictor.version, "dropped").inc()
                return
            self._pending += 1
        self._pool.submit(self._run, predictor, request_id, records, time.time())

    def _run(self, predictor: Predictor, request_id: str, records: list, received: float) -> None:
        try:
            started = time.perf_counter()
            predictions = answer(predictor, validate_records(predictor.signature, records))
            self._ledger.append(Decision(request_id, received, predictor.family, predictor.version,
                                         predictor.commit, "shadow", records, predictions,
                                         (time.perf_counter() - started) * 1000))
            self._metrics.shadow.labels(predictor.family, predictor.version, "answered").inc()
        except Exception as exc:  # noqa: BLE001 - a failing shadow must never reach a caller
            self._metrics.shadow.labels(predictor.family, predictor.version, "failed").inc()
            log.error(f"{predictor.family}: shadow {predictor.version} failed on request {request_id}: {one_line(exc)}")
        finally:
            with self._lock:
                self._pending -= 1

    def close(self) -> None:
        """Answer every queued copy (so its ledger row is written), then stop."""
        self._pool.shutdown(wait=True)
