"""RealCam Text: core CONDITIONING (CLIPLoader type wan + CLIPTextEncode) or empty text."""
from __future__ import annotations

from comfy_api.latest import io

from realcam.pipeline import text_context

from .types import schema, RealCamModel, RealCamText


def _tensor(conditioning):
    return None if conditioning is None else conditioning[0][0]


class RealCamTextNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamText", "RealCam Text",
            "Text for the samplers: connect CLIPTextEncode outputs (CLIPLoader type 'wan', umt5_xxl), "
            "or leave them unconnected for empty text.",
            inputs=[
                RealCamModel.Input("model", tooltip="The RealCam model (its text width is checked)."),
                io.Conditioning.Input("positive", optional=True, tooltip="Prompt from CLIPTextEncode (umT5). Unconnected: empty text."),
                io.Conditioning.Input("negative", optional=True, tooltip="Negative prompt for the teacher's CFG. Unconnected: empty text."),
            ],
            outputs=[RealCamText.Output(display_name="text")])

    @classmethod
    def execute(cls, model, positive=None, negative=None) -> io.NodeOutput:
        return io.NodeOutput(text_context(model, _tensor(positive), _tensor(negative)))
