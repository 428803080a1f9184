"""HTTP routes the pack registers on ComfyUI's server (used by the web widget).

Every body is read with a size limit, and everything that parses or samples a camera path runs in a small
worker pool, never in the server's event loop: one client cannot stall the other requests.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from realcam.camera.presets import PRESETS, RECAMMASTER, keyframes_of, preset_keyframes
from realcam.camera.trajectory_json import MAX_FRAMES, MAX_PRESET_VALUE, MAX_TEXT_BYTES, parse_trajectory
from realcam.live import LIVE_CAMERAS

log = logging.getLogger("realcam")
_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="realcam-routes")
MAX_KEYFRAME_COUNT = 256


class _RequestError(ValueError):
    """A refused request; ``status`` is the HTTP status it is answered with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def _json_body(request: web.Request, limit: int) -> dict:
    """The request's JSON object, read with a limit on its size (parsed off the event loop)."""
    if request.content_length is not None and request.content_length > limit:
        raise _RequestError(f"the body is {request.content_length:,} bytes; at most {limit:,} are read", status=413)
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise _RequestError(f"the body is over {limit:,} bytes", status=413)
    try:
        body = await asyncio.get_running_loop().run_in_executor(_WORKERS, json.loads, raw)
    except (ValueError, RecursionError) as e:
        raise _RequestError(f"the body is not valid JSON ({str(e)[:120]})") from None
    if not isinstance(body, dict):
        raise _RequestError("the body must be a JSON object")
    return body


def _field(body: dict, key: str, kind, default, lo: float, hi: float):
    v = body.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, int) and abs(v) > 2**53) \
            or not math.isfinite(v) or (kind is int and int(v) != v) or not lo <= v <= hi:
        raise _RequestError(f"{key}: expected {'a whole number' if kind is int else 'a number'} in [{lo:g}, {hi:g}], got {str(v)[:40]}")
    return kind(v)


def _error(e: Exception) -> web.Response:
    return web.json_response({"error": str(e)}, status=getattr(e, "status", 400))


async def _preset_keyframes(request: web.Request) -> web.Response:
    """A camera path as clip-timed spline keyframes (first and last frame always included), for the editor:
    ``{"trajectory": <trajectory JSON>, "count": n, "frames": optional}`` converts any path (a preset with its
    amplitude, speed, easing, loop and params; poses; a spline), sampled at ``frames`` (default: the document's);
    ``{"name": preset, "frames", "fps", "count", "amplitude", "speed"}`` converts a preset by name."""
    try:
        body = await _json_body(request, MAX_TEXT_BYTES)
        count = _field(body, "count", int, 5, 1, MAX_KEYFRAME_COUNT)
        if "trajectory" in body:
            doc = body["trajectory"]
            frames = body.get("frames")
            if frames is not None:
                frames = _field(body, "frames", int, 81, 1, MAX_FRAMES)
            job = lambda: keyframes_of(parse_trajectory(doc).build(frames), count)  # noqa: E731
        else:
            name = body.get("name")
            if not isinstance(name, str):
                raise _RequestError(f"name: expected a preset name, got {str(name)[:40]}")
            args = (name, _field(body, "frames", int, 81, 1, MAX_FRAMES), _field(body, "fps", float, 16, 1e-3, 1000), count)
            kw = {"amplitude": _field(body, "amplitude", float, 1.0, -MAX_PRESET_VALUE, MAX_PRESET_VALUE),
                  "speed": _field(body, "speed", float, 1.0, 0, MAX_PRESET_VALUE)}
            job = lambda: preset_keyframes(*args, **kw)  # noqa: E731
        keys = await asyncio.get_running_loop().run_in_executor(_WORKERS, job)
    except ValueError as e:
        return _error(e)
    return web.json_response({"keyframes": keys, "timing": "clip"})


async def _live_camera(request: web.Request) -> web.Response:
    """Steer a running streaming sampler: ``{"session": id, "trajectory": <trajectory JSON>}``. Answers 404 when
    no run holds the session, 400 for a path that is malformed or does not fit the running stream, 413 for a
    body that is too large."""
    try:
        body = await _json_body(request, MAX_TEXT_BYTES)
        if "trajectory" not in body:
            raise _RequestError("trajectory: missing (a trajectory JSON document)")
        session = body.get("session")
        version = await asyncio.get_running_loop().run_in_executor(_WORKERS, LIVE_CAMERAS.post, session, body["trajectory"])
    except ValueError as e:
        return _error(e)
    return web.json_response({"session": session, "version": version})


async def _presets(request: web.Request) -> web.Response:
    """Every preset name the trajectory JSON accepts, ReCamMaster's ``cam01``…``cam10`` included (``alias_of``)."""
    presets = [{"name": p.name, "description": p.description} for p in PRESETS.values()]
    presets += [{"name": cam, "description": f"ReCamMaster {cam} = {name}: {PRESETS[name].description}", "alias_of": name}
                for cam, name in RECAMMASTER.items()]
    return web.json_response({"presets": presets})


def announce_live_session(node_id: str | None, session: str | None) -> None:
    """Tell the client that queued the running prompt, and no other, which live session steers sampler
    ``node_id`` (``None``: the run ended). The web editor fills its *live session* box from this message."""
    from server import PromptServer

    server = getattr(PromptServer, "instance", None)     # None when the nodes run without a server (tests)
    if server is not None and getattr(server, "client_id", None) is not None:
        server.send_sync("realcam.live_session", {"node": node_id, "session": session}, server.client_id)


_registered = False


def register_routes() -> None:
    global _registered
    if _registered:
        return
    try:
        from server import PromptServer
    except ImportError:
        return
    server = getattr(PromptServer, "instance", None)
    if server is None:  # in-process execution without a server (tests, scripts)
        return
    server.routes.post("/realcam/preset_keyframes")(_preset_keyframes)
    server.routes.get("/realcam/presets")(_presets)
    server.routes.post("/realcam/live_camera")(_live_camera)
    _registered = True
