"""``model-registry serve --engine ray``: the same HTTP app, routing and ledger, scaled out on
Ray Serve (the ``ray`` extra).

On the cluster (a local Ray instance by default, or ``--address``):

- **one deployment per family** (``family-<name>``, ``--replicas`` N): each replica holds that
  family's router and data plane (:mod:`.plane`) and answers ``call(method, ...)``. A thread of
  the replica long-polls the follower for the family's stage holders; on a change it loads and
  verifies every new version (md5 chain, fingerprint) before its routes switch, then tells the
  follower; a failed load keeps the version that serves (as in one process);
- **one ingress deployment** (``gateway``, N replicas): the HTTP app of :mod:`.app`, whose
  backend calls the family deployments through their handles;
- **one ledger actor**: every replica's decisions in one hash chain (a durable ledger: a
  replica answers once the actor says its row is committed);
- **one follower actor**: reads the tags (local refs, or ``git fetch`` first) every
  ``interval`` seconds and on ``POST /v1/reload``, and pushes each change to every replica of
  the family (their long polls return); a reload answers once every replica has applied it
  (or, after 300 s, says it did not).
  No deployment is updated: replicas never restart to follow the tags.

The process that ran the command deploys all this, waits for SIGINT or SIGTERM, then removes
the application, writes the last ledger rows and leaves the Ray instance (a local one stops).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import threading
import time
import uuid
from typing import Dict, List, Optional

import ray
from ray import serve

from ..bundle.loading import load_for_serving
from ..errors import RegistryError
from ..ledger.store import LedgerWriter
from ..tags.repo import Repo
from .metrics import Metrics
from .health import health
from .plane import DataPlane, Reply
from .ray_follower import FOLLOWER, NAMESPACE, FollowerActor
from .router import FamilyRouter, Holders, one_line
from .settings import ServeSettings
from .shadow import ShadowRunner

log = logging.getLogger("model_registry.serve")

APP = "model-registry"
LEDGER = "model-registry-ledger"
# Replicas and actors reserve no CPU: they wait on I/O most of the time, and N replicas per
# family must fit a small machine; Ray still spreads them over a cluster's nodes.
NO_CPU_RESERVED = {"num_cpus": 0}
MAX_ONGOING = 64  # requests a replica takes at once: model calls run in its thread pool


def family_deployment(family: str) -> str:
    return f"family-{family}"


# ---- the ledger: one writer for every replica -------------------------------------------------

@ray.remote(num_cpus=0)
class LedgerActor:
    def __init__(self, path: str, store_inputs: bool, durable: bool):
        self.writer = LedgerWriter(path, store_inputs, durable=durable)

    async def append(self, decision) -> None:
        committed = self.writer.append(decision)
        if committed is not None:
            await asyncio.wrap_future(committed)

    def flush(self) -> bool:
        return self.writer.flush()

    def state(self) -> dict:
        return {"path": str(self.writer.path), "written": self.writer.written, "problem": self.writer.error,
                "durable": self.writer.durable}

    def close(self) -> int:
        self.writer.close()
        return self.writer.written


class RemoteLedger:
    """The ledger as a replica sees it: ``append`` sends the decision to the ledger actor; a
    durable one returns the future of its commit."""

    def __init__(self, actor, durable: bool):
        self.actor, self.durable = actor, durable

    def append(self, decision) -> Optional[concurrent.futures.Future]:
        ref = self.actor.append.remote(decision)
        return ref.future() if self.durable else None


# ---- a family's replicas ---------------------------------------------------------------------

@serve.deployment
class FamilyModel:
    def __init__(self, family: str, settings: ServeSettings, ledger, follower):
        self.family, self.toplevel, self.follower = family, settings.toplevel, follower
        self.loader = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="loader")
        self.router = FamilyRouter(family, self.load, self.loader, settings.canary_percent[family])
        self.metrics = Metrics(lambda: {family: self.router})
        remote_ledger = RemoteLedger(ledger, settings.durable_ledger)
        self.shadow = ShadowRunner(remote_ledger, self.metrics)
        self.plane = DataPlane({family: self.router}, remote_ledger, self.metrics, self.shadow, settings.limits,
                               commit_seconds=settings.commit_timeout)
        self.replica = uuid.uuid4().hex
        self.retries = 0
        # the first holders are loaded before the constructor returns: Serve routes no request
        # to a replica before that, so no replica answers 503 while another serves
        seen = self.apply(*ray.get(self.follower.next_config.remote(family, 0)))
        threading.Thread(target=self.follow, args=(seen,), name="holders", daemon=True).start()

    def load(self, family: str, version: str):
        return load_for_serving(Repo(self.toplevel), family, version)

    def apply(self, epoch: int, config: dict) -> int:
        """Serve what ``config`` says: switch to what is loaded, load and verify the rest (a
        failed load keeps the old version serving; a reload's new ``retry`` count retries it),
        then report ``epoch`` applied."""
        self.router.tag_problem = config.get("problem")
        self.router.tag_warnings = list(config.get("warnings") or [])
        retry, self.retries = config.get("retry", 0) > self.retries, config.get("retry", 0)
        if config.get("holders") is not None:
            futures = self.router.want(Holders(**config["holders"]), retry_failed=retry)
            concurrent.futures.wait(futures, timeout=300)
        self.follower.applied.remote(self.family, self.replica, epoch)
        return epoch

    def follow(self, seen: int) -> None:
        """Apply each change of holders the follower pushes (its long poll returns)."""
        while True:
            try:
                epoch, config = ray.get(self.follower.next_config.remote(self.family, seen))
            except Exception as exc:  # noqa: BLE001 - the follower restarting: ask again
                log.error(f"{self.family}: waiting for the tags failed: {exc}")
                time.sleep(1.0)
                continue
            if config.get("stopped"):
                return
            if epoch != seen:
                seen = self.apply(epoch, config)

    async def call(self, method: str, *args) -> Reply:
        return await self.plane.call(method, self.family, *args)

    def describe(self) -> dict:
        return self.router.view()

    def index(self) -> list:
        return self.plane.index()


# ---- the ingress -----------------------------------------------------------------------------

class RayBackend:
    """What :func:`.app.create_app` calls, answered by the family deployments and the actors."""

    def __init__(self, families: Dict[str, object], settings: ServeSettings, follower, ledger):
        self.handles = families
        self.settings = settings
        self.metrics = Metrics(lambda: {})  # the gateway's own refusals; the replicas count the rest
        self.follower, self.ledger = follower, ledger

    @property
    def families(self) -> List[str]:
        return list(self.handles)

    async def call(self, family: str, method: str, *args) -> Reply:
        return await self.handles[family].call.remote(method, *args)

    async def views(self) -> Dict[str, dict]:
        found = await asyncio.gather(*(handle.describe.remote() for handle in self.handles.values()))
        return dict(zip(self.handles, found))

    async def view(self) -> dict:
        follow, ledger_state = await asyncio.gather(self.follower.state.remote(), self.ledger.state.remote())
        return {"families": await self.views(), "follow": follow, "ledger": ledger_state}

    async def index(self) -> list:
        found = await asyncio.gather(*(handle.index.remote() for handle in self.handles.values()))
        return [entry for entries in found for entry in entries]

    async def feedback(self, raw: bytes) -> Reply:
        return Reply(501, {"error": "feedback is not served by --engine ray yet: serve the family with the "
                                    "local engine to decide its rollout (docs/SERVING.md)"})

    async def rollout(self, family: str) -> Reply:
        return await self.feedback(b"")

    async def reload(self) -> dict:
        if not await self.follower.refresh.remote(True):
            raise RegistryError("not every replica applied the tags within 300 s: see /v1/models")
        return await self.view()

    async def health(self) -> tuple[int, dict]:
        try:
            view = await self.view()
        except Exception as exc:  # noqa: BLE001 - a replica or actor gone: unavailable, said in one line
            return 503, {"status": "unavailable", "families": {}, "problems": [one_line(exc)], "time": time.time()}
        families = {name: {"serving": v["serving"]["production"], "holder": v["holders"]["production"],
                           "problems": v["problems"]} for name, v in view["families"].items()}
        return health(families, [p for p in (view["follow"]["problem"], view["ledger"]["problem"]) if p])

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


@serve.deployment
@serve.ingress()
class Gateway:
    def __init__(self, families: Dict[str, object], settings: ServeSettings, follower, ledger):
        self.backend = RayBackend(families, settings, follower, ledger)

    def __serve_build_asgi_app__(self):
        from .app import create_app

        return create_app(self.backend)


def application(settings: ServeSettings, replicas: int):
    """The Serve application: a deployment per family and the gateway."""
    ledger, follower = ray.get_actor(LEDGER, NAMESPACE), ray.get_actor(FOLLOWER, NAMESPACE)
    families = {name: FamilyModel.options(name=family_deployment(name), num_replicas=replicas,
                                          max_ongoing_requests=MAX_ONGOING, ray_actor_options=NO_CPU_RESERVED)
                .bind(name, settings, ledger, follower)
                for name in settings.families}
    return Gateway.options(name="gateway", num_replicas=replicas, max_ongoing_requests=MAX_ONGOING,
                           ray_actor_options=NO_CPU_RESERVED).bind(families, settings, follower, ledger)


# ---- the command -----------------------------------------------------------------------------

def run(settings: ServeSettings, replicas: int = 1, address: Optional[str] = None) -> None:
    """Deploy on Ray Serve and serve until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ray.init(address=address, namespace=NAMESPACE, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: stop.set())
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port})
        ledger = LedgerActor.options(name=LEDGER).remote(str(settings.ledger), settings.store_inputs,
                                                         settings.durable_ledger)
        follower = FollowerActor.options(name=FOLLOWER).remote(settings, replicas)
        ray.get(follower.start.remote())
        serve.run(application(settings, replicas), name=APP, route_prefix="/")
        log.info(f"serving {', '.join(settings.families)} on http://{settings.host}:{settings.port} with Ray Serve "
                 f"({replicas} replica{'s' if replicas > 1 else ''} per family; tags: {settings.follow}, "
                 f"every {settings.interval:g} s; ledger: {settings.ledger})")
        stop.wait()
        serve.delete(APP)
        ray.get(follower.stop.remote())
        written = ray.get(ledger.close.remote())
        log.info(f"stopped: {written} decisions written to {settings.ledger}")
    finally:
        serve.shutdown()
        ray.shutdown()
