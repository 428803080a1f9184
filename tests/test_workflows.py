"""Every shipped workflow validates and runs end to end in a real ComfyUI with tiny random weights."""
from __future__ import annotations

import pytest

from tests.workflow_env import (ROOT, SOURCE_FRAMES, SOURCE_SIZE, WORKFLOWS, load_workflow, read_video, saved_video, ui_path,
                                write_models, write_source_video)

pytestmark = pytest.mark.comfyui


@pytest.fixture(scope="module")
def wf_server(comfyui_tree, tmp_path_factory):
    from tests.harness.server import ComfyServer

    root = tmp_path_factory.mktemp("workflows")
    write_models(root / "models")
    write_source_video(root / "input" / "realcam_source.mp4")
    server = ComfyServer(root, models_dir=root / "models", input_dir=root / "input").start()
    server.root = root
    yield server
    server.stop()


def test_four_workflows_ship_in_both_forms():
    names = {p.name.replace(".api.json", "") for p in WORKFLOWS}
    assert names == {"realcam_teacher", "realcam_streaming", "recammaster_prefix", "realcam_tiny"}
    for path in WORKFLOWS:
        ui, api = load_workflow(ui_path(path)), load_workflow(path)
        assert {n["type"] for n in ui["nodes"]} == {n["class_type"] for n in api.values()}
    # ComfyUI lists every .json of example_workflows/ as a template: only UI workflows there
    assert sorted(p.name for p in (ROOT / "example_workflows").iterdir()) == ["realcam_tiny.json"]


