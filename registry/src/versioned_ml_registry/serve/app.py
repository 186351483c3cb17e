"""``model-registry serve``: the HTTP server, Starlette on uvicorn.

Starlette rather than FastAPI: a request's schema is the signature of whichever version
answers it, and that changes with every swap, so it cannot be declared when the app is built.
:mod:`.validation` checks each request against the answering version's signature (per-field
errors, NaN and infinities, booleans, misspelt fields, size and depth limits); Starlette gives
routing, requests and responses, and nothing we would have to work around.

| endpoint | answers |
| --- | --- |
| ``POST /v1/models/{family}/predict`` | ``{"records": [...]}`` -> ``{"family", "version", "request_id", "predictions"}``, headers ``X-Model-Version``, ``X-Request-Id``, ``X-Model-Route``; 422 (per-field ``errors``), 413, 404, 503 |
| ``GET /v1/models`` | per family: stage holders, what each route serves, loaded versions, problems, recent swaps |
| ``POST /v1/reload`` | read the tags now, wait for the loads, then as ``GET /v1/models`` |
| ``GET /healthz`` | 200 when every family has a verified version serving, else 503; details either way |
| ``GET /metrics`` | Prometheus text (:mod:`.metrics`) |

Every error is JSON ``{"error": "<one line>"}``; no traceback reaches a client.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import time
import uuid
from contextlib import asynccontextmanager

import uvicorn
from prometheus_client import disable_created_metrics
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import RegistryError
from ..ledger.store import Decision
from .router import Unavailable, answer, one_line
from .service import Service
from .settings import ServeSettings
from .validation import Invalid, parse_body, records_of, validate_records

log = logging.getLogger("model_registry.serve")


class TooLarge(Exception):
    pass


def error(status: int, message: str, headers=None, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, refused as soon as it is known to be over ``max_bytes``."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"body of {int(length)} bytes is over the limit of {max_bytes}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"body of more than {max_bytes} bytes is over the limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(service: Service) -> Starlette:
    limits = service.settings.limits
    metrics = service.metrics

    async def predict(request: Request) -> Response:
        family = request.path_params["family"]
        router = service.routers.get(family)
        if router is None:
            return error(404, f"family {family!r} is not served here (served: {', '.join(service.routers)})")
        received, started = time.time(), time.perf_counter()
        try:
            route, predictor = router.routes.choose(request.headers.get("x-request-key"))
        except Unavailable as exc:
            metrics.refused(family, "", "", 503, "unavailable")
            return error(503, str(exc))
        headers = {"X-Model-Version": predictor.version, "X-Model-Route": route}
        try:
            records = records_of(parse_body(await read_body(request, limits.max_bytes), limits), limits)
            if not records:
                raise Invalid([{"record": None, "field": None, "error": "no records: send at least one"}])
            validate_records(predictor.signature, records)
        except TooLarge as exc:
            metrics.refused(family, predictor.version, route, 413, "too_large")
            return error(413, str(exc), headers, errors=[{"record": None, "field": None, "error": str(exc)}])
        except Invalid as exc:
            metrics.refused(family, predictor.version, route, 422, "invalid")
            return error(422, str(exc), headers, family=family, version=predictor.version, errors=exc.errors)
        try:
            predictions = await run_in_threadpool(answer, predictor, records)
        except Exception as exc:  # noqa: BLE001 - one line to the caller, no traceback
            metrics.refused(family, predictor.version, route, 500, "failed")
            log.error(f"{family} {predictor.version} failed on a request: {one_line(exc)}")
            return error(500, f"{family} {predictor.version} failed on these records: {one_line(exc)}", headers)
        request_id = uuid.uuid4().hex
        elapsed = time.perf_counter() - started
        service.ledger.append(Decision(request_id, received, family, predictor.version, predictor.commit,
                                       route, records, predictions, elapsed * 1000))
        metrics.answered(family, predictor.version, route, elapsed)
        headers["X-Request-Id"] = request_id
        shadow = router.routes.shadow
        task = BackgroundTask(_shadow, service, shadow, request_id, records) if shadow is not None else None
        return JSONResponse({"family": family, "version": predictor.version, "request_id": request_id,
                             "predictions": predictions}, headers=headers, background=task)

    async def models(request: Request) -> Response:
        return JSONResponse(service.view())

    async def reload(request: Request) -> Response:
        try:
            return JSONResponse(await run_in_threadpool(service.reload))
        except Exception as exc:  # noqa: BLE001
            return error(500, f"reading the tags failed: {one_line(exc)}")

    async def healthz(request: Request) -> Response:
        status, body = service.health()
        return JSONResponse(body, status_code=status)

    async def prometheus(request: Request) -> Response:
        data, content_type = metrics.render()
        return Response(data, media_type=content_type)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", exc.headers)

    @asynccontextmanager
    async def lifespan(app):
        service.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    return Starlette(routes=[
        Route("/v1/models/{family}/predict", predict, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/reload", reload, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ], exception_handlers={HTTPException: http_error}, lifespan=lifespan)


async def _shadow(service: Service, predictor, request_id: str, records: list) -> None:
    service.shadow.submit(predictor, request_id, records)  # after the response: never delays it


def listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise RegistryError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(settings: ServeSettings) -> None:
    """Serve until SIGINT or SIGTERM; then finish the requests in flight, answer queued shadow
    copies and write every ledger row before exiting."""
    disable_created_metrics()  # no *_created series: they only double the scrape
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    sock = listen(settings.host, settings.port)
    service = Service(settings)
    config = uvicorn.Config(create_app(service), log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=30)
    host, port = sock.getsockname()[:2]
    log.info(f"serving {', '.join(settings.families)} on http://{host}:{port} (tags: {settings.follow}, "
             f"every {settings.interval:g} s; ledger: {settings.ledger})")
    stopped_by = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        # uvicorn shuts down gracefully on these, then raises the signal again for the handler
        # it found: ours notes it, so a clean shutdown exits 0
        signal.signal(sig, lambda number, frame: stopped_by.append(signal.Signals(number).name))
    uvicorn.Server(config).run(sockets=[sock])
    log.info(f"stopped{' on ' + stopped_by[0] if stopped_by else ''}: {service.ledger.written} decisions "
             f"written to {settings.ledger}")
