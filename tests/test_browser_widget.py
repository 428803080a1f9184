"""The camera editor in the official frontend, against a real ComfyUI server: on the frontend ComfyUI 0.3.75
pins (1.32.9) and on the newest release (1.58.1). One browser run walks through every editor defect artists
reported (tests/browser/trajectory_widget.js); each assertion below checks one."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.harness.comfyui import BUNDLED_FRONTEND, NEWEST_FRONTEND, REPO_ROOT

pytestmark = pytest.mark.comfyui
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module", params=[BUNDLED_FRONTEND, NEWEST_FRONTEND], ids=lambda v: f"frontend-{v}")
def comfy_server(request, comfyui_tree, tmp_path_factory):
    from tests.harness.server import ComfyServer

    server = ComfyServer(tmp_path_factory.mktemp("server"), frontend=request.param).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def editor_run(comfy_server):
    from tests.harness.browser import run_script

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"trajectory_widget_{comfy_server.frontend or BUNDLED_FRONTEND}.png"
    result = run_script(Path(__file__).parent / "browser" / "trajectory_widget.js", comfy_server.url, str(shot),
                        timeout=300, context=comfy_server.log_tail())
    result["screenshot"] = shot
    return result


def test_server_lists_our_nodes_and_route(comfy_server):
    info = comfy_server.get_json("/object_info")
    assert "RealCamCameraTrajectory" in info and "RealCamModelLoader" in info
    inputs = info["RealCamCameraTrajectory"]["input"]["required"]
    assert all(opts.get("tooltip") for _, opts in inputs.values())
    presets = comfy_server.get_json("/realcam/presets")["presets"]
    names = {p["name"] for p in presets}
    assert {"static", "orbit_left", "pan_right"} <= names and {f"cam{i:02d}" for i in range(1, 11)} <= names


def test_editor_runs_without_errors(editor_run, report):
    assert editor_run["errors"] == []
    assert editor_run["screenshot"].stat().st_size > 10_000
    report(f"camera editor screenshot: {editor_run['screenshot'].relative_to(REPO_ROOT)}")


def test_presets_come_from_the_route_and_draw_their_path(comfy_server, editor_run):
    route = [p["name"] for p in comfy_server.get_json("/realcam/presets")["presets"]]
    assert editor_run["presetOptions"] == route                       # static and cam01–cam10 included
    assert editor_run["presetPathKeys"] == 17                          # the default preset is drawn, not an empty grid
    assert editor_run["selectedPreset"] == "orbit_left"                # the node's preset is the one shown
    assert editor_run["cam09Shown"] == "cam09"                         # a ReCamMaster workflow's camera, by its name


def test_click_on_a_preset_does_not_silently_convert_it(editor_run):
    assert editor_run["afterPresetClick"] == editor_run["initial"]
    assert "edit as keys" in editor_run["presetClickMessage"]


def test_preset_to_keys_keeps_the_end_pose_on_a_33_frame_clip(editor_run):
    from realcam.camera.presets import preset_trajectory
    from realcam.camera.trajectory_json import parse_trajectory

    assert editor_run["scrubberMax"] == 32                             # the timeline follows the frames widget
    doc = editor_run["arcKeys"]
    assert doc["type"] == "spline" and doc["spline"]["timing"] == "clip" and len(doc["spline"]["keyframes"]) == 5
    want = preset_trajectory("arc_right", 33).c2w
    for frames in (33, 81):                                            # at the clip's length, and resampled to another
        got = parse_trajectory(doc).build(frames).c2w
        assert torch.allclose(got[-1], want[-1], atol=1e-4), (frames, got[-1, :3, 3], want[-1, :3, 3])


def test_click_with_the_scrubber_on_a_key_stays_inside_the_clip(editor_run):
    for name, count in (("afterClickOnFirstKey", 6), ("afterClickOnLastKey", 7)):
        keys = editor_run[name]["spline"]["keyframes"]
        assert len(keys) == count, name
        assert all(0 <= k["t"] <= 1 for k in keys), (name, [k["t"] for k in keys])
        assert len({k["t"] for k in keys}) == count


def test_keyboard_delete_removes_the_key_and_keeps_the_node(editor_run):
    assert editor_run["focused"] == "canvas"
    assert editor_run["selectedBeforeDelete"] == 2
    assert editor_run["nodesAfterDelete"] == 1
    before = editor_run["afterClickOnLastKey"]["spline"]["keyframes"]
    after = editor_run["afterDelete"]["spline"]["keyframes"]
    assert after == before[:2] + before[3:]
    assert editor_run["afterUndo"]["spline"]["keyframes"] == before    # Ctrl+Z
    assert editor_run["nodesAfterBackspace"] == 1 and len(editor_run["afterBackspace"]["spline"]["keyframes"]) == len(before) - 1


def test_orientation_handle_turns_the_key_without_moving_it(editor_run):
    before, after = editor_run["afterBackspace"]["spline"]["keyframes"][0], editor_run["afterAim"]["spline"]["keyframes"][0]
    assert after["position"] == before["position"]
    assert abs(after["yaw"] - before["yaw"]) > 5


def test_speed_survives_save_and_reload_without_compounding(editor_run):
    from realcam.camera.trajectory_json import parse_trajectory

    assert editor_run["withSpeed"]["spline"]["speed"] == 2
    assert editor_run["withSpeed"]["spline"]["keyframes"] == editor_run["afterAim"]["spline"]["keyframes"]   # times kept
    assert editor_run["reloaded"] == editor_run["withSpeed"] and editor_run["speedShown"] == "2"
    assert editor_run["speedAgain"] == editor_run["withSpeed"]
    assert parse_trajectory(editor_run["reloaded"]).build().frames == 33   # and Python reads what the editor wrote
