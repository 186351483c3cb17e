"""Following the tags: re-read the served families' stage holders and hand them to their
routers (:mod:`.router`), every ``interval`` seconds on a thread, and on demand (``/v1/reload``).

``mode`` is ``local`` (read the repository's refs: promotions made in this clone, or tags
fetched by someone else) or ``remote`` (``git fetch`` the families' tags from the git remote
first, then read them). Each family is read on its own (``git for-each-ref`` over its two
patterns), so the cost of a read does not grow with other families' tags. A read that fails
(the remote unreachable, an ambiguous tag) leaves every route as it is and is reported.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Dict, List, Optional

from ..errors import RegistryError
from ..tags.remote import fetch_tags
from ..tags.repo import Repo
from ..tags.trust import current_judge, fetch_policy
from .router import FamilyRouter, Holders, one_line
from .settings import FOLLOW_MODES

log = logging.getLogger("model_registry.serve")



class Follower:
    def __init__(self, toplevel: str, routers: Dict[str, FamilyRouter], mode: str = "local",
                 remote: str = "origin", interval: float = 1.0, require_signed: bool = False):
        if mode not in FOLLOW_MODES:
            raise RegistryError(f"follow must be one of {', '.join(FOLLOW_MODES)}, not {mode!r}")
        self.toplevel = toplevel
        self.routers = routers
        self.mode = mode
        self.remote = remote
        self.interval = interval
        self.problem: Optional[str] = None  # the last fetch failure, while it lasts
        self.last_read: Optional[float] = None
        self.require_signed = require_signed  # never hand a router a holder whose tag fails the policy
        self._repo = Repo(toplevel)
        self._logged: set = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def refresh(self, retry_failed: bool = False) -> List[Future]:
        """Read the tags now and hand every family its holders; the loads this started."""
        with self._lock:
            if self.mode == "remote":
                self._fetch()
            self._repo.reload()
            futures: List[Future] = []
            policy_problem = None
            if self.require_signed:
                try:
                    self._repo.judge = current_judge(self.toplevel, self._repo.judge, True)
                except RegistryError as exc:  # every family keeps its routes, as for unreadable tags
                    policy_problem = exc
            for name, router in self.routers.items():
                try:
                    if policy_problem is not None:
                        raise policy_problem
                    fam = self._repo.family_state(name)
                    holders = Holders.of(fam)
                except RegistryError as exc:
                    if router.tag_problem != str(exc):
                        log.error(f"{name}: cannot read its tags: {exc}")
                    router.tag_problem = str(exc)
                    continue
                router.tag_problem = None
                router.tag_warnings = fam.problems() + self._untrusted(name)  # e.g. a second version tagged at a holder's commit
                futures += router.want(holders, retry_failed)
            self.last_read = time.time()
            return futures

    def _untrusted(self, family: str) -> List[str]:
        lines = [f"{tag}: {why}; not served (require_signed)"
                 for tag, why in sorted(self._repo.untrusted.get(family, {}).items())]
        for line in lines:
            if line not in self._logged:
                log.error(line)
                self._logged.add(line)
        return lines

    def _fetch(self) -> None:
        try:
            for name in self.routers:
                fetch_tags(self.toplevel, self.remote, name)
            if self.require_signed:  # a key revoked on main stops counting at the next read
                fetch_policy(self.toplevel, self.remote)
        except RegistryError as exc:
            if self.problem != str(exc):
                log.error(f"following {self.remote}: {exc}; serving what the local tags say")
            self.problem = str(exc)
        else:
            self.problem = None

    # ---- the polling thread ----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tag-follower", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - the follower must outlive a bad read
                log.error(f"reading the tags failed: {one_line(exc)}")
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
