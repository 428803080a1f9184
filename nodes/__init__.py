"""RealCam nodes for ComfyUI (V3 schema). Nodes are thin: each converts types and calls one backend
function of ``realcam``; no model logic lives here."""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .loader import RealCamModelLoader

NODES: list[type[io.ComfyNode]] = [RealCamModelLoader]


class RealCamExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES
