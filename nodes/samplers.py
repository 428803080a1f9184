"""RealCam Teacher Sampler (bidirectional) and Streaming Sampler (causal, chunk by chunk, live)."""
from __future__ import annotations

import comfy.utils
from comfy_api.latest import io

from realcam.live import LIVE_CAMERAS, session_for_run
from realcam.pipeline import SourceVideo, render_stream, render_teacher

from .device import on_device, stop_requested
from .routes import announce_live_session
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
        RealCamTrajectory.Input("source_camera", optional=True,
                                tooltip="Optional: the path the source video was filmed along, relative to its first "
                                        "frame (RealCam Procedural Clip's source_camera, or a Camera Trajectory). "
                                        "Models trained with source cameras (the embedded one) render better knowing "
                                        "it; without it they take the source as filmed from a still camera. Models "
                                        "with pixel_guide_sweep find the depth the source's motion shows from it, for "
                                        "the guide's parallax, unless they carry a depth network (the embedded one), "
                                        "which reads it from the first frame, path or none; with pixel_guide_views "
                                        "nearest (the embedded one) they draw each frame's guide from the source frame "
                                        "filmed nearest its camera. Other models ignore it (with a warning)."),
    ]


FROM_MODEL = "from model"


def _given(value, unset):
    """A widget left at its "from model" value means: use the checkpoint's setting (None to the backend)."""
    return None if value == unset else value


class RealCamTeacherSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamTeacherSampler", "RealCam Teacher Sampler",
            "Offline, high-quality render: the whole clip at once with full attention (RealCam interleave "
            "or ReCamMaster prefix, per the model). Every setting left at 0 / 'from model' comes from the "
            "checkpoint: a RealCam file's own, official Wan's (UniPC, 50 steps, shift 5, CFG 5) for Wan "
            "weights, ReCamMaster's (Euler, 50 steps, shift 5, CFG 5) for ReCamMaster's.",
            inputs=[*_common_inputs(),
                    io.Int.Input("steps", default=0, min=0, max=1000,
                                 tooltip="Sampling steps; 0 = from the model (50 for Wan and ReCamMaster weights)."),
                    io.Float.Input("cfg", default=0.0, min=0.0, max=30.0, step=0.1,
                                   tooltip="Classifier-free guidance; 0 = from the model (5 for Wan/ReCamMaster); "
                                           "1 disables it (half the cost)."),
                    io.Float.Input("shift", default=0.0, min=0.0, max=30.0, step=0.1,
                                   tooltip="Flow-matching schedule shift; 0 = from the model (5; 8–12 suggested for 1.3B)."),
                    io.Combo.Input("scheduler", options=[FROM_MODEL, "unipc", "euler"], default=FROM_MODEL,
                                   tooltip="UniPC multistep (Wan's default) or Euler (ReCamMaster's); 'from model' "
                                           "uses the checkpoint's."),
                    io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=True, tooltip="Noise seed."),
                    io.Combo.Input("grid", options=[FROM_MODEL, "wan", "diffsynth", "diffusers"], default=FROM_MODEL,
                                   tooltip="Where the noise levels sit: 'wan' = official Wan (integer timesteps), "
                                           "'diffsynth' = ReCamMaster's release, 'diffusers' = diffusers' flow UniPC; "
                                           "'from model' uses the checkpoint's.")],
            outputs=[RealCamLatents.Output(display_name="latents")])

    @classmethod
    def execute(cls, model, source, trajectory, text, steps: int, cfg: float, shift: float, scheduler: str,
                seed: int, grid: str = FROM_MODEL, source_camera=None) -> io.NodeOutput:
        sampling = model.sampling.override(steps=_given(steps, 0), guidance=_given(cfg, 0.0), shift=_given(shift, 0.0),
                                           solver=_given(scheduler, FROM_MODEL), grid=_given(grid, FROM_MODEL))
        pbar = comfy.utils.ProgressBar(sampling.steps)
        with on_device(model):
            latents = render_teacher(model, source, trajectory, text, source_camera=source_camera,
                                     steps=sampling.steps, guidance=sampling.guidance,
                                     shift=sampling.shift, solver=sampling.solver, grid=sampling.grid, seed=seed,
                                     progress=lambda i, n: pbar.update_absolute(i, n), should_stop=stop_requested)
        return io.NodeOutput(_target(source, latents))


class RealCamStreamingSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return schema(
            "RealCamStreamingSampler", "RealCam Streaming Sampler",
            "Live render with the causal student: chunk by chunk with a KV cache (sink + rolling window); "
            "every chunk is decoded and previewed the moment it exists; the camera can be steered live. "
            "Every setting left at its 'from model' value (empty, 0, -1) comes from the student checkpoint, "
            "which stores what it was trained with.",
            inputs=[*_common_inputs(),
                    RealCamVAE.Input("vae", tooltip="Decoder for the previews and the output frames "
                                                    "(a tiny vae_approx decoder is fastest)."),
                    io.String.Input("steps", default="", tooltip="Denoising timesteps per chunk before the shift warp, "
                                                                 "e.g. '1000,750,500'; empty = from the model."),
                    io.Int.Input("chunk", default=0, min=0, max=16,
                                 tooltip="Latent frames per chunk (3 = 12 video frames); 0 = from the model."),
                    io.Int.Input("sink", default=-1, min=-1, max=16,
                                 tooltip="Chunks kept for ever at the start of the cache; -1 = from the model."),
                    io.Int.Input("window", default=-1, min=-1, max=64,
                                 tooltip="Most recent previous chunks kept in the cache; -1 = from the model."),
                    io.Float.Input("shift", default=0.0, min=0.0, max=30.0, step=0.1,
                                   tooltip="Shift used to warp the step list; 0 = from the model."),
                    io.Float.Input("context_noise", default=-1.0, min=-1.0, max=1000.0,
                                   tooltip="Timestep of the cache-writing pass (0 = clean); -1 = from the model."),
                    io.Combo.Input("rope", options=[FROM_MODEL, "absolute", "cache_slot"], default=FROM_MODEL,
                                   tooltip="'cache_slot' rotates cached keys by slot: unbounded streams at constant cost. "
                                           "An 'absolute' stream that outgrows the RoPE table switches to 'cache_slot' "
                                           "by itself (and says so)."),
                    io.Int.Input("seed", default=0, min=0, max=2**63 - 1, control_after_generate=True, tooltip="Noise seed."),
                    io.String.Input("live_session", default="", optional=True,
                                    tooltip="Live steering. 'auto': this run gets its own secret session, sent only to "
                                            "the browser that queued it (the camera editor picks it up). A name: POST "
                                            "/realcam/live_camera {session, trajectory} while it runs. Empty: off. "
                                            "Each chunk reads the newest path.")],
            outputs=[io.Image.Output(display_name="images"), RealCamLatents.Output(display_name="latents")],
            hidden=[io.Hidden.unique_id])

    @classmethod
    def execute(cls, model, source, trajectory, text, vae, steps: str, chunk: int, sink: int, window: int, shift: float,
                context_noise: float, rope: str, seed: int, live_session: str = "", source_camera=None) -> io.NodeOutput:
        step_list = None
        if steps.strip():
            try:
                step_list = tuple(float(s) for s in steps.replace(" ", "").split(",") if s)
            except ValueError:
                raise ValueError(f"steps must be comma-separated numbers like '1000,750,500' (or empty: from the "
                                 f"model), got {steps!r}") from None
        config = model.streaming.override(chunk_latent_frames=_given(chunk, 0), sink_chunks=_given(sink, -1),
                                          window_chunks=_given(window, -1), denoising_steps=step_list,
                                          shift=_given(shift, 0.0), context_noise=_given(context_noise, -1.0),
                                          rope_mode=_given(rope, FROM_MODEL))
        c = config.chunk_latent_frames
        pbar = comfy.utils.ProgressBar(max(1, -(-source.latent_frames // c)))

        def on_chunk(ch):
            pbar.update_absolute(ch.index + 1, ch.total, _preview(ch.frames[-1]))

        live = None
        session = session_for_run(live_session)
        if session:  # this run holds the session until it ends (refused if another run holds it)
            LIVE_CAMERAS.open(session, source.video_frames)
            live = lambda first: LIVE_CAMERAS.newest(session, first)  # noqa: E731
            announce_live_session(cls.hidden.unique_id, session)
        try:
            with on_device(model, vae.model):
                result = render_stream(model, source, trajectory, text, config=config, seed=seed, decoder=vae,
                                       on_chunk=on_chunk, should_stop=stop_requested, live_camera=live,
                                       source_camera=source_camera)
        finally:
            if session:  # a path posted for this run must not steer the next one; frees the session
                LIVE_CAMERAS.close(session)
                announce_live_session(cls.hidden.unique_id, None)
        return io.NodeOutput(result.frames.cpu(), _target(source, result.latents))