def test_shipped_api_workflows_are_what_make_workflows_writes():
    """scripts/make_workflows.py is the one description of the shipped workflows. Before the fix it still described
    the first, world-v1 example (a v1 clip along translate_up at 0.8, no source path), so regenerating the forms
    would have put that example back in front of the world-v2 model."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_workflows", ROOT / "scripts" / "make_workflows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    described = module.workflows()
    assert {f"{name}.api.json" for name in described} == {p.name for p in WORKFLOWS}
    for name, wf in described.items():
        assert load_workflow(ROOT / "workflows" / f"{name}.api.json") == wf, name


def test_the_example_runs_on_a_server_with_no_model_files(tmp_path, report):
    """Zero-download first run: a ComfyUI with this pack and nothing in models/ renders the shipped example
    (a procedural clip re-rendered by the embedded tiny student)."""
    import time

    from tests.harness.server import ComfyServer

    server = ComfyServer(tmp_path).start()
    try:
        t0 = time.perf_counter()
        history = server.run_prompt(load_workflow(ROOT / "workflows" / "realcam_tiny.api.json"))
        took = time.perf_counter() - t0
        assert history["status"]["status_str"] == "success", history["status"]
        video = read_video(saved_video(server, history, tmp_path)).float() / 255
    finally:
        server.stop()
    report(f"example workflow on a server with no model files: {video.shape[0]} frames in {took:.1f} s")
    assert video.shape == (33, 64, 64, 3) and float(video.std()) > 0.01 and took < 60


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_runs_end_to_end(wf_server, path, report):
    history = wf_server.run_prompt(load_workflow(path))
    assert history["status"]["status_str"] == "success", history["status"]
    video = read_video(saved_video(wf_server, history, wf_server.root)).float() / 255
    report(f"{path.name}: {video.shape[0]} frames {video.shape[2]}x{video.shape[1]}, std {float(video.std()):.3f}")
    frames = 33 if path.name == "realcam_tiny.api.json" else SOURCE_FRAMES      # the example renders its own clip
    assert video.shape == (frames, SOURCE_SIZE, SOURCE_SIZE, 3)
    assert float(video.std()) > 0.01                                  # not constant
    assert float((video[1:] - video[:-1]).abs().mean()) > 1e-3        # and it moves


def test_streaming_node_takes_any_seed_the_frontend_draws_and_frees_its_live_session(wf_server):
    """The frontend's randomize draws seeds from [0, 2^50): above ~4.6e12 the stream used to overflow. A run
    holds its live session only while it runs: a post after it ended is refused (it would steer the next run)."""
    import json

    prompt = load_workflow(WORKFLOWS[0].parent / "realcam_streaming.api.json")
    sampler = next(n for n in prompt.values() if n["class_type"] == "RealCamStreamingSampler")
    sampler["inputs"]["seed"] = 2**50 - 17
    history = wf_server.run_prompt(prompt)
    assert history["status"]["status_str"] == "success", json.dumps(history["status"])[:2000]
    status, body = _post(wf_server, "/realcam/live_camera", json.dumps({
        "session": sampler["inputs"]["live_session"],
        "trajectory": {"version": 1, "type": "preset", "frames": 25, "preset": {"name": "pan_left"}}}).encode())
    assert status == 404, body


def test_auto_live_session_is_secret_to_the_client_that_queued_the_run(wf_server):
    """The shipped streaming workflow used the fixed session "realcam-live": any client could steer any user's
    render. With "auto" each run holds a fresh random session that only the queuing client is told."""
    import asyncio
    import json

    import aiohttp

    prompt = load_workflow(WORKFLOWS[0].parent / "realcam_streaming.api.json")
    sampler_id, sampler = next((k, n) for k, n in prompt.items() if n["class_type"] == "RealCamStreamingSampler")
    assert sampler["inputs"]["live_session"] == "auto"
    path = {"version": 1, "type": "preset", "frames": 25, "preset": {"name": "pan_left"}}

    async def main():
        seen = {"alice": [], "bob": []}
        posts = {}
        async with aiohttp.ClientSession() as http:
            async def post(session):
                async with http.post(wf_server.url + "/realcam/live_camera", json={"session": session, "trajectory": path}) as r:
                    return r.status

            async def listen(who, ws, pid=None):
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    event = json.loads(msg.data)
                    if event["type"] == "realcam.live_session":
                        seen[who].append(event["data"])
                        if event["data"]["session"] and who == "alice":     # while the run holds it
                            posts["own"] = await post(event["data"]["session"])
                            posts["fixed"] = await post("realcam-live")
                    if pid and event["type"] == "executing" and event["data"]["node"] is None \
                            and event["data"].get("prompt_id") == pid:
                        return

            alice = await http.ws_connect(wf_server.url + "/ws?clientId=alice")
            bob = await http.ws_connect(wf_server.url + "/ws?clientId=bob")
            async with http.post(wf_server.url + "/prompt", json={"prompt": prompt, "client_id": "alice"}) as r:
                pid = (await r.json())["prompt_id"]
            bob_task = asyncio.create_task(listen("bob", bob))
            await asyncio.wait_for(listen("alice", alice, pid), 300)
            await asyncio.sleep(0.5)
            bob_task.cancel()
            posts["after"] = await post(seen["alice"][0]["session"])
            await alice.close()
            await bob.close()
        return seen, posts

    seen, posts = asyncio.run(main())
    assert [e["node"] for e in seen["alice"]] == [sampler_id, sampler_id]
    session = seen["alice"][0]["session"]
    assert session.startswith("run-") and len(session) >= 24 and seen["alice"][1]["session"] is None
    assert seen["bob"] == []                                  # nobody else learns it
    assert posts == {"own": 200, "fixed": 404, "after": 404}  # it steers this run only, and only while it runs


def test_crafted_checkpoints_fail_fast_with_a_named_field_on_the_server(wf_server, tmp_path):
    """On a real server, through the Model Loader and Teacher Sampler: a checkpoint whose metadata asks for shift
    −1 used to render NaN; one naming 100,000 blocks built a model for minutes. Each now fails at once, naming
    what is wrong, and the server carries on."""
    import json
    import time

    from safetensors import safe_open
    from safetensors.torch import save_file

    dm = wf_server.root / "models" / "diffusion_models"
    with safe_open(str(dm / "realcam_wan2.1_1.3b_teacher.safetensors"), "pt") as f:
        sd = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    sampling = json.loads(meta["sampling"])
    arch = json.loads(meta["arch"])
    cases = {"crafted_shift.safetensors": (sd, {**meta, "sampling": json.dumps({**sampling, "shift": -1.0})}, "shift"),
             "crafted_nan_shift.safetensors": (sd, {**meta, "sampling": json.dumps({**sampling, "shift": float("nan")})}, "shift"),
             "crafted_layers.safetensors": (sd, {**meta, "arch": json.dumps({**arch, "num_layers": 100_000})}, "num_layers"),
             "crafted_blocks.safetensors": ({**sd, "blocks.99999.ffn.0.bias": sd["blocks.0.ffn.0.bias"].clone()}, meta, "blocks")}
    for name, (tensors, metadata, _) in cases.items():
        save_file(tensors, str(dm / name), metadata=metadata)
    for name, (_, _, field) in cases.items():
        prompt = load_workflow(WORKFLOWS[0].parent / "realcam_teacher.api.json")
        next(n for n in prompt.values() if n["class_type"] == "RealCamModelLoader")["inputs"]["model_name"] = name
        t0 = time.perf_counter()
        history = wf_server.run_prompt(prompt, timeout=120)
        took = time.perf_counter() - t0
        status = history["status"]
        assert status["status_str"] == "error", (name, status)
        error = next(m[1] for m in status["messages"] if m[0] == "execution_error")
        assert field in error["exception_message"], (name, error["exception_message"])
        assert took < 30, (name, took)
    history = wf_server.run_prompt(load_workflow(WORKFLOWS[0].parent / "realcam_teacher.api.json"))
    assert history["status"]["status_str"] == "success"                  # the server is fine afterwards


def test_ui_workflows_load_in_the_frontend_and_streaming_previews_update(wf_server, report):
    from pathlib import Path

    from tests.harness.browser import run_script
    from tests.harness.comfyui import REPO_ROOT

    shots = REPO_ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    ui_files = [str(ui_path(p)) for p in WORKFLOWS]
    out = run_script(Path(__file__).parent / "browser" / "workflows.js", wf_server.url, str(shots), *ui_files,
                     context=wf_server.log_tail())
    for name, res in out["results"].items():
        assert res["missing"] == [] and res["dialog"] == [], (name, res)
        assert res["nodes"] >= 10, (name, res)
        assert res["overlaps"] == [], (name, res["overlaps"])       # no node hidden under another's media
    assert set(out["runs"]) == {"realcam_streaming.json", "realcam_tiny.json"}
    for name, run in out["runs"].items():
        assert run["done"] and run["failed"] is None, (name, run)
        assert run["overlaps"] == [], (name, run["overlaps"])        # nor once the outputs show
        previews = [e for e in run["events"] if e["kind"] == "preview"]
        progress = [e for e in run["events"] if e["kind"] == "progress"]
        report(f"{name} run in the browser: {len(previews)} preview images, progress "
               f"{[(e['value'], e['max']) for e in progress]}")
        assert len(previews) >= 3                      # one per chunk, while it runs
        live = [e["value"] for e in run["events"] if e["kind"] == "live"]
        if name == "realcam_streaming.json":           # live_session "auto": the editor is handed the run's session
            assert len(live) == 2 and live[0].startswith("run-") and live[1] == "", live
        else:
            assert live == []
        assert [e["value"] for e in progress] == [1, 2, 3] and progress[-1]["max"] == 3


def test_batch_resumes_after_being_killed(wf_server, tmp_path, report):
    import json
    import signal
    import subprocess
    import sys
    import time

    video = wf_server.root / "input" / "realcam_source.mp4"
    trajs = []
    for name in ("orbit_left", "pan_right", "crane_up"):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({"version": 1, "type": "preset", "frames": 25, "preset": {"name": name}}))
        trajs.append(p)
    out = tmp_path / "renders"
    cmd = [sys.executable, "-m", "realcam", "batch", "--server", wf_server.url, "--workflow",
           str(WORKFLOWS[0].parent / "realcam_streaming.api.json"), "--videos", str(video),
           "--trajectories", *map(str, trajs), "--out", str(out)]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    manifest = out / "manifest.json"
    deadline = time.time() + 300
    done_before = {}
    while time.time() < deadline:
        if manifest.exists():
            items = json.loads(manifest.read_text())["items"]
            done_before = {k: v for k, v in items.items() if v["status"] == "done"}
            if done_before:
                break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 1 <= len(done_before) < 3, "the kill must land mid-run"
    killed_state = json.loads(manifest.read_text())["items"]
    mtimes = {k: (out / v["outputs"][0]).stat().st_mtime for k, v in done_before.items()}
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    items = json.loads(manifest.read_text())["items"]
    assert len(items) == 3 and all(v["status"] == "done" for v in items.values())
    for k in done_before:                       # finished items were not rendered again
        assert items[k]["prompt_id"] == done_before[k]["prompt_id"] and f"{k}: already done, skipped" in second.stdout
        assert (out / items[k]["outputs"][0]).stat().st_mtime == mtimes[k]
    for v in items.values():
        video_file = out / v["outputs"][0]
        assert video_file.suffix == ".mp4" and read_video(video_file).shape[0] == SOURCE_FRAMES
    # every item was rendered exactly once on the server (a prompt queued before the kill is waited for, not re-queued)
    history = wf_server.get_json("/history?max_items=1000")
    batch_prompts = [pid for pid, h in history.items()
                     if any(n.get("class_type") == "SaveVideo" and str(n["inputs"].get("filename_prefix", "")).startswith("realcam_batch/")
                            for n in h["prompt"][2].values())]
    assert len(batch_prompts) == 3, (len(batch_prompts), killed_state)
    report(f"batch: killed with {len(done_before)} of 3 done; resumed and finished; 3 prompts rendered in total")


def _post(server, path: str, body: bytes, timeout: float = 30):
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(server.url + path, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_live_camera_route_is_bounded_and_refuses_what_no_run_holds(wf_server, report):
    import json
    import threading
    import time

    import psutil

    doc = {"version": 1, "type": "preset", "frames": 25, "preset": {"name": "pan_left"}}
    status, body = _post(wf_server, "/realcam/live_camera", json.dumps({"session": "s1", "trajectory": doc}).encode())
    assert status == 404 and "no stream is running" in body["error"]          # nothing stored while idle
    status, body = _post(wf_server, "/realcam/live_camera", json.dumps({"session": "s1", "trajectory": {
        **doc, "preset": {"name": "nope"}}}).encode())
    assert status == 400 and "trajectory.preset.name" in body["error"]
    status, body = _post(wf_server, "/realcam/live_camera", json.dumps({"trajectory": doc}).encode())
    assert status == 400 and body["error"].startswith("session")
    status, body = _post(wf_server, "/realcam/live_camera", b"{" * 50_000)
    assert status == 400 and "not valid JSON" in body["error"]
    status, body = _post(wf_server, "/realcam/live_camera", b" " * (5 * 2**20))
    assert status == 413
    # a 10-million-frame document is refused at once, and other requests are answered meanwhile
    served = []
    stop = threading.Event()

    def other_requests():
        while not stop.is_set():
            t = time.perf_counter()
            wf_server.get_json("/realcam/presets")
            served.append(time.perf_counter() - t)
    worker = threading.Thread(target=other_requests)
    worker.start()
    t0 = time.perf_counter()
    status, body = _post(wf_server, "/realcam/live_camera", json.dumps({"session": "s1", "trajectory": {
        **doc, "frames": 10_000_000}}).encode())
    refused_ms = (time.perf_counter() - t0) * 1000
    stop.set()
    worker.join()
    assert status == 400 and "trajectory.frames" in body["error"] and refused_ms < 100, (status, body, refused_ms)
    assert served and max(served) < 1.0
    # 3,000 posted sessions leave the server's memory where it was
    proc = psutil.Process(wf_server.proc.pid)
    before = proc.memory_info().rss
    for i in range(3000):
        _post(wf_server, "/realcam/live_camera", json.dumps({"session": f"client-{i}", "trajectory": doc}).encode())
    grown = (proc.memory_info().rss - before) / 2**20
    report(f"live route: 10-million-frame post refused in {refused_ms:.1f} ms; 3,000 sessions posted: server RSS "
           f"{before / 2**20:.0f} MB → {proc.memory_info().rss / 2**20:.0f} MB ({grown:+.1f} MB)")
    assert grown < 30


def test_preset_keyframes_route_bounds_its_work(wf_server):
    import json
    import time

    t0 = time.perf_counter()
    status, body = _post(wf_server, "/realcam/preset_keyframes", json.dumps({"name": "pan_left", "count": 10_000_000}).encode())
    assert status == 400 and body["error"].startswith("count") and time.perf_counter() - t0 < 1.0
    status, body = _post(wf_server, "/realcam/preset_keyframes", json.dumps({"name": ["pan_left"]}).encode())
    assert status == 400 and body["error"].startswith("name")
    status, body = _post(wf_server, "/realcam/preset_keyframes", b'{"name": "pan_left", "frames": 1' + b"0" * 400 + b"}")
    assert status == 400 and body["error"].startswith("frames")
    status, body = _post(wf_server, "/realcam/preset_keyframes", json.dumps({"name": "pan_left", "frames": 33}).encode())
    assert status == 200 and len(body["keyframes"]) == 5 and body["keyframes"][-1]["t"] == 1
    # the editor's form: any trajectory document (here a looped, eased preset) → clip-timed keys
    doc = {"version": 1, "type": "preset", "frames": 81, "preset": {"name": "cam09", "loop": True, "easing": "ease_in_out"}}
    status, body = _post(wf_server, "/realcam/preset_keyframes", json.dumps({"trajectory": doc, "frames": 33, "count": 17}).encode())
    assert status == 200 and body["timing"] == "clip" and len(body["keyframes"]) == 17
    assert body["keyframes"][-1]["position"] == body["keyframes"][0]["position"]        # the loop closes
    for bad, field in (({"trajectory": {**doc, "frames": 10**9}}, "trajectory.frames"), ({"trajectory": "{"}, "trajectory"),
                       ({"trajectory": doc, "frames": -3}, "frames")):
        t0 = time.perf_counter()
        status, body = _post(wf_server, "/realcam/preset_keyframes", json.dumps(bad).encode())
        assert status == 400 and body["error"].startswith(field) and time.perf_counter() - t0 < 1.0, (bad, body)


def test_live_sessions_belong_to_the_run_that_holds_them():
    import pytest

    from realcam.live import LiveCameraError, LiveCameras

    live = LiveCameras(max_sessions=2)
    doc = {"version": 1, "type": "preset", "frames": 9, "preset": {"name": "zoom_in"}}
    with pytest.raises(LiveCameraError, match="no stream is running") as e:
        live.post("a", doc)                                   # idle: refused, nothing kept for the next run
    assert e.value.status == 404 and len(live) == 0
    live.open("a", 25)
    with pytest.raises(LiveCameraError, match="held by another running stream"):
        live.open("a", 25)
    live.open("b", 25)
    with pytest.raises(LiveCameraError, match="already take live camera updates") as e:
        live.open("c", 25)
    assert e.value.status == 503
    assert live.newest("a", 0) is None
    assert live.post("a", doc) == 1
    first = live.newest("a", 3)
    assert first.shape == (4, 4, 4) and live.newest("a", 3) is None     # 7 latent frames, from frame 3 on; once
    poses = {"version": 1, "type": "poses", "frames": 5, "poses": [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]] * 5}
    with pytest.raises(ValueError, match="poses"):
        live.post("a", poses)                                 # 5 poses cannot be sampled at the stream's 25 frames
    assert live.newest("a", 0) is None                        # the refused post changed nothing
    live.close("a")
    with pytest.raises(LiveCameraError, match="no stream is running"):
        live.post("a", doc)
    with pytest.raises(LiveCameraError, match="session"):
        live.open("../x" * 30, 25)


def test_batch_spreads_over_two_servers_and_survives_losing_one(wf_server, tmp_path, report):
    import json
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    from tests.harness.server import ComfyServer

    (tmp_path / "second").mkdir()
    second = ComfyServer(tmp_path / "second", models_dir=wf_server.root / "models", input_dir=wf_server.root / "input").start()
    video = wf_server.root / "input" / "realcam_source.mp4"
    trajs = []
    for name in ("orbit_left", "pan_right", "crane_up", "zoom_in", "tilt_up", "arc_left"):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({"version": 1, "type": "preset", "frames": 25, "preset": {"name": name}}))
        trajs.append(p)
    out = tmp_path / "renders"
    cmd = [sys.executable, "-m", "realcam", "batch", "--server", wf_server.url, second.url, "--workflow",
           str(ROOT / "workflows" / "realcam_streaming.api.json"), "--videos", str(video),
           "--trajectories", *map(str, trajs), "--out", str(out)]
    batch = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    manifest = out / "manifest.json"
    deadline, killed_item = time.time() + 300, None
    try:
        while time.time() < deadline and killed_item is None:
            if manifest.exists():
                items = json.loads(manifest.read_text())["items"]
                on_second = [k for k, v in items.items() if v.get("server") == second.url and v["status"] == "queued"]
                if on_second and any(v["status"] == "done" for v in items.values()):
                    second.proc.send_signal(signal.SIGKILL)      # the second machine dies mid-item
                    killed_item = on_second[0]
            time.sleep(0.02)
        text, _ = batch.communicate(timeout=600)
    finally:
        second.stop()
    assert killed_item is not None, "the second server never took an item"
    assert batch.returncode == 0, text[-3000:]
    items = json.loads(manifest.read_text())["items"]
    assert len(items) == 6 and all(v["status"] == "done" and (out / v["outputs"][0]).exists() for v in items.values())
    assert items[killed_item]["server"] == wf_server.url                 # handed over, rendered by the survivor
    history = wf_server.get_json("/history?max_items=1000")
    per_item = Counter(str(n["inputs"]["filename_prefix"]).split("/")[1] for h in history.values()
                       for n in h["prompt"][2].values()
                       if n.get("class_type") == "SaveVideo" and str(n["inputs"].get("filename_prefix", "")).startswith("realcam_batch/")
                       and str(n["inputs"]["filename_prefix"]).split("/")[1] in items)
    on_first = [k for k, v in items.items() if v["server"] == wf_server.url]
    assert all(per_item[k] == 1 for k in on_first), per_item       # nothing rendered twice on the survivor
    assert all(per_item[k] == 0 for k in items if k not in on_first)
    report(f"two-server batch: {len(items) - len(on_first)} items finished on the second server before it was killed, "
           f"{len(on_first)} on the first (including the one the second was rendering); each rendered once")
