"""``python -m realcam batch``: render videos × trajectories through running ComfyUI servers' API.

Items are spread across every ``--server`` (one at a time per server). A server that cannot be reached any
more hands its current item to another one (it never finished it); with no other server, the item keeps
its prompt id, and a rerun waits for that prompt instead of queueing it again.

For every (video, trajectory) item: upload the video to ComfyUI's input folder, patch an API workflow
(LoadVideo file, the trajectory JSON, the SaveVideo prefix, the live-camera session), queue it, follow
``/ws`` progress, read ``/history``, download the outputs into ``OUT/<item>/`` and record the item in
``OUT/manifest.json``. The manifest is rewritten atomically after every change, so a run that is killed
resumes where it stopped: finished items are skipped, an item whose prompt was already queued is
waited for (not queued again), and only items that never reached the server are submitted.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .camera.trajectory_json import parse_trajectory


@dataclass
class Item:
    id: str
    video: str
    trajectory: str
    status: str = "pending"            # one of STATUSES
    prompt_id: str | None = None
    server: str | None = None          # where its prompt was queued (a rerun waits for it there)
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float | None = None


STATUSES = ("pending", "queued", "done", "failed")


class BatchError(ValueError):
    """A problem with the batch's inputs, its manifest or the server's replies, said for the user."""


ITEM_FIELDS = {"id": str, "video": str, "trajectory": str, "status": str}


class Manifest:
    def __init__(self, path: Path, workflow: str, server: str) -> None:
        self.path = path
        self.workflow, self.server = workflow, server
        self.items: dict[str, Item] = {}
        if path.exists():
            self.items = self._read(path)

    @staticmethod
    def _read(path: Path) -> dict[str, Item]:
        fix = "; it is left untouched: move it away to start afresh, or restore it"
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise BatchError(f"{path} is not valid JSON ({e}){fix}") from None
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, dict):
            raise BatchError(f"{path}: 'items' must be an object of items{fix}")
        out = {}
        for key, v in items.items():
            if not isinstance(v, dict) or any(not isinstance(v.get(f), t) for f, t in ITEM_FIELDS.items()):
                raise BatchError(f"{path}: item {str(key)[:60]!r} lacks one of {', '.join(ITEM_FIELDS)} (strings){fix}")
            if v["status"] not in STATUSES:
                raise BatchError(f"{path}: item {key!r} has status {v['status'][:40]!r}, not one of {', '.join(STATUSES)}{fix}")
            known = {f: v[f] for f in Item.__dataclass_fields__ if f in v}
            known["outputs"] = [o for o in known.get("outputs", []) if isinstance(o, str)]
            for f in ("prompt_id", "server", "error"):
                if not isinstance(known.get(f), (str, type(None))):
                    known[f] = None
            out[key] = Item(**known)
        return out

    def save(self) -> None:
        data = {"workflow": self.workflow, "server": self.server, "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "items": {k: asdict(v) for k, v in self.items.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".manifest.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.path)


def item_id(video: Path, trajectory: Path) -> str:
    digest = hashlib.sha1(f"{video.resolve()}|{trajectory.resolve()}".encode()).hexdigest()[:8]
    clean = lambda s: re.sub(r"[^A-Za-z0-9_-]+", "_", s)[:40]  # noqa: E731
    return f"{clean(video.stem)}__{clean(trajectory.stem)}__{digest}"


def patch_workflow(workflow: dict, *, video_name: str, trajectory_json: str, prefix: str, session: str) -> dict:
    """Point an API workflow at one item. It must contain LoadVideo, RealCamCameraTrajectory and SaveVideo."""
    wf = json.loads(json.dumps(workflow))
    found = set()
    for node in wf.values():
        kind, inputs = node.get("class_type"), node.get("inputs", {})
        if kind == "LoadVideo":
            inputs["file"] = video_name
        elif kind == "RealCamCameraTrajectory":
            inputs["trajectory"] = trajectory_json
        elif kind == "SaveVideo":
            inputs["filename_prefix"] = prefix
        elif kind == "RealCamStreamingSampler" and "live_session" in inputs:
            inputs["live_session"] = session
        found.add(kind)
    missing = {"LoadVideo", "RealCamCameraTrajectory", "SaveVideo"} - found
    if missing:
        raise ValueError(f"the workflow has no {', '.join(sorted(missing))} node: use an API workflow like "
                         "workflows/realcam_streaming.api.json")
    return wf


class Client:
    """The few ComfyUI endpoints the batch needs (aiohttp for HTTP and the /ws progress socket)."""

    def __init__(self, server: str) -> None:
        self.server = server.rstrip("/")
        self.client_id = f"realcam-batch-{uuid.uuid4().hex[:8]}"
        self.session = None

    async def __aenter__(self) -> "Client":
        import aiohttp

        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self

    async def __aexit__(self, *exc) -> None:
        await self.session.close()

    async def json(self, method: str, path: str, **kw):
        async with self.session.request(method, self.server + path, **kw) as r:
            body = await r.json(content_type=None)
            if r.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {r.status}: {json.dumps(body)[:2000]}")
            return body

    async def upload(self, path: Path, name: str) -> str:
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("image", path.read_bytes(), filename=name, content_type="application/octet-stream")
        form.add_field("type", "input")
        form.add_field("overwrite", "true")
        body = await self.json("POST", "/upload/image", data=form)
        return body["name"] if not body.get("subfolder") else f"{body['subfolder']}/{body['name']}"

    async def queue(self, workflow: dict, prompt_id: str) -> str:
        body = await self.json("POST", "/prompt", json={"prompt": workflow, "client_id": self.client_id,
                                                        "prompt_id": prompt_id})
        if body.get("node_errors"):
            raise RuntimeError(f"workflow rejected: {json.dumps(body['node_errors'])[:2000]}")
        return body["prompt_id"]

    async def history(self, prompt_id: str) -> dict | None:
        body = await self.json("GET", f"/history/{prompt_id}")
        return body.get(prompt_id) if isinstance(body, dict) else None

    async def in_queue(self, prompt_id: str) -> bool:
        q = await self.json("GET", "/queue")
        return any(entry[1] == prompt_id for key in ("queue_running", "queue_pending") for entry in q.get(key, []))

    async def wait(self, prompt_id: str, log) -> dict:
        """Follow /ws until the prompt finishes (with /history as the source of truth)."""
        ws_url = self.server.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
        async with self.session.ws_connect(ws_url, heartbeat=30) as ws:
            while True:
                entry = await self.history(prompt_id)
                if isinstance(entry, dict) and isinstance(entry.get("status"), dict) and entry["status"].get("completed") is not None:
                    return entry
                try:
                    msg = await ws.receive(timeout=2.0)
                except asyncio.TimeoutError:
                    continue
                if msg.type.name != "TEXT":
                    continue  # binary preview images
                data = json.loads(msg.data)
                d = data.get("data", {})
                if d.get("prompt_id") not in (None, prompt_id):
                    continue
                if data["type"] == "progress":
                    log(f"  node {d.get('node')}: {d.get('value')}/{d.get('max')}")
                elif data["type"] in ("execution_error", "execution_interrupted"):
                    entry = await self.history(prompt_id)
                    if entry is not None:
                        return entry
                    raise RuntimeError(f"{data['type']}: {json.dumps(d)[:1500]}")

    async def download(self, item: dict, folder: Path) -> Path:
        """Fetch one output into ``folder`` under its own plain file name (a name with a folder in it, or one
        that leaves ``folder``, is refused: the server does not choose where files land)."""
        dest = confined(folder, item.get("filename"))
        params = {"filename": item["filename"], "subfolder": str(item.get("subfolder", "")), "type": "output"}
        async with self.session.get(self.server + "/view", params=params) as r:
            r.raise_for_status()
            data = await r.read()
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        return dest


def confined(folder: Path, name) -> Path:
    """``folder / name`` for a plain file name from the server; anything else is a :class:`BatchError`."""
    ok = (isinstance(name, str) and 0 < len(name) <= 255 and name not in (".", "..") and "/" not in name
          and "\\" not in name and "\x00" not in name and ":" not in name and Path(name).name == name)
    dest = folder / name if ok else None
    if dest is None or dest.resolve().parent != folder.resolve():
        raise BatchError(f"the server's /history names an output file {str(name)[:80]!r}: not a plain file name, so "
                         f"nothing was written (outputs only land in {folder})")
    return dest


def _outputs(entry) -> list[dict]:
    """The output files of a /history entry, checked for shape (a server's reply is input like any other)."""
    outputs = entry.get("outputs") if isinstance(entry, dict) else None
    if not isinstance(outputs, dict):
        raise BatchError("the server's /history entry has no 'outputs' object")
    files = []
    for node_out in outputs.values():
        for key in ("images", "gifs", "videos"):
            listed = node_out.get(key, []) if isinstance(node_out, dict) else []
            files += [f for f in (listed if isinstance(listed, list) else []) if isinstance(f, dict) and f.get("type") == "output"]
    return files


async def _render_item(client: Client, manifest: Manifest, item: Item, workflow: dict, out: Path, log) -> None:
    start = time.time()
    known = False
    if item.prompt_id:  # submitted (or about to be) before an interruption: never queue it twice
        # queue first: a prompt leaves the queue only after its history entry exists, so none slips between
        known = await client.in_queue(item.prompt_id) or await client.history(item.prompt_id) is not None
        log(f"{item.id}: {'waiting for' if known else 'resubmitting'} its earlier prompt {item.prompt_id}")
    if not known:
        video = Path(item.video)
        name = await client.upload(video, f"realcam_batch_{item.id}{video.suffix}")
        traj_text = Path(item.trajectory).read_text()
        parse_trajectory(traj_text)  # refuse a malformed file before the server sees it
        wf = patch_workflow(workflow, video_name=name, trajectory_json=traj_text, prefix=f"realcam_batch/{item.id}",
                            session=item.id)
        if not item.prompt_id:
            # the id is chosen here and saved *before* submitting, so a kill at any point cannot queue it twice
            item.prompt_id, item.status, item.server = str(uuid.uuid4()), "queued", client.server
            manifest.save()
        await client.queue(wf, item.prompt_id)
        log(f"{item.id}: queued as {item.prompt_id}")
    entry = await client.wait(item.prompt_id, log)
    status = entry.get("status") if isinstance(entry, dict) else None
    if not isinstance(status, dict):
        raise BatchError("the server's /history entry has no 'status' object")
    if status.get("status_str") != "success":
        item.status, item.error = "failed", json.dumps(status.get("messages", []))[-2000:]
        manifest.save()
        log(f"{item.id}: FAILED")
        return
    files = [await client.download(f, out / item.id) for f in _outputs(entry)]
    item.outputs = [str(p.relative_to(out)) for p in files]
    item.status, item.error, item.seconds = "done", None, round(time.time() - start, 2)
    manifest.save()
    log(f"{item.id}: done ({len(files)} files, {item.seconds}s)")


async def run_batch(servers: str | list[str], workflow_path: Path, videos: list[Path], trajectories: list[Path],
                    out: Path, log=print) -> Manifest:
    """Render every (video, trajectory) item through the ComfyUI ``servers``, one item at a time per server."""
    servers = list(dict.fromkeys(s.rstrip("/") for s in ([servers] if isinstance(servers, str) else servers)))
    if not servers:
        raise BatchError("--server: give at least one ComfyUI address")
    try:
        workflow = json.loads(workflow_path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise BatchError(f"--workflow {workflow_path} is not valid JSON ({e})") from None
    if not isinstance(workflow, dict) or not all(isinstance(n, dict) for n in workflow.values()):
        raise BatchError(f"--workflow {workflow_path} is not an API workflow (an object of nodes)")
    if "nodes" in workflow:
        raise ValueError(f"{workflow_path} is a UI workflow; use the API form ({workflow_path.stem}.api.json)")
    for p in [*videos, *trajectories]:
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist")
    for t in trajectories:
        try:
            parse_trajectory(t.read_text())
        except ValueError as e:
            raise BatchError(f"--trajectories {t}: {e}") from None
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out / "manifest.json", str(workflow_path), ",".join(servers))
    for v in videos:
        for t in trajectories:
            iid = item_id(v, t)
            manifest.items.setdefault(iid, Item(iid, str(v), str(t)))
    manifest.save()
    todo: list[Item] = []
    for item in manifest.items.values():
        if item.status == "done" and all((out / o).exists() for o in item.outputs):
            log(f"{item.id}: already done, skipped")
            continue
        if item.status == "failed":  # a rerun gives failed items a fresh attempt
            item.status, item.prompt_id, item.server, item.error = "pending", None, None, None
        if item.prompt_id and item.server not in servers:   # its server is not part of this run: render it here
            item.status, item.prompt_id, item.server = "pending", None, None
        todo.append(item)
    busy: set[str] = set()
    alive = set(servers)

    def next_item(server: str) -> Item | None:
        for i, item in enumerate(todo):           # first what this server already holds (a prompt to wait for)
            if item.prompt_id and item.server == server:
                return todo.pop(i)
        for i, item in enumerate(todo):
            if not item.prompt_id:
                return todo.pop(i)
        return None

    async def worker(server: str) -> None:
        async with Client(server) as client:
            while True:
                item = next_item(server)
                if item is None:
                    if not busy:     # nothing left, and no other server can hand an item back
                        return
                    await asyncio.sleep(0.2)
                    continue
                busy.add(server)
                try:
                    if not await _render_with_retries(client, manifest, item, workflow, out, log):
                        alive.discard(server)
                        if alive:    # killed or unreachable: another server renders it (this one never finished it)
                            todo.insert(0, item)
                            for held in todo:            # and whatever else was waiting for this server
                                if held.server == server:
                                    held.status, held.prompt_id, held.server = "pending", None, None
                            log(f"{item.id}: {server} is unreachable; handing the item to another server")
                        else:        # no other server: keep the prompt id, so a rerun waits for it
                            log(f"{item.id}: {server} is unreachable; rerun to pick up its prompt {item.prompt_id}")
                        manifest.save()
                        return
                finally:
                    busy.discard(server)

    await asyncio.gather(*(worker(s) for s in servers))
    return manifest


async def _reachable(client: Client, tries: int = 3) -> bool:
    for i in range(tries):
        try:
            await client.json("GET", "/queue")
            return True
        except (OSError, asyncio.TimeoutError, RuntimeError, ValueError):
            await asyncio.sleep(1.0 + i)
    return False


async def _render_with_retries(client: Client, manifest: Manifest, item: Item, workflow: dict, out: Path, log,
                               attempts: int = 3) -> bool:
    """Render one item on ``client``'s server; False when the server cannot be reached any more."""
    for _ in range(attempts):
        try:
            await _render_item(client, manifest, item, workflow, out, log)
            return True
        except (OSError, asyncio.TimeoutError) as e:   # aiohttp's connection errors are OSErrors
            # the server may still be rendering it: keep the prompt id (waited for, never queued twice)
            item.error = f"connection lost: {e}"[:2000]
            manifest.save()
            log(f"{item.id}: connection to {client.server} lost ({e})")
            if not await _reachable(client):
                return False
        except Exception as e:  # noqa: BLE001 - one item failing must not lose the others
            item.status, item.error = "failed", str(e)[:2000]
            manifest.save()
            log(f"{item.id}: FAILED: {e}")
            return True
    return True


def main_args(args: argparse.Namespace) -> int:
    try:
        manifest = asyncio.run(run_batch(args.server, Path(args.workflow), [Path(v) for v in args.videos],
                                         [Path(t) for t in args.trajectories], Path(args.out),
                                         log=lambda m: print(m, flush=True)))
    except (ValueError, FileNotFoundError) as e:   # the project's errors (TrajectoryError, BatchError) are ValueErrors
        print(f"error: {e}", flush=True)
        return 2
    done = sum(i.status == "done" for i in manifest.items.values())
    print(f"{done}/{len(manifest.items)} items done; manifest: {manifest.path}")
    return 0 if done == len(manifest.items) else 1


def add_parser(sub) -> None:
    p = sub.add_parser("batch", help="render videos x trajectories through a running ComfyUI (resumable)")
    p.add_argument("--server", nargs="+", default=["http://127.0.0.1:8188"],
                   help="ComfyUI address(es): items are spread across them, one at a time per server; a server that "
                        "goes away hands its item to another")
    p.add_argument("--workflow", required=True, help="API workflow (e.g. workflows/realcam_streaming.api.json)")
    p.add_argument("--videos", nargs="+", required=True, help="source video files")
    p.add_argument("--trajectories", nargs="+", required=True, help="trajectory JSON files (docs/trajectory_json.md)")
    p.add_argument("--out", required=True, help="output folder (holds manifest.json; rerun to resume)")
    p.set_defaults(fn=main_args)

