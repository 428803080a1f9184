"""The trajectory widget in the official frontend (1.32.9), against a real ComfyUI server."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IN_CI
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
    from tests.harness.browser import BrowserUnavailable, browser_tools

    try:
        node, chromium, modules = browser_tools()
    except BrowserUnavailable as e:
        if IN_CI:
            raise
        pytest.skip(str(e))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "trajectory_widget.png"
    script = Path(__file__).parent / "browser" / "trajectory_widget.js"
    proc = subprocess.run([node, str(script), comfy_server.url, str(shot), chromium], capture_output=True, text=True,
                          timeout=300, env={"NODE_PATH": str(modules), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:] + "\n" + comfy_server.log_tail()
    result = json.loads(proc.stdout.strip().splitlines()[-1])
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
