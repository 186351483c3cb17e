"""The single-process server's parts, wired together: one router per family (:mod:`.router`),
the tag follower (:mod:`.follower`), the ledger writer (:mod:`..ledger.store`), the shadow
runner (:mod:`.shadow`), the metrics (:mod:`.metrics`) and the data plane over them
(:mod:`.plane`), the rollout evidence (:mod:`.evidence`); and what ``/v1/models`` and
``/healthz`` report. It is the backend the HTTP
layer (:mod:`.app`) calls."""

from __future__ import annotations

import concurrent.futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict

from starlette.concurrency import run_in_threadpool

from ..bundle.loading import load_for_serving
from ..ledger.outcomes import OutcomeStore
from ..ledger.store import LedgerWriter
from .evidence import Evidence
from ..tags.repo import Repo
from .follower import Follower
from .health import health
from .metrics import Metrics
from .plane import DataPlane, Reply
from .router import FamilyRouter
from .settings import DEFAULT_LEDGER, ServeSettings
from .shadow import ShadowRunner
from .workers import Workers


class Service:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self._ignore_ledger_dir(settings)
        self.ledger = LedgerWriter(settings.ledger, settings.store_inputs, durable=settings.durable_ledger)
        # one loader thread: loads never compete with each other for the CPU, and the most
        # urgent (production) is queued first
        self.loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loader")
        self.routers: Dict[str, FamilyRouter] = {
            name: FamilyRouter(name, self.load, self.loader, settings.canary_percent[name])
            for name in settings.families}
        self.follower = Follower(settings.toplevel, self.routers, settings.follow, settings.remote,
                                 settings.interval, settings.require_signed)
        self.metrics = Metrics(lambda: self.routers)
        self.shadow = ShadowRunner(self.ledger, self.metrics)
        self.workers = Workers(settings.toplevel, settings.workers, settings.worker_min_bytes) if settings.workers else None
        self.plane = DataPlane(self.routers, self.ledger, self.metrics, self.shadow, settings.limits,
                               workers=self.workers, commit_seconds=settings.commit_timeout)
        self.outcomes = OutcomeStore(settings.ledger)
        self.evidence = Evidence(self.routers, self.plane.signals, self.outcomes, self.ledger, settings.limits)

    @property
    def families(self) -> list:
        return list(self.routers)

    async def call(self, family: str, method: str, *args) -> Reply:
        """A data-plane method for ``family``'s request (here: in this process)."""
        return await self.plane.call(method, family, *args)

    def load(self, family: str, version: str):
        return load_for_serving(Repo(self.settings.toplevel), family, version)

    @staticmethod
    def _ignore_ledger_dir(settings: ServeSettings) -> None:
        """The default ledger lives in the repository: make git ignore its folder."""
        folder = (Path(settings.toplevel) / DEFAULT_LEDGER).parent
        if settings.ledger.parent == folder and not (folder / ".gitignore").exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".gitignore").write_text("# written by model-registry serve: the decision ledger is not source\n*\n")

    def start(self) -> None:
        """Start following the tags (the first read and loads begin at once), and the workers."""
        self.follower.start()
        if self.workers is not None:
            self.workers.start()

    def stop(self) -> None:
        """Stop following, answer queued shadow copies, write every ledger row, in that order."""
        self.follower.stop()
        self.loader.shutdown(wait=True, cancel_futures=True)
        self.shadow.close()
        if self.workers is not None:
            self.workers.stop()
        self.ledger.close()
        self.outcomes.close()

    async def reload(self, timeout: float = 120.0) -> dict:
        """Read the tags now (retrying versions that failed), wait for the loads that started,
        and report what serves."""
        futures = await run_in_threadpool(self.follower.refresh, True)
        await run_in_threadpool(concurrent.futures.wait, futures, timeout)
        return self.report()

    async def view(self) -> dict:
        return self.report()

    async def feedback(self, raw: bytes) -> Reply:
        return await run_in_threadpool(self.evidence.feedback, raw)

    async def rollout(self, family: str) -> Reply:
        return await run_in_threadpool(self.evidence.rollout, family)

    async def index(self) -> list:
        return self.plane.index()

    async def health(self) -> tuple[int, dict]:
        return self.check()

    def report(self) -> dict:
        return {"families": {name: router.view() for name, router in self.routers.items()},
                "follow": {"mode": self.settings.follow, "interval": self.settings.interval,
                           "remote": self.settings.remote if self.settings.follow == "remote" else None,
                           "last_read": self.follower.last_read, "problem": self.follower.problem},
                "ledger": {"path": str(self.settings.ledger), "written": self.ledger.written,
                           "problem": self.ledger.error},
                "workers": self.workers_view()}

    def check(self) -> tuple[int, dict]:
        """:func:`.health.health` of this process's families, follower, ledger and workers."""
        families = {name: {"serving": router.routes.production.version if router.routes.production else None,
                           "holder": router.holders.production, "problems": router.problems()}
                    for name, router in self.routers.items()}
        extra = [p for p in (self.follower.problem, self.ledger.error) if p]
        if self.follower.last_read is None:
            extra.append("the tags have not been read yet")
        return health(families, extra, workers=self.workers_view())

    def workers_view(self):
        return self.workers.view() if self.workers is not None else None
