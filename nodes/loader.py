"""RealCam Model Loader: a DiT file from models/diffusion_models → REALCAM_MODEL."""
from __future__ import annotations

import folder_paths
from comfy_api.latest import io

from realcam.config import CONDITIONING_PRESETS
from realcam.demo import EMBEDDED_DITS, embedded_file
from realcam.model.attention import BACKENDS
from realcam.weights import load_dit

from .types import schema, RealCamModel

DTYPES = ["default", "bf16", "fp16", "fp32"]


class RealCamModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamModelLoader", "RealCam Model Loader",
            "Loads a Wan2.1/2.2 T2V, ReCamMaster or RealCam DiT checkpoint for camera-controlled video-to-video.",
            inputs=[
                io.Combo.Input("model_name", options=[*EMBEDDED_DITS, *folder_paths.get_filename_list("diffusion_models")],
                               tooltip="A file in models/diffusion_models: Wan2.1 T2V 1.3B/14B, Wan2.2 TI2V 5B, "
                                       "ReCamMaster or a RealCam checkpoint (safetensors; official, ComfyUI or diffusers names). "
                                       "The '(embedded)' entries ship with the pack: a tiny RealCam trained on 64-px "
                                       "procedural scenes, to try the nodes with no download (use its embedded VAE)."),
                io.Combo.Input("dtype", options=DTYPES, default="default",
                               tooltip="Compute dtype. 'default' keeps the file's dtype (bf16 for fp8 files)."),
                io.Combo.Input("fp8", options=["keep", "upcast"], default="keep",
                               tooltip="For fp8 files: 'keep' stores linear weights in fp8 and upcasts each layer when it "
                                       "runs (half the memory); 'upcast' converts them once on load (a little faster)."),
                io.Combo.Input("attention", options=list(BACKENDS), default="auto",
                               tooltip="Attention kernel: 'auto' uses flash-attn on a GPU when installed, else PyTorch SDPA."),
                io.Combo.Input("conditioning", options=["from file", *CONDITIONING_PRESETS], default="from file",
                               tooltip="How the source video enters the model. 'from file' uses the checkpoint's setting "
                                       "(RealCam metadata; ReCamMaster files use 'prefix'; plain Wan uses 'interleave')."),
            ],
            outputs=[RealCamModel.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model_name: str, dtype: str, fp8: str, attention: str, conditioning: str) -> io.NodeOutput:
        path = embedded_file(model_name) or folder_paths.get_full_path_or_raise("diffusion_models", model_name)
        model = load_dit(path, dtype=None if dtype == "default" else dtype, fp8=fp8, attention=attention,
                         conditioning=None if conditioning == "from file" else CONDITIONING_PRESETS[conditioning])
        return io.NodeOutput(model)
