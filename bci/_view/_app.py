"""The view's web side: a Starlette app (page, static files, one WebSocket per page).

Each WebSocket gets frames at ``FRAME_RATE``: the display samples after that client's
cursor (at most ``BACKLOG_S`` seconds of them: a client that falls behind skips ahead, the
skipped count is sent), new decisions and markers, and twice a second the latency table,
accuracy, spectrum and quality when they changed. Sending awaits the socket, so a slow
page slows only its own frames; nothing is queued for it.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import math
import time
from importlib import resources
from typing import Any

import numpy as np

from ._hub import HISTORY_S, Hub
from ._settings import ViewSettings

logger = logging.getLogger(__name__)

FRAME_RATE = 25.0  # frames/s per page (the traces need >= 20 to look smooth)
BACKLOG_S = 2.0  # at most this much display data per frame after the first one
SLOW_EVERY = 0.5  # s between latency/accuracy/spectrum updates
TOKEN_COOKIE = "bci_view_token"


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


class Client:
    """Cursors and preferences of one page."""

    def __init__(self) -> None:
        self.filtered = True
        self.signal_version = -1
        self.k_signal = 0
        self.k_decisions = 0
        self.k_markers = 0
        self.quality_version = -1
        self.stimulus_version = -1
        self.t_slow = 0.0
        self.frames = 0
        self.skipped = 0


def build_frame(hub: Hub, c: Client) -> dict:
    """The next frame for client ``c`` (advances its cursors)."""
    import pylsl

    frame: dict[str, Any] = {"type": "frame", "now": pylsl.local_clock(), "status": hub.status}
    sig = hub.signal
    if sig is not None:
        if hub.signal_version != c.signal_version:
            c.signal_version = hub.signal_version
            c.k_signal = 0
            c.quality_version = -1
            frame["meta"] = sig.meta()
        ring = sig.filtered if c.filtered else sig.raw
        first = c.k_signal == 0
        limit = int((HISTORY_S if first else BACKLOG_S) * sig.display_rate)
        x, t, count, skipped = ring.since(c.k_signal, limit)
        if not first:
            c.skipped += skipped
        c.k_signal = count
        if t.size:
            frame["signal"] = {
                "n": int(t.size),
                "x": _b64(x, "<f4"),
                "t": _b64(t, "<f8"),
                "reset": first,
                "filtered": c.filtered,
            }
        if sig.version != c.quality_version and sig.quality is not None:
            c.quality_version = sig.version
            frame["quality"] = sig.quality
            frame["spectrum"] = sig.spectrum
    dec, c.k_decisions = hub.decisions_since(c.k_decisions)
    if dec:
        frame["decisions"] = {
            "classes": hub.classes,
            "t": [d[0] for d in dec],
            "p": [[round(v, 4) for v in d[1]] for d in dec],
            "label": [d[2] for d in dec],
        }
    mk, c.k_markers = hub.markers_since(c.k_markers)
    if mk:
        frame["markers"] = [{"t": t, "v": v} for t, v in mk]
    now = time.perf_counter()
    if now - c.t_slow >= SLOW_EVERY:
        c.t_slow = now
        lat = hub.latency()
        lat["age"] = _finite(lat["age"])
        frame["latency"] = lat
        frame["accuracy"] = hub.accuracy()
        frame["skipped"] = c.skipped
        if hub.stimulus_version != c.stimulus_version and hub.stimulus is not None:
            c.stimulus_version = hub.stimulus_version
            frame["stimulus"] = hub.stimulus
    return frame


def _static_dir() -> str:
    return str(resources.files("bci._view") / "static")


def create_app(hub: Hub, settings: ViewSettings):  # noqa: ANN201 - a Starlette app
    """The ASGI app serving the page and ``/ws``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import FileResponse, PlainTextResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket, WebSocketDisconnect

    token = settings.token

    def authorized(query: Any, cookies: Any) -> bool:
        if not token:
            return True
        given = query.get("token") or cookies.get(TOKEN_COOKIE) or ""
        return hmac.compare_digest(given.encode(), token.encode())

    class TokenMiddleware(BaseHTTPMiddleware):
        async def dispatch(self, request, call_next):  # noqa: ANN001, ANN202
            if not authorized(request.query_params, request.cookies):
                return PlainTextResponse("a valid ?token= is needed", status_code=403)
            response = await call_next(request)
            if token and request.url.path == "/":
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response

    static = _static_dir()

    async def index(request):  # noqa: ANN001, ANN202
        return FileResponse(f"{static}/index.html", headers={"Cache-Control": "no-store"})

    async def config(request):  # noqa: ANN001, ANN202
        from starlette.responses import JSONResponse

        return JSONResponse(
            {
                "session": settings.session,
                "signal": settings.signal,
                "required": list(settings.required) if settings.required else None,
                "budgets_ms": settings.budgets_ms,
                "bandpass": settings.bandpass,
                "notch": settings.notch,
                "line_freq": settings.line_freq,
            }
        )

    async def ws(websocket: WebSocket) -> None:
        if not authorized(websocket.query_params, websocket.cookies):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        client = Client()

        async def receive() -> None:
            while True:
                msg = await websocket.receive_text()
                try:
                    cmd = json.loads(msg)
                except ValueError:
                    continue
                if "filtered" in cmd:
                    client.filtered = bool(cmd["filtered"])
                    client.k_signal = 0  # resend the history in the chosen form

        reader = asyncio.create_task(receive())
        period = 1.0 / FRAME_RATE
        next_t = time.perf_counter()
        try:
            while not reader.done():
                frame = build_frame(hub, client)
                await websocket.send_text(dumps(frame))
                client.frames += 1
                next_t += period
                delay = next_t - time.perf_counter()
                if delay < -period:  # fell behind: restart the schedule from now
                    next_t, delay = time.perf_counter(), 0.0
                await asyncio.sleep(max(0.0, delay))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()

    routes = [
        Route("/", index),
        Route("/config", config),
        WebSocketRoute("/ws", ws),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TokenMiddleware)])


def _default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def dumps(frame: dict) -> str:
    """JSON for the page: NaN and infinities become ``null`` (JSON has no NaN)."""
    try:
        return json.dumps(frame, allow_nan=False, default=_default)
    except ValueError:
        return json.dumps(_clean(frame), allow_nan=False, default=_default)


__all__ = ["BACKLOG_S", "FRAME_RATE", "build_frame", "create_app", "dumps"]
