"""RealCam Camera Trajectory: trajectory JSON (edited by the web widget) → REALCAM_TRAJECTORY + preview."""
from __future__ import annotations

import json

from comfy_api.latest import io

from realcam.camera.preview import render_preview
from realcam.camera.trajectory_json import MAX_FRAMES, trajectory_from_json

from .types import schema, RealCamTrajectory

DEFAULT_TRAJECTORY = json.dumps({"version": 1, "type": "preset", "frames": 81, "fps": 16,
                                 "preset": {"name": "orbit_left", "amplitude": 1.0, "speed": 1.0,
                                            "easing": "linear", "loop": False}})


class RealCamCameraTrajectory(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamCameraTrajectory", "RealCam Camera Trajectory",
            "A camera path for re-rendering: a preset (ReCamMaster's ten, orbits, dollies, cranes, "
            "out-and-back loops) or a keyframed spline edited on the canvas.",
            inputs=[
                io.String.Input("trajectory", multiline=True, default=DEFAULT_TRAJECTORY,
                                tooltip="Trajectory JSON (schema v1, docs/trajectory_json.md). The editor above writes "
                                        "it; you can also paste one exported by `python -m realcam` or another workflow."),
                io.Int.Input("frames", default=81, min=1, max=MAX_FRAMES,
                             tooltip="Video frames to sample the path at; use the source video's count (4k+1)."),
                io.Float.Input("fps", default=16.0, min=0.1, max=240.0, step=0.1,
                               tooltip="Frame rate: keyframe times are in seconds."),
            ],
            outputs=[RealCamTrajectory.Output(display_name="trajectory"),
                     io.Image.Output(display_name="preview", tooltip="Top and side views of the path with camera frustums.")],
        )

    @classmethod
    def execute(cls, trajectory: str, frames: int, fps: float) -> io.NodeOutput:
        traj = trajectory_from_json(trajectory, frames=frames, fps=fps)
        return io.NodeOutput(traj, render_preview(traj)[None])
