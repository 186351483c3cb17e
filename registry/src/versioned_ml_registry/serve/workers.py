"""Large bodies decided in worker processes, so that they never hold the GIL small requests need.

With ``serving.workers: N`` (``serve --workers N``), a body of ``serving.worker_min_bytes`` or
more (default 64 KiB) is decided (:func:`.decide.work`: parsed, validated, flagged, predicted)
in one of N worker processes. Each worker loads the versions it is asked for through the path
the server loads them by (md5 and sha256 chain, reviewed skops types, the fingerprint proof),
and keeps the last few. The server still chooses the version, writes the ledger row, counts
and answers: a worker holds nothing but loaded versions, so a body whose worker died is given
once to a fresh pool, and answered 503 only if that one dies too. Smaller bodies stay in the
server's thread pool, where the trip to another process would cost more than it saves.

Without the setting (``workers: 0``, the default) the server stays one process.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from dataclasses import replace
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Optional

from ..bundle.loading import load_for_serving
from ..errors import RegistryError
from ..ledger.store import canonical
from ..tags.repo import Repo
from .decide import Worked, work
from .router import Rejected, one_line
from .validation import Invalid, Limits

log = logging.getLogger("model_registry.serve")

KEEP = 8  # versions a worker keeps loaded (production, canary, shadow and rollback of a few families)
QUEUED_BYTES_PER_WORKER = 4_000_000  # body bytes waiting per worker beyond which a new body is refused (503)
STARTUP_SECONDS = 120.0


class Unserved(RegistryError):
    """No worker could decide the body: its worker died and so did the next, they are all busy,
    or the version the server serves cannot be loaded there as the server loaded it. A 503,
    never the model's failure."""


class Failed(RegistryError):
    """The model failed in a worker: its exception, as one line (any exception crosses back)."""


# ---- in the worker process -----------------------------------------------------------------
_toplevel: Optional[str] = None
_all_up = None
_loaded: "OrderedDict[tuple, object]" = OrderedDict()
_moved: dict = {}  # (family, version, commit, md5) whose tag now names another commit: the refusal


def begin(toplevel: str, all_up) -> None:
    """A worker's start: Ctrl-C is the server's to handle (it stops the pool); the worker ends
    with the server, even when the server is killed and cannot stop it."""
    global _toplevel, _all_up
    _toplevel, _all_up = toplevel, all_up
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=end_with, args=(parent.sentinel,), name="parent-watch", daemon=True).start()


def end_with(sentinel) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def check_in() -> int:
    """This worker's process id, once every worker of the first pool has started (so that each
    of the server's first calls runs in another process)."""
    try:
        _all_up.wait(STARTUP_SECONDS)
    except threading.BrokenBarrierError:
        pass  # a worker slow to start is still started by the pool: it only is not counted yet
    return os.getpid()


def predictor_of(family: str, version: str, commit: str, md5: str):
    """``version`` as the server loaded it: the same commit and bundle md5, else :class:`Unserved`
    (its tag was moved or deleted since), never another model under the same name."""
    key = (family, version, commit, md5)
    if key in _moved:  # versions are immutable: a moved tag is not loaded again for every body
        raise Unserved(_moved[key])
    if key not in _loaded:
        try:
            found = load_for_serving(Repo(_toplevel), family, version)
        except RegistryError as exc:
            raise Unserved(f"a worker cannot load {family} {version} as this server did: {exc}") from None
        if (found.commit, found.md5) != (commit, md5):
            _moved[key] = (f"{family} {version} now names commit {str(found.commit)[:12]}, not the "
                           f"{str(commit)[:12]} this server verified: its tag was moved; restart the server")
            raise Unserved(_moved[key])
        _loaded[key] = found
        while len(_loaded) > KEEP:
            _loaded.popitem(last=False)
    _loaded.move_to_end(key)
    return _loaded[key]


def decide_here(coordinates: tuple, protocol: str, raw: bytes, limits: Limits,
                keep_records: bool) -> tuple[int, Worked]:
    """(this process's id, the body decided by the version at ``coordinates``: family, version,
    commit, md5), with the ledger's text of the records; the records themselves only when
    ``keep_records`` (a shadow copy needs them)."""
    predictor = predictor_of(*coordinates)
    try:
        worked = work(predictor, protocol, raw, limits)
    except (Invalid, Rejected):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the model raised, as one line
        raise Failed(one_line(exc)) from None
    worked.input_text = canonical(worked.request.records)
    if not keep_records:
        worked.request = replace(worked.request, records=None)
    return os.getpid(), worked


# ---- in the server -----------------------------------------------------------------------------
class Workers:
    """The pool of worker processes, replaced when one of them dies."""

    def __init__(self, toplevel: str, processes: int, min_bytes: int):
        self.toplevel, self.processes, self.min_bytes = toplevel, processes, min_bytes
        self.decided = self.restarts = 0
        self.pids: set = set()
        self._lock = threading.Lock()
        self._waiting = self._waiting_bytes = 0  # bodies given to the pool and not answered yet, and their size
        self._spawn = multiprocessing.get_context("spawn")
        self._all_up = self._spawn.Barrier(processes)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # spawn: forking a process that runs threads (loader, ledger, uvicorn) can copy a held lock
        return ProcessPoolExecutor(self.processes, mp_context=self._spawn, initializer=begin,
                                   initargs=(self.toplevel, self._all_up))

    def start(self) -> None:
        """Start every worker now, so that the first large body waits for none, and so that
        each ignores Ctrl-C before the server takes traffic."""
        for future in [self._pool.submit(check_in) for _ in range(self.processes)]:
            self.pids.add(future.result())

    def takes(self, raw: bytes) -> bool:
        return len(raw) >= self.min_bytes

    async def decide(self, predictor, protocol: str, raw: bytes, limits: Limits, keep_records: bool) -> Worked:
        if self._waiting_bytes and self._waiting_bytes + len(raw) > self.processes * QUEUED_BYTES_PER_WORKER:
            raise Unserved(f"the {self.processes} worker process(es) already have {self._waiting} bodies "
                           f"({self._waiting_bytes} bytes) to decide: retry later")
        coordinates = (predictor.family, predictor.version, predictor.commit, predictor.md5)
        self._waiting += 1
        self._waiting_bytes += len(raw)
        try:
            for _ in range(2):
                pool = self._pool
                try:
                    pid, worked = await asyncio.wrap_future(pool.submit(
                        decide_here, coordinates, protocol, raw, limits, keep_records))
                except BrokenProcessPool:
                    self._replace(pool)
                    continue
                self.decided += 1
                self.pids.add(pid)
                return worked
        finally:
            self._waiting -= 1
            self._waiting_bytes -= len(raw)
        raise Unserved(f"the worker process deciding this {len(raw)}-byte body died twice: retry, "
                       "or send smaller bodies (see /healthz workers)")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                log.warning(f"a worker process died: starting a new pool of {self.processes}")
                self._pool, self.pids = self._new_pool(), set()
                self.restarts += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def view(self) -> dict:
        return {"processes": self.processes, "min_bytes": self.min_bytes, "pids": sorted(self.pids),
                "decided": self.decided, "waiting": self._waiting, "restarts": self.restarts}

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
