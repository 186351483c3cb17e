"""The single-process server's parts, wired together: one router per family (:mod:`.router`),
the tag follower (:mod:`.follower`), the ledger writer (:mod:`..ledger.store`), the shadow
runner (:mod:`.shadow`), the metrics (:mod:`.metrics`) and the data plane over them
(:mod:`.plane`), the rollout evidence (:mod:`.evidence`); and what ``/v1/models`` and
``/healthz`` report. It is the backend the HTTP
layer (:mod:`.app`) calls."""

from __future__ import annotations

import concurrent.futures
import time
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
from .metrics import Metrics
from .plane import DataPlane, Reply
from .router import FamilyRouter
from .settings import DEFAULT_LEDGER, ServeSettings
from .shadow import ShadowRunner


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
        self.plane = DataPlane(self.routers, self.ledger, self.metrics, self.shadow, settings.limits)
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
        """Start following the tags (the first read and loads begin at once)."""
        self.follower.start()

    def stop(self) -> None:
        """Stop following, answer queued shadow copies, write every ledger row, in that order."""
        self.follower.stop()
        self.loader.shutdown(wait=True, cancel_futures=True)
        self.shadow.close()
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
                           "problem": self.ledger.error}}

    def check(self) -> tuple[int, dict]:
        """(200, ...) when every family has a verified production version serving, else 503.
        ``status`` is ``degraded`` when everything serves but something is wrong (a holder that
        failed its checks, unreadable tags, an unreachable remote, the ledger)."""
        families, serving = {}, True
        for name, router in self.routers.items():
            routes = router.routes
            problems = router.problems()
            if routes.production is None:
                serving = False
            families[name] = {"serving": routes.production.version if routes.production else None,
                              "holder": router.holders.production, "problems": problems}
        extra = [p for p in (self.follower.problem, self.ledger.error) if p]
        if self.follower.last_read is None:
            extra.append("the tags have not been read yet")
        degraded = extra or any(f["problems"] for f in families.values())
        status = "unavailable" if not serving else "degraded" if degraded else "ok"
        return (200 if serving else 503), {"status": status, "families": families, "problems": extra,
                                           "time": time.time()}
