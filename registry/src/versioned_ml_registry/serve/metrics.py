"""The server's Prometheus metrics (prometheus-client), in a registry of their own.

* ``model_requests_total{family,version,route,code}``: prediction requests answered;
* ``model_request_errors_total{family,version,kind}``: refused or failed ones (``invalid``,
  ``rejected`` (values the model cannot use), ``too_large``, ``media_type``, ``timeout``,
  ``unavailable``, ``ledger`` (a durable row not written), ``failed`` (the model's own failure));
* ``model_request_latency_seconds{family,version,route}``: a histogram, request to answer;
* ``model_input_flags_total{family,version,route,kind}``: inputs outside the training profile
  (``missing``, ``range``, ``category``; :mod:`.signals`), answered all the same;
* ``model_shadow_total{family,version,outcome}``: shadow copies (``answered``, ``failed``,
  ``dropped`` when the shadow queue is full);
* ``model_serving{family,route,version}``: 1 for each version a route serves right now, so
  a dashboard (or the rollback runbook) sees a switch as soon as it happens.
"""

from __future__ import annotations

from typing import Callable, Dict

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from .router import ROUTES, FamilyRouter

BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Serving:
    """Collects ``model_serving`` from the routers' current tables at scrape time."""

    def __init__(self, routers: Callable[[], Dict[str, FamilyRouter]]):
        self._routers = routers

    def collect(self):
        gauge = GaugeMetricFamily("model_serving", "The version each route serves now (1)",
                                  labels=["family", "route", "version"])
        for name, router in self._routers().items():
            routes = router.routes
            for route in ROUTES:
                version = routes.version(route)
                if version is not None:
                    gauge.add_metric([name, route, version], 1)
        yield gauge


class Metrics:
    def __init__(self, routers: Callable[[], Dict[str, FamilyRouter]]):
        self.registry = CollectorRegistry()
        self.requests = Counter("model_requests", "Prediction requests answered",
                                ["family", "version", "route", "code"], registry=self.registry)
        self.errors = Counter("model_request_errors", "Prediction requests refused or failed",
                              ["family", "version", "kind"], registry=self.registry)
        self.latency = Histogram("model_request_latency_seconds", "From request to answer",
                                 ["family", "version", "route"], buckets=BUCKETS, registry=self.registry)
        self.flags = Counter("model_input_flags", "Inputs outside the answering version's training profile",
                             ["family", "version", "route", "kind"], registry=self.registry)
        self.shadow = Counter("model_shadow", "Shadow copies of requests",
                              ["family", "version", "outcome"], registry=self.registry)
        self.registry.register(_Serving(routers))

    def answered(self, family: str, version: str, route: str, seconds: float) -> None:
        self.requests.labels(family, version, route, "200").inc()
        self.latency.labels(family, version, route).observe(seconds)

    def flagged(self, family: str, version: str, route: str, flags: list) -> None:
        for found in flags:
            for kind, _ in found:
                self.flags.labels(family, version, route, kind).inc()

    def refused(self, family: str, version: str, route: str, code: int, kind: str) -> None:
        self.requests.labels(family, version, route, str(code)).inc()
        self.errors.labels(family, version, kind).inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
