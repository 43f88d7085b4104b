"""The streaming endpoints: a WebSocket and, for clients without one, HTTP POST.

* ``WS /models/{name}/streams/{stream_id}?learn=false``: each text message is
  ``{"points": [p, ...]}``, ``{"point": p}`` or a bare number; each answer is
  ``{"scores": [...], "labels": [...] | null, "n_seen": n}`` (one score per point, in
  order). A bad message gets ``{"error": "...", "status": 4xx}`` and the connection stays
  open. Refusals: unknown model (close 4404), not a streaming detector (4409), every stream
  slot held (1013, try again later).
* ``POST /models/{name}/streams/{stream_id}/points?learn=false`` with ``{"points": [...]}``:
  the same answer; counts towards ``max_concurrency`` (429 when busy).
* ``DELETE /models/{name}/streams/{stream_id}``: forget a stream's state.

State lives in a ``StreamRegistry`` (bounded; see ``serve.streaming``). ``learn=true``
updates the stream's own copy of the model after scoring each point (prequential);
otherwise the copy stays frozen and only its context (the latest window) advances.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ..core.errors import InputError, NormalcyError
from .inputs import parse_json
from .metrics import Metrics
from .settings import ServeSettings
from .streaming import StreamRegistry, StreamsFull, as_batch, check_stream_id, parse_points

CLOSE_TRY_LATER = 1013
CLOSE_UNKNOWN_MODEL = 4404
CLOSE_NOT_STREAMING = 4409


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def _refusal(loaded: dict[str, Any], name: str) -> tuple[int, str] | None:
    """(HTTP status, message) if model ``name`` cannot take a stream."""
    if name not in loaded:
        return 404, f"unknown model {name!r}; served models: {sorted(loaded)}"
    info = loaded[name].detector.info
    if not info.streaming:
        return 409, (
            f"model {name!r} ({info.name}) is not a streaming detector; stream to one "
            "registered with streaming=True (e.g. sub_pca, rola, conformal_knn) or score "
            "whole segments with POST /models/{name}/score"
        )
    return None


def stream_router(
    loaded: dict[str, Any],
    registry: StreamRegistry,
    slots: asyncio.Semaphore,
    settings: ServeSettings,
    metrics: Metrics,
) -> APIRouter:
    """The streaming routes over the served models ``loaded`` (name → ``_Model``)."""
    router = APIRouter()

    def feed(name: str, stream: Callable[[], Any], raw: str | bytes, learn: bool) -> Any:
        """Parse a message, then score its points on ``stream()`` (run in a worker thread:
        a message may be large)."""
        points = as_batch(parse_points(parse_json(raw, 'JSON {"points": [...]}')))
        out = stream().feed(points, learn)
        flagged = sum(out["labels"]) if out["labels"] is not None else 0
        metrics.observe_scores(name, len(out["scores"]), flagged)
        return out

    @router.post("/models/{name}/streams/{stream_id}/points")
    async def post_points(name: str, stream_id: str, request: Request, learn: bool = False) -> Any:
        """Score points of stream ``stream_id`` (JSON ``{"points": [...]}``)."""
        refused = _refusal(loaded, name)
        if refused is not None:
            return _error(*refused)
        if slots.locked():
            metrics.reject("busy")
            return _error(
                429, f"busy: {settings.max_concurrency} scoring requests are running; retry later"
            )
        async with slots:
            try:
                raw = await request.body()

                def stream() -> Any:  # opened only once the points are known to be good
                    return registry.acquire(name, stream_id, loaded[name].detector)

                return JSONResponse(await run_in_threadpool(feed, name, stream, raw, learn))
            except StreamsFull as exc:
                metrics.reject("streams_full")
                return _error(429, str(exc))
            except NormalcyError as exc:
                return _error(422, str(exc))

    @router.delete("/models/{name}/streams/{stream_id}")
    async def drop_stream(name: str, stream_id: str) -> Any:
        """Forget the state of stream ``stream_id`` (its next point starts a fresh one)."""
        if not registry.drop(name, stream_id):
            return _error(404, f"no open stream {stream_id!r} of model {name!r}")
        return {"dropped": stream_id}

    @router.websocket("/models/{name}/streams/{stream_id}")
    async def stream_socket(websocket: WebSocket, name: str, stream_id: str) -> None:
        learn = websocket.query_params.get("learn", "false").lower() in ("1", "true", "yes")
        refused = _refusal(loaded, name)
        if refused is not None:
            code = CLOSE_UNKNOWN_MODEL if refused[0] == 404 else CLOSE_NOT_STREAMING
            await websocket.close(code=code, reason=refused[1][:120])
            return
        try:
            stream = registry.acquire(
                name, check_stream_id(stream_id), loaded[name].detector, attach=True
            )
        except StreamsFull as exc:
            metrics.reject("streams_full")
            await websocket.close(code=CLOSE_TRY_LATER, reason=str(exc)[:120])
            return
        except InputError as exc:
            await websocket.close(code=1008, reason=str(exc)[:120])
            return
        await websocket.accept()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                out = await _answer(name, stream, message.get("text"), learn)
                await websocket.send_json(out)
        except WebSocketDisconnect:
            pass
        finally:
            registry.release(stream)

    async def _answer(name: str, stream: Any, text: str | None, learn: bool) -> dict[str, Any]:
        if text is None:
            return {"error": 'send text frames holding JSON {"points": [...]}', "status": 422}
        if len(text) > settings.max_request_bytes:
            return {"error": "message larger than the request size limit", "status": 413}
        try:
            return await run_in_threadpool(feed, name, lambda: stream, text, learn)
        except NormalcyError as exc:
            return {"error": str(exc), "status": 422}

    return router
