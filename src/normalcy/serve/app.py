"""The ``normalcy serve`` app: list models, show their metadata, score batches.

``create_app(models, token=..., max_request_bytes=..., max_concurrency=...)`` loads every
model at start-up with ``nc.load`` (verified, read-only; a bad file raises
``ModelFileError`` naming it) and returns a FastAPI app with:

* ``GET /health`` (never needs the token), ``GET /models``, ``GET /models/{name}``,
  ``POST /models/{name}/score`` (JSON ``{"data": ...}``, a multipart CSV/Parquet ``file``,
  or images as multipart ``files`` / JSON ``{"images": [base64, ...]}``, with their anomaly
  maps under ``?maps=true``; see ``serve.inputs``), ``GET /metrics`` (Prometheus text), and
  FastAPI's OpenAPI docs.
* Bearer-token auth on everything but ``/health`` when a token is set (401 otherwise).
* A request-size cap: 413 from ``Content-Length`` before reading, and while reading a body
  without one (the body is read at most up to the cap).
* Streaming to streaming series detectors: ``WS /models/{name}/streams/{stream_id}`` and
  ``POST .../points`` (``serve.stream_routes``; bounded state in ``serve.streaming``).
* Bounded concurrency: at most ``max_concurrency`` scoring requests at once, more get 429
  at once (no queue); scoring runs in a worker thread so the event loop stays responsive,
  except small JSON requests to a model that scores them fast (``INLINE_MAX_SECONDS``).
* One JSON log line per request on the ``normalcy.serve`` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from ..core.errors import InputError, ModelFileError, NormalcyError
from .inputs import SCORABLE_MODALITIES, SCORE_REQUEST_BODY, TooLarge, map_entry, read_request
from .metrics import CONTENT_TYPE, Metrics
from .settings import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_STREAMS,
    DEFAULT_STREAM_IDLE_SECONDS,
    ServeSettings,
)
from .stream_routes import stream_router
from .streaming import StreamRegistry
from .ui import UI_PATHS, ui_router

logger = logging.getLogger("normalcy.serve")

MODEL_SUFFIX = ".normalcy"
PUBLIC_PATHS = frozenset({"/health", *UI_PATHS})  # the UI page is public; its API calls are not
GRACEFUL_SHUTDOWN_SECONDS = 30
# A small JSON request (``inputs.INLINE_MAX_BYTES``) is scored on the event loop, not in a
# worker thread, while its model scores such requests in less than this (a thread hand-off
# costs more than scoring one row; a slower model keeps the loop free by using threads).
INLINE_MAX_SECONDS = 0.002


def model_paths(models: dict[str, Path] | Path | str) -> dict[str, Path]:
    """Name → file: a dict as given, one file (named by its stem), or every ``*.normalcy``
    in a folder."""
    if isinstance(models, dict):
        paths = {str(k): Path(v) for k, v in models.items()}
    else:
        root = Path(models)
        if root.is_dir():
            paths = {p.stem: p for p in sorted(root.glob(f"*{MODEL_SUFFIX}")) if p.is_file()}
            if not paths:
                raise InputError(f"no *{MODEL_SUFFIX} model files in {root}")
        elif root.is_file():
            paths = {root.stem: root}
        else:
            raise InputError(f"model file or folder {root} does not exist")
    if not paths:
        raise InputError("no models to serve")
    return paths


class _Model:
    """A loaded detector and what the service says about it."""

    def __init__(self, name: str, path: Path) -> None:
        import normalcy as nc

        from ..core.persistence import describe_model_file

        try:
            self.detector = nc.load(path)
            desc = describe_model_file(path)
        except ModelFileError as exc:
            msg = str(exc) if str(path) in str(exc) else f"model file {path}: {exc}"
            raise ModelFileError(msg) from None
        self.name = name
        # one scoring call per model at a time: torch modules and some PyOD estimators keep
        # per-call buffers, so concurrent calls on one detector are not known to be safe
        self.lock = threading.Lock()
        # recent seconds to score a small request (moving average; inf until measured):
        # small requests are scored on the event loop only while this stays tiny
        self.small_cost = math.inf
        desc.pop("path", None)  # do not show the server's file layout
        self.description = {"name": name, **desc}

    def inline(self) -> bool:
        """Whether a small request may be scored on the event loop now: its recent cost is
        below ``INLINE_MAX_SECONDS`` and no worker thread is scoring this model (the lock
        is then held by the caller, who must release it)."""
        return self.small_cost < INLINE_MAX_SECONDS and self.lock.acquire(blocking=False)

    def note_small_cost(self, seconds: float) -> None:
        cost = self.small_cost
        self.small_cost = seconds if math.isinf(cost) else 0.7 * cost + 0.3 * seconds

    def summary(self) -> dict[str, Any]:
        det = self.detector
        return {
            "name": self.name,
            "detector": det.name,
            "modality": det.modality,
            "paper": det.info.paper,
            "can_localise": bool(det.info.can_localise),
            "streaming": bool(det.info.streaming),
            "threshold": _threshold(det),
        }


def _threshold(det: Any) -> dict[str, Any] | None:
    t = getattr(det, "threshold", None)
    if t is None:
        return None
    return {
        "value": float(t.value),
        "method": t.method,
        "rate": float(t.rate),
        "n_calibration": int(t.n_calibration),
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(
    models: dict[str, Path] | Path | str,
    *,
    token: str | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    max_streams: int = DEFAULT_MAX_STREAMS,
    stream_idle_seconds: float = DEFAULT_STREAM_IDLE_SECONDS,
) -> FastAPI:
    """The service over ``models`` (see the module docstring)."""
    settings = ServeSettings(
        token=token,
        max_request_bytes=max_request_bytes,
        max_concurrency=max_concurrency,
        max_streams=max_streams,
        stream_idle_seconds=stream_idle_seconds,
    )
    loaded = {name: _Model(name, path) for name, path in model_paths(models).items()}
    metrics = Metrics()
    slots = asyncio.Semaphore(settings.max_concurrency)
    streams = StreamRegistry(settings.max_streams, settings.stream_idle_seconds)
    metrics.gauge("normalcy_streams", "Streams with state kept (WebSocket or HTTP).", streams)

    app = FastAPI(
        title="normalcy",
        summary="Score data with saved normalcy anomaly-detection models.",
    )
    app.state.models = loaded
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.streams = streams

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: always answers, never needs the token."""
        return {"status": "ok", "models": len(loaded)}

    @app.get("/models")
    async def list_models() -> list[dict[str, Any]]:
        """Every served model: name, detector, modality, paper and calibrated threshold."""
        return [m.summary() for m in loaded.values()]

    @app.get("/models/{name}")
    async def model_info(name: str) -> Any:
        """What the model file holds (as ``normalcy info`` shows it)."""
        if name not in loaded:
            return _error(404, f"unknown model {name!r}; served models: {sorted(loaded)}")
        model = loaded[name]
        return {**model.description, "paper": model.detector.info.paper}

    @app.post("/models/{name}/score", openapi_extra={"requestBody": SCORE_REQUEST_BODY})
    async def score(name: str, request: Request, maps: bool = False) -> Any:
        """Score a batch: JSON ``{"data": rows | points | sessions}``, a CSV/Parquet upload
        (multipart ``file``) or images (multipart ``files`` or JSON ``{"images": [base64]}``).
        Returns scores, labels (if calibrated), threshold and, with ``?maps=true``, the
        anomaly maps of image detectors."""
        if name not in loaded:
            return _error(404, f"unknown model {name!r}; served models: {sorted(loaded)}")
        model = loaded[name]
        det = model.detector
        if det.modality not in SCORABLE_MODALITIES:
            return _error(
                415,
                f"model {name!r} is a {det.modality} detector; scoring {det.modality} data "
                "through the service is not supported yet (use `normalcy score`)",
            )
        if slots.locked():
            metrics.reject("busy")
            return _error(
                429, f"busy: {settings.max_concurrency} scoring requests are running; retry later"
            )
        async with slots:
            try:
                build, small = await read_request(request, det)
                if small and model.inline():
                    try:  # a tiny request to a fast model: cheaper here than in a thread
                        res, map_list, seconds = _score(det, build, None, maps)
                    finally:
                        model.lock.release()
                else:
                    res, map_list, seconds = await run_in_threadpool(
                        _score, det, build, model.lock, maps
                    )
                if small:
                    model.note_small_cost(seconds)
            except TooLarge as exc:
                return _error(413, str(exc))
            except NormalcyError as exc:
                return _error(422, str(exc))
        labels = res.labels.tolist() if res.labels is not None else None
        flagged = int(res.labels.sum()) if res.labels is not None else 0
        metrics.observe_scores(name, len(res.scores), flagged)
        body = {"scores": res.scores.tolist(), "labels": labels, "threshold": _threshold(det)}
        if maps:
            body["maps"] = map_list
        return JSONResponse(body)  # plain json.dumps: no per-float encoding by FastAPI

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        """Prometheus text exposition: requests, latency histogram, scores flagged."""
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE)

    app.include_router(stream_router(loaded, streams, slots, settings, metrics))
    app.include_router(ui_router(loaded))  # the browser UI at /ui (see serve/ui.py)
    app.add_middleware(_Guard, settings=settings, metrics=metrics)
    return app


