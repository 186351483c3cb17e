"""The Ray engine's tag follower (:mod:`.ray_engine`): one actor reads the tags, as the single
process's :class:`.follower.Follower` does, and pushes each change of a family's holders to
every replica of that family, whose long polls (``next_config``) return at once; a reload
(``refresh(True)``) answers once every replica reported it applied the change."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict
from typing import Dict, List, Optional

import ray

from .follower import Follower
from .router import Holders
from .settings import ServeSettings

log = logging.getLogger("model_registry.serve")

NAMESPACE = "model-registry"
FOLLOWER = "model-registry-follower"


class HolderSink:
    """Stands where the single process has a router: keeps the holders the follower read."""

    def __init__(self, family: str):
        self.family = family
        self.holders: Optional[Holders] = None
        self.tag_problem: Optional[str] = None
        self.tag_warnings: List[str] = []

    def want(self, holders: Holders, retry_failed: bool = False) -> list:
        self.holders = holders
        return []


@ray.remote(num_cpus=0, max_concurrency=4096)  # each replica holds one long poll
class FollowerActor:
    """Reads the tags and pushes each change to every replica (their ``next_config`` long polls)."""

    def __init__(self, settings: ServeSettings, replicas: int):
        self.settings, self.replicas = settings, replicas
        self.sinks = {name: HolderSink(name) for name in settings.families}
        self.follower = Follower(settings.toplevel, self.sinks, settings.follow, settings.remote, settings.interval,
                                 settings.require_signed)
        self.epoch = 0
        self.configs: Dict[str, dict] = {}
        self.reports: Dict[str, Dict[str, int]] = {name: {} for name in settings.families}  # replica -> epoch
        self.retries = 0
        self.changed = threading.Condition()
        self.reading = threading.Lock()
        self.stopped = threading.Event()
        self.thread: Optional[threading.Thread] = None

    def refresh(self, retry_failed: bool = False, timeout: float = 300.0) -> bool:
        """Read the tags and push what changed (a retry always pushes: each replica retries its
        failed loads). With ``retry_failed`` (a reload), return once every replica applied it;
        whether they all did within ``timeout``."""
        with self.reading:
            self.follower.refresh()
            self.retries += retry_failed
            configs = {name: {"holders": asdict(sink.holders) if sink.holders else None,
                              "problem": sink.tag_problem, "warnings": sink.tag_warnings, "retry": self.retries}
                       for name, sink in self.sinks.items()}
            with self.changed:
                if configs != self.configs:
                    self.configs, self.epoch = configs, self.epoch + 1
                    self.changed.notify_all()
                epoch = self.epoch
        if not retry_failed:
            return True
        with self.changed:
            return self.changed.wait_for(lambda: self._everywhere(epoch), timeout)

    def _everywhere(self, epoch: int) -> bool:
        return all(sum(seen >= epoch for seen in replicas.values()) >= self.replicas
                   for replicas in self.reports.values())

    def next_config(self, family: str, seen: int, timeout: float = 30.0) -> tuple:
        """(epoch, config) as soon as the epoch is past ``seen``; the same epoch after ``timeout``."""
        with self.changed:
            self.changed.wait_for(lambda: self.epoch > seen or self.stopped.is_set(), timeout)
            if self.stopped.is_set():
                return self.epoch, {"stopped": True}
            return self.epoch, self.configs.get(family, {})

    def applied(self, family: str, replica: str, epoch: int) -> None:
        """A replica of ``family`` serves what ``epoch`` says (or failed to load it: it said so)."""
        with self.changed:
            self.reports[family][replica] = epoch
            self.changed.notify_all()

    def start(self) -> None:
        self.refresh()
        self.thread = threading.Thread(target=self._run, name="tag-follower", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.settings.interval):
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - the follower must outlive a bad read
                log.error(f"reading the tags failed: {exc}")

    def state(self) -> dict:
        return {"mode": self.settings.follow, "interval": self.settings.interval,
                "remote": self.settings.remote if self.settings.follow == "remote" else None,
                "last_read": self.follower.last_read, "problem": self.follower.problem, "epoch": self.epoch}

    def stop(self) -> None:
        self.stopped.set()
        with self.changed:
            self.changed.notify_all()
        if self.thread is not None:
            self.thread.join()
