"""RealCam nodes for ComfyUI (V3 schema). Nodes are thin: each converts types and calls one backend
function of ``realcam``; no model logic lives here."""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .camera import RealCamCameraTrajectory
from .loader import RealCamModelLoader
from .routes import register_routes
from .samplers import RealCamStreamingSampler, RealCamTeacherSampler
from .source import RealCamProceduralClip
from .text import RealCamTextNode
from .vae import RealCamDecode, RealCamVAELoader, RealCamVideoEncode

NODES: list[type[io.ComfyNode]] = [RealCamModelLoader, RealCamVAELoader, RealCamVideoEncode, RealCamCameraTrajectory,
                                   RealCamTextNode, RealCamTeacherSampler, RealCamStreamingSampler, RealCamDecode,
                                   RealCamProceduralClip]


class RealCamExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        register_routes()  # ComfyUI 0.3.75 never calls on_load; this runs before the server adds routes
        return NODES
