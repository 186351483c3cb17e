"""One family's traffic: which verified version answers each request, and safe swaps.

A :class:`FamilyRouter` keeps the versions it has loaded and an immutable :class:`Routes`
table: the production, canary and shadow predictors and the canary percentage. A request reads
``router.routes`` once and uses that table to its end, so a swap never changes a request in
flight; a swap is the assignment of a new table (one reference, atomic in Python).

``want(holders)`` takes the stage holders read from the tags (:mod:`.follower`). Each version
not loaded yet is loaded in the background (one loader thread for the whole server) through
``api.load_model`` (md5 chain, reviewed skops types), then its probe set is predicted and must
equal the fingerprint in its bundle. Only a version that passed both ever enters a table. Until
then, and for good when it fails, its route keeps the version it has, and the failure is
listed by ``problems()`` (``/healthz``, ``/v1/models``, the log). The previous production
version (the one ``rollback`` would choose) is loaded too, so a rollback switches at the next
tag read without loading anything.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional

import numpy

from ..bundle.loading import Predictor
from ..errors import RegistryError
from ..rules.stages import Stage
from ..tags.state import FamilyState

log = logging.getLogger("model_registry.serve")

ROUTES = ("production", "canary", "shadow")


@dataclass(frozen=True)
class Holders:
    """What the tags say a family serves: ``canary`` only while it is live, ``shadow`` only
    when it is another version than production, ``previous`` is the rollback target."""

    production: Optional[str] = None
    canary: Optional[str] = None
    shadow: Optional[str] = None
    previous: Optional[str] = None

    @classmethod
    def of(cls, fam: FamilyState) -> "Holders":
        production = fam.holder_version(Stage.PRODUCTION)
        canary = fam.holder_version(Stage.CANARY) if fam.canary_live else None
        shadow = fam.holder_version(Stage.SHADOW)
        return cls(production, canary, shadow if shadow != production else None, fam.previous_production())

    def wanted(self) -> List[str]:
        """The versions to have loaded, most urgent first."""
        found = [self.production, self.canary, self.shadow, self.previous]
        return list(dict.fromkeys(v for v in found if v is not None))


class Unavailable(RegistryError):
    """No verified version serves the family's production route."""


def bucket(family: str, key: Optional[str]) -> float:
    """A number in [0, 100): the hash of ``key`` (sticky) or, without a key, a random one."""
    if key is None:
        return random.random() * 100  # noqa: S311 - traffic splitting, not security
    digest = hashlib.sha256(f"{family}\0{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 * 100


@dataclass(frozen=True)
class Routes:
    """An immutable routing table (never changed: replaced)."""

    family: str
    production: Optional[Predictor] = None
    canary: Optional[Predictor] = None
    shadow: Optional[Predictor] = None
    canary_percent: float = 10.0

    def choose(self, key: Optional[str] = None) -> tuple[str, Predictor]:
        """(route, predictor) for one request; ``key`` (``X-Request-Key``) makes it sticky."""
        if self.production is None:
            raise Unavailable(f"no verified version of {self.family} is serving yet (see /healthz)")
        if self.canary is not None and self.canary_percent > 0 and bucket(self.family, key) < self.canary_percent:
            return "canary", self.canary
        return "production", self.production

    def version(self, route: str) -> Optional[str]:
        predictor = getattr(self, route)
        return predictor.version if predictor is not None else None


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, RegistryError) else f"{type(exc).__name__}: {text}"


