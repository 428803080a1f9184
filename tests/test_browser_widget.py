"""The trajectory widget in the official frontend (1.32.9), against a real ComfyUI server."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.comfyui import REPO_ROOT

pytestmark = pytest.mark.comfyui
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def comfy_server(comfyui_tree, tmp_path_factory):
    from tests.harness.server import ComfyServer

    server = ComfyServer(tmp_path_factory.mktemp("server")).start()
    yield server
    server.stop()


def test_server_lists_our_nodes_and_route(comfy_server):
    info = comfy_server.get_json("/object_info")
    assert "RealCamCameraTrajectory" in info and "RealCamModelLoader" in info
    inputs = info["RealCamCameraTrajectory"]["input"]["required"]
    assert all(opts.get("tooltip") for _, opts in inputs.values())
    presets = comfy_server.get_json("/realcam/presets")["presets"]
    assert {"orbit_left", "pan_right"} <= {p["name"] for p in presets}


def test_trajectory_widget_edits_json_and_survives_reload(comfy_server, report):
    from tests.harness.browser import run_script

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "trajectory_widget.png"
    result = run_script(Path(__file__).parent / "browser" / "trajectory_widget.js", comfy_server.url, str(shot),
                        timeout=300, context=comfy_server.log_tail())
    assert result["errors"] == []
    assert result["initial"]["type"] == "preset"
    assert result["asKeys"]["type"] == "spline" and len(result["asKeys"]["spline"]["keyframes"]) == 5
    assert len(result["added"]["spline"]["keyframes"]) == 6          # the mouse click added a keyframe
    assert result["reloaded"] == result["added"]                      # saved and reloaded intact
    from realcam.camera.trajectory_json import parse_trajectory
    traj = parse_trajectory(result["reloaded"]).build()               # and Python reads what the widget wrote
    assert traj.frames == 81
    assert shot.stat().st_size > 10_000
    report(f"trajectory widget screenshot: {shot.relative_to(REPO_ROOT)}")
