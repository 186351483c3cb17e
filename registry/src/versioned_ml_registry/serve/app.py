"""``model-registry serve``: the HTTP server, Starlette on uvicorn.

Starlette rather than FastAPI: a request's schema is the signature of whichever version
answers it, and that changes with every swap, so it cannot be declared when the app is built.
:mod:`.validation` checks each request against the answering version's signature (per-field
errors, NaN and infinities, booleans, misspelt fields, size and depth limits); Starlette gives
routing, requests and responses, and nothing we would have to work around.

| endpoint | answers |
| --- | --- |
| ``POST /v1/models/{family}/predict`` | ``{"records": [...]}`` (``"probabilities": true`` for class probabilities) -> ``{"family", "version", "request_id", "predictions"[, "labels", "probabilities"]}``, headers ``X-Model-Version``, ``X-Request-Id``, ``X-Model-Route``; 422 (per-field ``errors``), 413, 404, 503 |
| ``GET /v1/models`` | per family: stage holders, what each route serves, loaded versions, problems, recent swaps |
| ``POST /v1/reload`` | read the tags now, wait for the loads, then as ``GET /v1/models`` |
| ``GET /healthz`` | 200 when every family has a verified version serving, else 503; details either way |
| ``GET /metrics`` | Prometheus text (:mod:`.metrics`) |
| ``/v2/...`` | the Open Inference Protocol, REST (:mod:`.v2`): health, server and model metadata, model readiness, ``infer`` (a version in the path serves that loaded version, else 404), and the repository extension (``index``, ``load``: read the tags now) |

With a token (:mod:`.auth`), ``/v1/reload`` and the repository extension need it as a
bearer token, and so do ``predict`` and ``infer`` when the settings say so: 401 otherwise.

The endpoints are HTTP only: each decision is made by a data plane (:mod:`.plane`), here in
this process (:class:`.service.Service`), or in Ray Serve replicas (:mod:`.ray_engine`), which
serve this same app as their ingress. A backend gives ``families``, ``settings``, ``metrics``,
``call(family, method, ...)`` (a :class:`.plane.DataPlane` method, for that family),
``index()``, ``view()``, ``health()``, ``reload()``, ``start()`` and ``stop()``.

``/v1`` and ``/v2`` share the routing, validation, swaps, metrics and ledger: a decision is one
ledger row whichever protocol asked. Every error is JSON ``{"error": "<one line>"}`` (V2
refusals are 400, as the protocol says), the 400s uvicorn answers before the app sees a request
and the 408 for headers that do not arrive in time included (:mod:`.protocol`); no traceback
reaches a client.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import time
from contextlib import asynccontextmanager

import orjson
import uvicorn
from prometheus_client import disable_created_metrics
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse as StarletteJSONResponse
from starlette.responses import Response
from starlette.routing import Route

from .._version import __version__
from ..errors import RegistryError
from . import auth, v2
from .plane import Refused, Reply, clip
from .protocol import bounded
from .router import one_line
from .service import Service
from .settings import ServeSettings

log = logging.getLogger("model_registry.serve")


class TooLarge(Exception):
    pass


class JSONResponse(StarletteJSONResponse):
    """JSON rendered by orjson (C): the body of every answer, errors included."""

    def render(self, content) -> bytes:
        return orjson.dumps(content)


def error(status: int, message: str, headers=None, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def respond(reply: Reply) -> JSONResponse:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers or None)


async def read_body(request: Request, max_bytes: int, seconds: float = 30.0) -> bytes:
    """The body, refused as soon as it is known to be over ``max_bytes``; TimeoutError when it
    has not all arrived within ``seconds`` (a client trickling it holds no worker for long)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"body of {int(length)} bytes is over the limit of {max_bytes}")

    async def collect() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"body of more than {max_bytes} bytes is over the limit")
            chunks.append(chunk)
        return b"".join(chunks)
    return await asyncio.wait_for(collect(), seconds)


