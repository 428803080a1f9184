"""RealCam Procedural Clip: a held-out procedural scene as a source video, so the embedded model can be
tried with no file at all, and the camera path it was filmed along."""
from __future__ import annotations

from comfy_api.latest import io

from realcam.demo import procedural_clip

from .types import schema, RealCamTrajectory

FPS = 16.0


class RealCamProceduralClip(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamProceduralClip", "RealCam Procedural Clip",
            "A 64-px procedural scene filmed along a random camera path (a scene the embedded tiny model never "
            "trained on): a source video for trying RealCam without any file.",
            inputs=[io.Int.Input("scene", default=0, min=0, max=1_000_000, tooltip="Which held-out scene."),
                    io.Int.Input("frames", default=33, min=1, max=257, step=4,
                                 tooltip="Video frames (4k+1; the embedded model was trained on 33)."),
                    io.Combo.Input("world", options=["v1", "v2"], default="v2",
                                   tooltip="v2: the world the embedded model was trained on, a 360° backdrop and "
                                           "pillars in which every camera move shows; v1: the first, plainer world.")],
            outputs=[io.Image.Output(display_name="images"), io.Float.Output(display_name="fps"),
                     RealCamTrajectory.Output(display_name="source_camera",
                                              tooltip="The path the clip was filmed along: wire it to a sampler's "
                                                      "source_camera (the embedded model renders better knowing it).")])

    @classmethod
    def execute(cls, scene: int, frames: int, world: str) -> io.NodeOutput:
        clip = procedural_clip(scene, frames, world=world)
        return io.NodeOutput(clip.frames, FPS, clip.camera)
