"""HTTP routes the pack registers on ComfyUI's server (used by the web widget)."""
from __future__ import annotations

import logging

from aiohttp import web

from realcam.camera.presets import PRESETS, preset_keyframes
from realcam.live import LIVE_CAMERAS

log = logging.getLogger("realcam")


async def _preset_keyframes(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        keys = preset_keyframes(str(body["name"]), int(body.get("frames", 81)), float(body.get("fps", 16)),
                                int(body.get("count", 5)), amplitude=float(body.get("amplitude", 1.0)),
                                speed=float(body.get("speed", 1.0)))
    except (KeyError, TypeError, ValueError) as e:
        return web.json_response({"error": str(e)}, status=400)
    return web.json_response({"keyframes": keys})


async def _live_camera(request: web.Request) -> web.Response:
    """Steer a running streaming sampler: ``{"session": id, "trajectory": <trajectory JSON>}``."""
    try:
        body = await request.json()
        version = LIVE_CAMERAS.post(str(body.get("session", "")), body["trajectory"])
    except (KeyError, TypeError, ValueError) as e:
        return web.json_response({"error": str(e)}, status=400)
    return web.json_response({"session": body["session"], "version": version})


async def _presets(request: web.Request) -> web.Response:
    return web.json_response({"presets": [{"name": p.name, "description": p.description} for p in PRESETS.values()]})


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