class FamilyRouter:
    """Routes of one family, following the holders it is given."""

    def __init__(self, family: str, load: Callable[[str, str], Predictor], loader: Executor,
                 canary_percent: float = 10.0, on_swap: Optional[Callable[[dict], None]] = None):
        self.family = family
        self.routes = Routes(family, canary_percent=canary_percent)
        self.holders = Holders()
        self.tag_problem: Optional[str] = None  # the tags could not be read (set by the follower)
        self.tag_warnings: List[str] = []  # the tags read, but ambiguous (FamilyState.problems)
        self.swaps: deque = deque(maxlen=500)
        self._load_fn = load
        self._loader = loader
        self._on_swap = on_swap
        self._loaded: Dict[str, Predictor] = {}
        self._loading: Dict[str, Future] = {}
        self._failed: Dict[str, str] = {}
        self._lock = threading.Lock()

    # ---- following the tags ----------------------------------------------------------
    def want(self, holders: Holders, retry_failed: bool = False) -> List[Future]:
        """Serve ``holders``: switch now to what is loaded, load the rest in the background.
        Returns the loads under way (``/v1/reload`` waits for them)."""
        with self._lock:
            self.holders = holders
            for version in holders.wanted():
                if retry_failed:
                    self._failed.pop(version, None)
                if version not in self._loaded and version not in self._loading and version not in self._failed:
                    log.info(f"{self.family}: loading {version}")
                    self._loading[version] = self._loader.submit(self._load, version)
            self._compose()
            return list(self._loading.values())

    def _load(self, version: str) -> None:
        try:
            predictor, error = self._load_fn(self.family, version), None
        except Exception as exc:  # noqa: BLE001 - any failure keeps the old version serving
            predictor, error = None, one_line(exc)
        with self._lock:
            self._loading.pop(version, None)
            if error is None:
                self._loaded[version] = predictor
                log.info(f"{self.family}: {version} loaded and its fingerprint verified")
            else:
                self._failed[version] = error
                log.error(f"{self.family}: {version} will not be served: {error}")
            self._compose()

    def _compose(self) -> None:
        """The table the holders ask for, from verified versions only (lock held)."""
        h, current = self.holders, self.routes

        def pick(wanted: Optional[str], serving: Optional[Predictor]) -> Optional[Predictor]:
            if wanted is None:
                return None
            return self._loaded.get(wanted, serving)  # not verified (yet): keep what serves

        table = replace(current, production=pick(h.production, current.production),
                        canary=pick(h.canary, current.canary), shadow=pick(h.shadow, current.shadow))
        changed = [route for route in ROUTES if getattr(table, route) is not getattr(current, route)]
        if changed:
            start = time.time()
            self.routes = table
            end = time.time()
            for route in changed:
                swap = {"family": self.family, "route": route, "from": current.version(route),
                        "to": table.version(route), "start": start, "end": end}
                self.swaps.append(swap)
                log.info(f"{self.family}: {route} now serves {swap['to'] or 'nothing'} (was {swap['from'] or 'nothing'})")
                if self._on_swap is not None:
                    self._on_swap(swap)
        keep = set(h.wanted()) | {getattr(table, route).version for route in ROUTES if getattr(table, route)}
        for version in [v for v in self._loaded if v not in keep]:
            del self._loaded[version]
        for version in [v for v in self._failed if v not in keep]:
            del self._failed[version]

    # ---- reporting -------------------------------------------------------------------
    def problems(self) -> List[str]:
        """Why the family serves other than what the tags say (one line each)."""
        with self._lock:
            h, routes = self.holders, self.routes
            found = ([self.tag_problem] if self.tag_problem else []) + list(self.tag_warnings)
            if h.production is None and not self.tag_problem:
                found.append(f"no version of {self.family} holds production")
            for route in ROUTES:
                wanted, serving = getattr(h, route), routes.version(route)
                if wanted is not None and wanted in self._failed:
                    found.append(f"{route} holder {wanted} is not served: {self._failed[wanted]}; "
                                 f"{route} still serves {serving or 'nothing'}")
            if h.previous in self._failed:
                found.append(f"the rollback target {h.previous} failed to load: {self._failed[h.previous]}")
            return found

    def verified(self, version: str) -> Optional[Predictor]:
        """``version`` if it is loaded and its fingerprint verified here, else None."""
        with self._lock:
            return self._loaded.get(version)

    def view(self) -> dict:
        with self._lock:
            routes, h = self.routes, self.holders
            loading = sorted(self._loading)
            loaded = sorted(self._loaded)
        return {"holders": {"production": h.production, "canary": h.canary, "shadow": h.shadow},
                "serving": {route: routes.version(route) for route in ROUTES},
                "canary_percent": routes.canary_percent, "previous_production": h.previous,
                "loaded": loaded, "loading": loading, "problems": self.problems(),
                "swaps": list(self.swaps)}


class Rejected(RegistryError):
    """The model could not use values that passed validation (e.g. ±1e308 overflowing it):
    the caller's input, answered as a refusal, never counted as the model's failure."""


def answer(predictor: Predictor, records: list) -> list:
    """``predictor``'s predictions for validated records. A number that is not finite (JSON has
    no NaN), or the model refusing the values (a ValueError, or numpy overflowing on them), is
    :class:`Rejected`."""
    try:
        with numpy.errstate(over="raise"):
            predictions = predictor.predict(records)
    except (ValueError, ArithmeticError) as exc:
        raise Rejected(f"{predictor.family} {predictor.version} cannot use these values: {one_line(exc)}") from None
    if any(isinstance(value, float) and not math.isfinite(value) for value in predictions):
        raise Rejected(f"{predictor.family} {predictor.version} cannot use these values: "
                       "its prediction is not a finite number")
    return predictions


def class_probabilities(predictor: Predictor, records: list) -> List[List[float]]:
    """``predictor``'s class probabilities for validated records (:func:`answer`'s rules)."""
    try:
        with numpy.errstate(over="raise"):
            rows = predictor.predict_proba(records)
    except (ValueError, ArithmeticError) as exc:
        raise Rejected(f"{predictor.family} {predictor.version} cannot use these values: {one_line(exc)}") from None
    if any(not math.isfinite(value) for row in rows for value in row):
        raise Rejected(f"{predictor.family} {predictor.version} cannot use these values: "
                       "a probability is not a finite number")
    return rows
