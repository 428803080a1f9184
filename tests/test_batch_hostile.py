"""`python -m realcam batch` against a server that lies or goes away (an in-process fake ComfyUI API)."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path

import pytest
from aiohttp import web

from realcam.batch import BatchError, Manifest, confined, run_batch

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "workflows" / "realcam_streaming.api.json"
DOC = {"version": 1, "type": "preset", "frames": 25, "preset": {"name": "pan_left"}}


class FakeComfy:
    """The five endpoints the batch uses; ``outputs`` is what /history says was written."""

    def __init__(self, outputs: list[dict]) -> None:
        self.outputs, self.prompts, self.done = outputs, [], set()
        self.finish_on_prompt = True
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.runner = None
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _start(self):
        async def upload(request):
            return web.json_response({"name": "v.mp4", "subfolder": ""})

        async def queue(request):
            return web.json_response({"queue_running": [], "queue_pending": []})

        async def view(request):
            return web.Response(body=b"video bytes")
        app = web.Application()
        app.router.add_post("/upload/image", upload)
        app.router.add_post("/prompt", self._prompt)
        app.router.add_get("/history/{pid}", self._history)
        app.router.add_get("/queue", queue)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/view", view)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, shutdown_timeout=0.2).start()

    async def _prompt(self, request):
        body = await request.json()
        self.prompts.append(body["prompt_id"])
        if self.finish_on_prompt:
            self.done.add(body["prompt_id"])
        return web.json_response({"prompt_id": body["prompt_id"]})

    async def _history(self, request):
        pid = request.match_info["pid"]
        if pid not in self.done:
            return web.json_response({})
        return web.json_response({pid: {"status": {"completed": True, "status_str": "success"},
                                        "outputs": {"9": {"images": self.outputs}}}})

    async def _ws(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:                      # until the client or the server closes it
            pass
        return ws

    def start(self):
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)


@pytest.fixture
def inputs(tmp_path):
    video = tmp_path / "in" / "clip.mp4"
    video.parent.mkdir()
    video.write_bytes(b"not really a video")
    traj = tmp_path / "in" / "pan.json"
    traj.write_text(json.dumps(DOC))
    return video, traj


def test_server_file_names_cannot_leave_the_out_folder(tmp_path, inputs):
    video, traj = inputs
    outside = tmp_path / "outside.txt"
    hostile = [{"filename": "../../outside.txt", "subfolder": "", "type": "output"},
               {"filename": str(outside), "subfolder": "", "type": "output"},
               {"filename": "..", "type": "output"}, {"filename": ["x"], "type": "output"}]
    for entry in hostile:
        server = FakeComfy([entry]).start()
        out = tmp_path / f"out{len(server.prompts)}{id(entry)}"
        manifest = asyncio.run(run_batch(server.url, WORKFLOW, [video], [traj], out, log=lambda m: None))
        server.stop()
        item = next(iter(manifest.items.values()))
        assert item.status == "failed" and "not a plain file name" in item.error, item
        assert not outside.exists() and {p.name for p in tmp_path.iterdir()} <= {"in", *(p.name for p in tmp_path.glob("out*"))}
    for name in ("a/b.mp4", "..", ".", "", "x\x00y", "C:evil"):
        with pytest.raises(BatchError):
            confined(tmp_path, name)
    assert confined(tmp_path, "ok_0001.mp4") == tmp_path / "ok_0001.mp4"


def test_a_dropped_connection_does_not_render_the_item_twice(tmp_path, inputs):
    video, traj = inputs
    server = FakeComfy([{"filename": "r_0001.mp4", "subfolder": "realcam_batch", "type": "output"}])
    server.finish_on_prompt = False            # the first run's prompt is still rendering when the server vanishes
    server.start()
    out = tmp_path / "out"
    task = threading.Thread(target=lambda: asyncio.run(run_batch(server.url, WORKFLOW, [video], [traj], out, log=lambda m: None)))
    task.start()
    while not server.prompts:
        task.join(0.05)
    server.stop()                              # connection lost mid-item
    task.join(30)
    item = next(iter(Manifest(out / "manifest.json", "", "").items.values()))
    assert item.status == "queued" and item.prompt_id == server.prompts[0] and "connection lost" in item.error
    server.done = {server.prompts[0]}          # it finished on the server meanwhile
    server.start()
    manifest = asyncio.run(run_batch(server.url, WORKFLOW, [video], [traj], out, log=lambda m: None))
    server.stop()
    item = next(iter(manifest.items.values()))
    assert item.status == "done" and len(server.prompts) == 1       # waited for, not queued again
    assert (out / item.outputs[0]).read_bytes() == b"video bytes"


def test_damaged_inputs_get_an_error_not_a_traceback(tmp_path, inputs):
    import subprocess
    import sys

    video, traj = inputs
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"items": {"a": {"id": "a", "vid')      # truncated by a kill or a full disk
    bad_traj = tmp_path / "bad.json"
    bad_traj.write_text(json.dumps({**DOC, "preset": {"name": "pan_left", "params": [1]}}))
    for trajs, message in (([traj], "manifest.json is not valid JSON"), ([bad_traj], "trajectory.preset.params")):
        run = subprocess.run([sys.executable, "-m", "realcam", "batch", "--server", "http://127.0.0.1:9", "--workflow",
                              str(WORKFLOW), "--videos", str(video), "--trajectories", *map(str, trajs), "--out", str(out)],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert run.returncode == 2 and message in run.stdout + run.stderr and "Traceback" not in run.stderr, run
    assert (out / "manifest.json").read_text().endswith('"vid')                 # left as it was
