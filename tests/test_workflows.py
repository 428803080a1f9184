"""Every shipped workflow validates and runs end to end in a real ComfyUI with tiny random weights."""
from __future__ import annotations

import pytest

from tests.workflow_env import (SOURCE_FRAMES, SOURCE_SIZE, WORKFLOWS, load_workflow, read_video, saved_video,
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


def test_three_workflows_ship_in_both_forms():
    names = {p.name.replace(".api.json", "") for p in WORKFLOWS}
    assert names == {"realcam_teacher", "realcam_streaming", "recammaster_prefix"}
    for name in names:
        ui = load_workflow(WORKFLOWS[0].parent / f"{name}.json")
        api = load_workflow(WORKFLOWS[0].parent / f"{name}.api.json")
        assert {n["type"] for n in ui["nodes"]} == {n["class_type"] for n in api.values()}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_runs_end_to_end(wf_server, path, report):
    history = wf_server.run_prompt(load_workflow(path))
    assert history["status"]["status_str"] == "success", history["status"]
    video = read_video(saved_video(wf_server, history, wf_server.root)).float() / 255
    report(f"{path.name}: {video.shape[0]} frames {video.shape[2]}x{video.shape[1]}, std {float(video.std()):.3f}")
    assert video.shape == (SOURCE_FRAMES, SOURCE_SIZE, SOURCE_SIZE, 3)
    assert float(video.std()) > 0.01                                  # not constant
    assert float((video[1:] - video[:-1]).abs().mean()) > 1e-3        # and it moves


def test_ui_workflows_load_in_the_frontend_and_streaming_previews_update(wf_server, report):
    from pathlib import Path

    from tests.harness.browser import run_script
    from tests.harness.comfyui import REPO_ROOT

    shots = REPO_ROOT / "test-artifacts"
    shots.mkdir(exist_ok=True)
    ui_files = [str(p).replace(".api.json", ".json") for p in WORKFLOWS]
    out = run_script(Path(__file__).parent / "browser" / "workflows.js", wf_server.url, str(shots), *ui_files,
                     context=wf_server.log_tail())
    for name, res in out["results"].items():
        assert res["missing"] == [] and res["dialog"] == [], (name, res)
        assert res["nodes"] >= 12, (name, res)
    run = out["run"]
    assert run["done"] and run["failed"] is None, run
    previews = [e for e in run["events"] if e["kind"] == "preview"]
    progress = [e for e in run["events"] if e["kind"] == "progress"]
    report(f"streaming run in the browser: {len(previews)} preview images, progress {[(e['value'], e['max']) for e in progress]}")
    assert len(previews) >= 3                      # one per chunk, while it runs
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


def test_live_camera_route_validates_and_versions(wf_server):
    ok = wf_server.post_json("/realcam/live_camera", {"session": "s1", "trajectory": {
        "version": 1, "type": "preset", "frames": 25, "preset": {"name": "pan_left"}}})
    again = wf_server.post_json("/realcam/live_camera", {"session": "s1", "trajectory": {
        "version": 1, "type": "preset", "frames": 25, "preset": {"name": "pan_right"}}})
    assert ok == {"session": "s1", "version": 1} and again["version"] == 2
    bad = wf_server.post_json("/realcam/live_camera", {"session": "s1", "trajectory": {"version": 1, "type": "preset",
                                                                                       "frames": 25, "preset": {"name": "nope"}}})
    assert "trajectory.preset.name" in bad["error"]
    assert "needs a session id" in wf_server.post_json("/realcam/live_camera", {"trajectory": {}})["error"]


def test_live_registry_hands_each_update_once():
    from realcam.live import LiveCameras

    live = LiveCameras()
    assert live.newest("a", 25, 0) is None
    live.post("a", {"version": 1, "type": "preset", "frames": 9, "preset": {"name": "zoom_in"}})
    first = live.newest("a", 25, 3)
    assert first.shape == (4, 4, 4) and live.newest("a", 25, 3) is None   # 7 latent frames, from frame 3 on; once
