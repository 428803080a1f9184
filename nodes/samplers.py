"""RealCam Teacher Sampler (bidirectional) and Streaming Sampler (causal, chunk by chunk, live)."""
from __future__ import annotations

import comfy.utils
from comfy_api.latest import io

from realcam.config import StreamingConfig
from realcam.live import LIVE_CAMERAS
from realcam.pipeline import SourceVideo, render_stream, render_teacher

from .device import on_device, stop_requested
from .types import schema, RealCamLatents, RealCamModel, RealCamText, RealCamTrajectory, RealCamVAE

PREVIEW_SIZE = 512


def _target(source: SourceVideo, latents) -> SourceVideo:
    return SourceVideo(latents.detach().cpu(), source.video_frames, source.height, source.width, source.fps, source.family)


def _preview(frame):
    from PIL import Image

    return ("JPEG", Image.fromarray((frame.clamp(0, 1) * 255).byte().cpu().numpy()), PREVIEW_SIZE)


def _common_inputs():
    return [
        RealCamModel.Input("model", tooltip="From RealCam Model Loader."),
        RealCamLatents.Input("source", tooltip="Source video latents from RealCam Video Encode."),
        RealCamTrajectory.Input("trajectory", tooltip="Camera path from RealCam Camera Trajectory (re-sampled to the video's length)."),
        RealCamText.Input("text", tooltip="From RealCam Text."),
    ]


class RealCamTeacherSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamTeacherSampler", "RealCam Teacher Sampler",
            "Offline, high-quality render: the whole clip at once with full attention (RealCam interleave "
            "or ReCamMaster prefix, per the model).",
            inputs=[*_common_inputs(),
                    io.Int.Input("steps", default=50, min=1, max=1000, tooltip="Sampling steps (Wan default 50)."),
                    io.Float.Input("cfg", default=5.0, min=1.0, max=30.0, step=0.1, tooltip="Classifier-free guidance; 1 disables it (half the cost)."),
                    io.Float.Input("shift", default=5.0, min=0.1, max=30.0, step=0.1, tooltip="Flow-matching schedule shift (5; 8–12 suggested for 1.3B)."),
                    io.Combo.Input("scheduler", options=["unipc", "euler"], default="unipc", tooltip="UniPC multistep (Wan's default) or Euler."),
                    io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=True, tooltip="Noise seed.")],
            outputs=[RealCamLatents.Output(display_name="latents")])

    @classmethod
    def execute(cls, model, source, trajectory, text, steps: int, cfg: float, shift: float, scheduler: str,
                seed: int) -> io.NodeOutput:
        pbar = comfy.utils.ProgressBar(steps)
        with on_device(model):
            latents = render_teacher(model, source, trajectory, text, steps=steps, guidance=cfg, shift=shift,
                                     solver=scheduler, seed=seed, progress=lambda i, n: pbar.update_absolute(i, n),
                                     should_stop=stop_requested)
        return io.NodeOutput(_target(source, latents))


class RealCamStreamingSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamStreamingSampler", "RealCam Streaming Sampler",
            "Live render with the causal student: chunk by chunk with a KV cache (sink + rolling window); "
            "every chunk is decoded and previewed the moment it exists; the camera can be steered live.",
            inputs=[*_common_inputs(),
                    RealCamVAE.Input("vae", tooltip="Decoder for the previews and the output frames (a tiny vae_approx decoder is fastest)."),
                    io.String.Input("steps", default="1000,750,500", tooltip="Denoising timesteps per chunk before the shift warp (few-step student)."),
                    io.Int.Input("chunk", default=3, min=1, max=16, tooltip="Latent frames per chunk (3 = 12 video frames)."),
                    io.Int.Input("sink", default=1, min=0, max=16, tooltip="Chunks kept for ever at the start of the cache."),
                    io.Int.Input("window", default=5, min=0, max=64, tooltip="Most recent previous chunks kept in the cache."),
                    io.Float.Input("shift", default=5.0, min=0.1, max=30.0, step=0.1, tooltip="Shift used to warp the step list."),
                    io.Float.Input("context_noise", default=0.0, min=0.0, max=1000.0, tooltip="Timestep of the cache-writing pass (0 = clean)."),
                    io.Combo.Input("rope", options=["absolute", "cache_slot"], default="absolute",
                                   tooltip="'cache_slot' rotates cached keys by slot: unbounded streams at constant cost."),
                    io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=True, tooltip="Noise seed."),
                    io.String.Input("live_session", default="", optional=True,
                                    tooltip="Session id for live steering: POST /realcam/live_camera {session, trajectory} "
                                            "while it runs; each chunk reads the newest path.")],
            outputs=[io.Image.Output(display_name="images"), RealCamLatents.Output(display_name="latents")])

    @classmethod
    def execute(cls, model, source, trajectory, text, vae, steps: str, chunk: int, sink: int, window: int, shift: float,
                context_noise: float, rope: str, seed: int, live_session: str = "") -> io.NodeOutput:
        try:
            step_list = tuple(float(s) for s in steps.replace(" ", "").split(",") if s)
        except ValueError:
            raise ValueError(f"steps must be comma-separated numbers like '1000,750,500', got {steps!r}") from None
        config = StreamingConfig(chunk_latent_frames=chunk, sink_chunks=sink, window_chunks=window,
                                 denoising_steps=step_list, shift=shift, context_noise=context_noise, rope_mode=rope)
        pbar = comfy.utils.ProgressBar(max(1, -(-source.latent_frames // chunk)))

        def on_chunk(ch):
            pbar.update_absolute(ch.index + 1, ch.total, _preview(ch.frames[-1]))

        live = None
        if live_session:
            live = lambda first: LIVE_CAMERAS.newest(live_session, source.video_frames, first)  # noqa: E731
        with on_device(model, vae.model):
            result = render_stream(model, source, trajectory, text, config=config, seed=seed, decoder=vae,
                                   on_chunk=on_chunk, should_stop=stop_requested, live_camera=live)
        return io.NodeOutput(result.frames.cpu(), _target(source, result.latents))