def run_server(app: FastAPI, settings: ServeSettings) -> None:
    """Run ``app`` under uvicorn until SIGINT/SIGTERM; running requests then get up to
    ``GRACEFUL_SHUTDOWN_SECONDS`` to finish."""
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        ws_max_size=settings.max_request_bytes,
    )


def _score(
    det: Any, build: Callable[[], Any], lock: threading.Lock | None, maps: bool
) -> tuple[Any, list[dict[str, Any]] | None, float]:
    """Build the input, score it (one call per model at a time: under ``lock``, or with
    the lock already held when ``lock`` is None) and, if asked, format the maps; also
    returns the seconds spent building and scoring."""
    start = time.perf_counter()
    try:
        X = build()
        with lock if lock is not None else contextlib.nullcontext():
            res = det.score(X)
    except NormalcyError:
        raise
    except (ValueError, TypeError) as exc:  # what validation let through: still bad input
        raise InputError(f"cannot score this input: {exc}") from None
    seconds = time.perf_counter() - start
    if not maps or res.maps is None:
        return res, None, seconds
    return res, [map_entry(m) for m in res.maps], seconds


class _Guard:
    """ASGI wrapper: auth, the request-size cap, timing, metrics and the JSON log line.

    Added as the app's outermost user middleware, so refused requests never reach a route.
    """

    def __init__(self, app: Any, settings: ServeSettings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self._token = settings.token.encode() if settings.token is not None else None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not self._authorised(scope):
            self.metrics.reject("auth")
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": "bearer token"})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None:
                receive, refusal = await self._capped(scope, receive)
            if refusal is not None:
                reason, response = refusal
                self.metrics.reject(reason)
                await response(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "other"
            self.metrics.observe_request(endpoint, scope["method"], status["code"], seconds)
            model = (scope.get("path_params") or {}).get("name")
            logger.info(
                json.dumps(
                    {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status["code"],
                        "ms": round(seconds * 1000, 3),
                        "model": model,
                    }
                )
            )

    def _authorised(self, scope: dict) -> bool:
        """Whether the request carries the token (``Authorization: Bearer``; a WebSocket
        may instead give ``?access_token=``, as browsers cannot set its headers)."""
        if self._token is None or scope["path"] in PUBLIC_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token):
            return True
        if scope["type"] == "websocket":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            for value in query.get("access_token", []):
                if hmac.compare_digest(value.encode("latin-1"), self._token):
                    return True
        return False

    def _refusal(self, scope: dict) -> tuple[str, Any] | None:
        if not self._authorised(scope):
            response = _error(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
            response.headers["WWW-Authenticate"] = "Bearer"
            return "auth", response
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return "bad_length", _error(400, "invalid Content-Length header")
            if n > self.settings.max_request_bytes:
                return "too_large", self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return _error(
            413,
            f"request body larger than the limit of {self.settings.max_request_bytes} bytes "
            "(--max-request-mb)",
        )

    async def _capped(self, scope: dict, receive: Any) -> tuple[Any, tuple[str, Any] | None]:
        """Read the body up to the cap (413 beyond it) and replay it to the app."""
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return receive, None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_request_bytes:
                return receive, ("too_large", self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = {"done": False}

        async def replay() -> dict:
            if not sent["done"]:
                sent["done"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay, None