def create_app(backend) -> Starlette:
    settings = backend.settings
    limits, metrics, token = settings.limits, backend.metrics, settings.token

    def guarded(handler, needed: bool = True):
        """``handler`` behind the bearer token, when a token is set and ``needed``."""
        if token is None or not needed:
            return handler

        async def checked(request: Request) -> Response:
            problem = auth.problem(request.headers.get("authorization"), token)
            if problem is not None:
                return error(401, problem, auth.CHALLENGE)
            return await handler(request)
        return checked

    def known(family: str) -> str:
        if family not in backend.families:
            raise Refused(404, f"family {clip(family)!r} is not served here (served: {', '.join(backend.families)})")
        return family

    async def body_of(request: Request, family: str) -> bytes:
        """The JSON body: a browser cannot send ``application/json`` across origins without a
        CORS preflight, so no web page can make a visitor's browser add decisions."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            metrics.refused(family, "", "", 415, "media_type")
            raise Refused(415, f"send the body as Content-Type: application/json (got {clip(media) or 'none'})")
        try:
            return await read_body(request, limits.max_bytes, limits.body_seconds)
        except asyncio.TimeoutError:
            metrics.refused(family, "", "", 408, "timeout")
            raise Refused(408, f"the body did not arrive within {limits.body_seconds:g} s") from None
        except ClientDisconnect:
            log.info(f"{family}: the client disconnected before its body arrived")
            raise Refused(400, "the client disconnected before its body arrived") from None
        except TooLarge as exc:
            metrics.refused(family, "", "", 413, "too_large")
            raise Refused(413, str(exc), errors=[{"record": None, "field": None, "error": str(exc)}]) from None

    async def predict(request: Request) -> Response:
        received, started = time.time(), time.perf_counter()
        family = known(request.path_params["family"])
        raw = await body_of(request, family)
        return respond(await backend.call(family, "predict", raw, request.headers.get("x-request-key"),
                                          started, received))

    async def infer(request: Request) -> Response:
        received, started = time.time(), time.perf_counter()
        family = known(request.path_params["family"])
        raw = await body_of(request, family)
        return respond(await backend.call(family, "infer", request.path_params.get("version"), raw,
                                          request.headers.get("x-request-key"), started, received))

    async def feedback(request: Request) -> Response:
        raw = await body_of(request, "")
        return respond(await backend.feedback(raw))

    async def rollout(request: Request) -> Response:
        return respond(await backend.rollout(known(request.path_params["family"])))

    async def models(request: Request) -> Response:
        return JSONResponse(await backend.view())

    async def reload(request: Request) -> Response:
        try:
            return JSONResponse(await backend.reload())
        except Exception as exc:  # noqa: BLE001
            return error(500, f"reading the tags failed: {one_line(exc)}")

    async def healthz(request: Request) -> Response:
        status, body = await backend.health()
        return JSONResponse(body, status_code=status)

    async def prometheus(request: Request) -> Response:
        data, content_type = metrics.render()
        return Response(data, media_type=content_type)

    # ---- the Open Inference Protocol: metadata, health, the repository extension ----------
    async def v2_server(request: Request) -> Response:
        return JSONResponse({"name": v2.PLATFORM, "version": __version__, "extensions": ["model_repository"]})

    async def v2_live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def v2_ready(request: Request) -> Response:
        status, _ = await backend.health()
        return JSONResponse({"ready": status == 200}, status_code=status)

    async def v2_model(request: Request) -> Response:
        family = known(request.path_params["family"])
        return respond(await backend.call(family, "model", request.path_params.get("version")))

    async def v2_model_ready(request: Request) -> Response:
        family = known(request.path_params["family"])
        return respond(await backend.call(family, "model_ready", request.path_params.get("version")))

    async def v2_index(request: Request) -> Response:
        return JSONResponse(await backend.index())

    async def v2_load(request: Request) -> Response:
        family = known(request.path_params["family"])
        try:
            view = await backend.reload()
        except Exception as exc:  # noqa: BLE001
            raise Refused(500, f"reading the tags failed: {one_line(exc)}") from None
        serving = view["families"][family]
        if serving["serving"]["production"] is None:
            raise Refused(503, f"{family} has no verified version serving: {'; '.join(serving['problems']) or 'loading'}")
        return JSONResponse({})

    async def v2_unload(request: Request) -> Response:
        family = known(request.path_params["family"])
        raise Refused(400, f"the tags decide what serves: demote or roll back {family} with model-registry instead")

    async def refused(request: Request, exc: Refused) -> Response:
        return respond(exc.reply())

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, f"{request.method} {clip(request.url.path)}: {exc.detail}", exc.headers)

    @asynccontextmanager
    async def lifespan(app):
        await run_in_threadpool(backend.start)
        try:
            yield
        finally:
            await run_in_threadpool(backend.stop)

    model = "/v2/models/{family}"
    pinned = model + "/versions/{version}"
    predict, infer, rollout = (guarded(handler, settings.protect_predict) for handler in (predict, infer, rollout))
    feedback = guarded(feedback)  # outcomes steer rollouts: the token, whenever one is set
    reload, v2_index, v2_load, v2_unload = map(guarded, (reload, v2_index, v2_load, v2_unload))
    return Starlette(routes=[
        Route("/v1/models/{family}/predict", predict, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/models/{family}/rollout", rollout, methods=["GET"]),
        Route("/v1/feedback", feedback, methods=["POST"]),
        Route("/v1/reload", reload, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/v2", v2_server, methods=["GET"]),
        Route("/v2/health/live", v2_live, methods=["GET"]),
        Route("/v2/health/ready", v2_ready, methods=["GET"]),
        Route(model, v2_model, methods=["GET"]),
        Route(pinned, v2_model, methods=["GET"]),
        Route(model + "/ready", v2_model_ready, methods=["GET"]),
        Route(pinned + "/ready", v2_model_ready, methods=["GET"]),
        Route(model + "/infer", infer, methods=["POST"]),
        Route(pinned + "/infer", infer, methods=["POST"]),
        Route("/v2/repository/index", v2_index, methods=["POST"]),
        Route("/v2/repository/models/{family}/load", v2_load, methods=["POST"]),
        Route("/v2/repository/models/{family}/unload", v2_unload, methods=["POST"]),
    ], exception_handlers={HTTPException: http_error, Refused: refused}, lifespan=lifespan)


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
                            timeout_graceful_shutdown=30, http=bounded(settings.limits.header_seconds))
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
