"""RealCam VAE Loader, Video Encode and Decode."""
from __future__ import annotations

import folder_paths
from comfy_api.latest import io

from realcam.demo import EMBEDDED_VAES, embedded_file
from realcam.pipeline import decode_video, encode_video
from realcam.vae import Tiling, load_vae

from .device import on_device, stop_requested
from .types import schema, RealCamLatents, RealCamVAE

APPROX_PREFIX = "vae_approx/"


def _vae_files() -> list[str]:
    return [*EMBEDDED_VAES, *folder_paths.get_filename_list("vae"),
            *(APPROX_PREFIX + f for f in folder_paths.get_filename_list("vae_approx"))]


def _tiling(tile: int, overlap: int) -> Tiling | None:
    return Tiling(tile, min(overlap, tile - 1)) if tile > 0 else None


class RealCamVAELoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamVAELoader", "RealCam VAE Loader",
            "Wan2.1 / Wan2.2 VAE (models/vae) or a tiny TAEHV decoder (models/vae_approx: taew2_1, taew2_2).",
            inputs=[io.Combo.Input("vae_name", options=_vae_files(),
                                   tooltip="Full VAE from models/vae (encode + decode), or vae_approx/… tiny VAE: "
                                           "~10x faster decoding for live previews, slightly less sharp. "
                                           "'realcam-tiny vae (embedded)' encodes and decodes for the embedded tiny model.")],
            outputs=[RealCamVAE.Output(display_name="vae")])

    @classmethod
    def execute(cls, vae_name: str) -> io.NodeOutput:
        embedded = embedded_file(vae_name)
        if embedded is not None:
            return io.NodeOutput(load_vae(embedded))
        folder, name = ("vae_approx", vae_name[len(APPROX_PREFIX):]) if vae_name.startswith(APPROX_PREFIX) else ("vae", vae_name)
        return io.NodeOutput(load_vae(folder_paths.get_full_path_or_raise(folder, name)))


class RealCamVideoEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamVideoEncode", "RealCam Video Encode",
            "Source video frames → latents for the RealCam samplers.",
            inputs=[
                RealCamVAE.Input("vae", tooltip="A full Wan VAE (a tiny decoder without encoder cannot encode)."),
                io.Image.Input("images", tooltip="The source video as an IMAGE batch (core LoadVideo → GetVideoComponents, "
                                                 "or VideoHelperSuite's Load Video)."),
                io.Float.Input("fps", default=16.0, min=0.1, max=240.0, step=0.1,
                               tooltip="Frame rate of the source (keyframe times use it)."),
                io.Combo.Input("frame_policy", options=["trim", "pad", "error"], default="trim",
                               tooltip="RealCam needs 4k+1 frames: trim the end, pad by repeating the last frame, or stop with an error."),
                io.Combo.Input("size_policy", options=["error", "crop", "resize"], default="crop",
                               tooltip="Width and height must be multiples of 16 (Wan2.1) or 32 (Wan2.2): centre-crop, resize, or stop."),
            ],
            outputs=[RealCamLatents.Output(display_name="source"),
                     io.String.Output(display_name="notes", tooltip="What was done to the frames (trimmed, cropped …).")])

    @classmethod
    def execute(cls, vae, images, fps: float, frame_policy: str, size_policy: str) -> io.NodeOutput:
        import comfy.utils

        pbar = comfy.utils.ProgressBar(max(1, images.shape[0]))
        with on_device(vae.model):
            source = encode_video(vae, images, fps=fps, frame_policy=frame_policy, size_policy=size_policy,
                                  progress=lambda i, n: pbar.update_absolute(i, n), should_stop=stop_requested)
        return io.NodeOutput(source, "\n".join(source.notes) or "no changes")


class RealCamDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamDecode", "RealCam Decode",
            "Latents → video frames, streamed chunk by chunk (full VAE) or with the tiny decoder.",
            inputs=[
                RealCamVAE.Input("vae", tooltip="Full Wan VAE or a tiny decoder from vae_approx (same latent family)."),
                RealCamLatents.Input("latents", tooltip="Rendered latents from a RealCam sampler."),
                io.Int.Input("tile", default=0, min=0, max=512, tooltip="Spatial tile size in latent pixels (0 = no tiling). "
                                                                        "Tiles bound memory for large frames."),
                io.Int.Input("overlap", default=8, min=0, max=256, tooltip="Tile overlap in latent pixels, blended linearly."),
            ],
            outputs=[io.Image.Output(display_name="images")])

    @classmethod
    def execute(cls, vae, latents, tile: int, overlap: int) -> io.NodeOutput:
        import comfy.utils

        pbar = comfy.utils.ProgressBar(latents.latent_frames)
        with on_device(vae.model):
            frames = decode_video(vae, latents.latents, tiling=_tiling(tile, overlap),
                                  progress=lambda i, n: pbar.update_absolute(i, n), should_stop=stop_requested)
        return io.NodeOutput(frames.cpu())
