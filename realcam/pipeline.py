"""End-to-end render APIs: what the ComfyUI nodes and the command line call.

- :func:`encode_video` — frames → :class:`SourceVideo` (latents, with the input policy applied);
- :func:`text_context` — umT5 context (or the empty-text stand-in) → :class:`TextContext`;
- :func:`render_teacher` — bidirectional teacher: all target latents at once;
- :func:`render_stream` — causal student: chunk by chunk, each chunk decoded and handed to a callback
  the moment it exists, with the camera re-read before every chunk (live steering);
- :func:`decode_video` — latents → frames.

Frames are ``[F, H, W, 3]`` float in [0, 1] (ComfyUI's IMAGE layout).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch

from .camera.poses import pose12 as flat_poses
from .camera.trajectory import Trajectory
from .config import StreamingConfig
from .guide import PixelGuide, key_frames, motion_frames
from .model import RealCamDiT
from .sampling import Interrupted, StreamingSession, sample_teacher
from .vae import Tiling, VideoVAE, frames_from_image, image_from_frames, prepare_frames

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


@dataclass
class SourceVideo:
    """Source latents ready for the DiT, and what was done to the frames to get there."""

    latents: torch.Tensor          # [1, C, f, h, w] normalised
    video_frames: int              # 4k+1
    height: int
    width: int
    fps: float
    family: str                    # "wan2.1" | "wan2.2"
    notes: list[str] = field(default_factory=list)
    # the first frame as the VAE encoded it ([1, 3, H, W] in [0, 1]) and that VAE: a model with
    # conditioning.pixel_guide_depth reads a guide made from it (realcam.guide); None for latents from elsewhere
    first_frame: torch.Tensor | None = field(default=None, repr=False)
    vae: VideoVAE | None = field(default=None, repr=False)
    # the frames, small and as bytes (realcam.guide.motion_frames): a model with conditioning.pixel_guide_sweep
    # estimates the first frame's depth from them when the source's camera path is given
    motion: torch.Tensor | None = field(default=None, repr=False)
    # the frames each latent frame starts at (realcam.guide.latent_starts), as bytes [K, 3, H, W]: a model with
    # conditioning.pixel_guide_views "nearest" may draw its guide from them
    key_frames: torch.Tensor | None = field(default=None, repr=False)

    @property
    def latent_frames(self) -> int:
        return self.latents.shape[2]


@dataclass
class TextContext:
    context: torch.Tensor                  # [1, L, text_dim]
    negative: torch.Tensor | None = None   # for CFG (teacher)
    description: str = ""


def check_pixels(image: torch.Tensor, what: str = "video") -> None:
    """Frames must be float pixels in [0, 1] (a ComfyUI IMAGE): 0..255, uint8 or −1..1 videos are refused with
    the conversion to make, not rendered as if they were in range."""
    if image.shape[0] == 0:
        raise ValueError(f"{what}: the video has no frames")
    if not image.is_floating_point():
        raise ValueError(f"{what}: pixels are {str(image.dtype).replace('torch.', '')}; RealCam reads float pixels in "
                         "[0, 1] (a ComfyUI IMAGE): divide 0..255 values by 255")
    if not bool(torch.isfinite(image).all()):
        raise ValueError(f"{what}: pixels contain NaN or infinity")
    lo, hi = (float(v) for v in torch.aminmax(image.float()))
    if lo < -1e-3 or hi > 1 + 1e-3:
        hint = ("divide 0..255 values by 255" if hi > 1.5 and lo >= -1e-3 else
                "map −1..1 values with (x + 1) / 2" if lo >= -1 - 1e-3 and hi <= 1 + 1e-3 else "rescale them")
        raise ValueError(f"{what}: pixels span [{lo:.3g}, {hi:.3g}]; RealCam reads [0, 1]: {hint}")


def encode_video(vae: VideoVAE, image: torch.Tensor, *, fps: float = 16.0, frame_policy: str = "trim",
                 size_policy: str = "error", tiling: Tiling | None = None, progress: ProgressFn | None = None,
                 should_stop: StopFn | None = None) -> SourceVideo:
    """Frames ``[F, H, W, 3]`` → source latents. Sizes must be multiples of the VAE stride × 2 (the DiT
    patch); the policies trim/pad frames to 4k+1 and crop/resize sizes, saying what they did.
    ``progress(frames_done, frames_total)`` after each piece; ``should_stop`` is polled between pieces."""
    if image.ndim != 4 or image.shape[-1] != 3:
        raise ValueError(f"expected an IMAGE batch [frames, height, width, 3], got {tuple(image.shape)}")
    check_pixels(image)
    prepared = prepare_frames(frames_from_image(image.float()), multiple=2 * vae.spatial_stride,
                              frame_policy=frame_policy, size_policy=size_policy)
    def step(done: int, total: int) -> None:
        if progress is not None:
            progress(done, total)
        if should_stop is not None and should_stop() and done < total:
            raise Interrupted(f"encoding interrupted at frame {done} of {total}")
    latents = vae.encode(prepared.frames, tiling=tiling, progress=step)
    _, _, f, h, w = prepared.frames.shape
    return SourceVideo(latents, f, h, w, fps, vae.family, prepared.notes,
                       first_frame=prepared.frames[:, :, 0].detach().cpu().clone(), vae=vae,
                       motion=motion_frames(prepared.frames), key_frames=key_frames(prepared.frames, vae.tiny))


def text_context(model: RealCamDiT, conditioning: torch.Tensor | None = None,
                 negative: torch.Tensor | None = None) -> TextContext:
    """umT5 contexts ``[1, L, text_dim]`` (ComfyUI CONDITIONING tensors), or the empty-text stand-in.

    Without a text encoder, the context is a single zero token: the model then runs with no text
    guidance (documented; a real empty-prompt umT5 context is better when available).
    """
    dim = model.cfg.text_dim

    def check(t: torch.Tensor, name: str) -> torch.Tensor:
        if t.ndim != 3 or t.shape[-1] != dim:
            raise ValueError(f"{name} context is {tuple(t.shape)} but {model.cfg.name} reads umT5 contexts of width "
                             f"{dim}: use a CLIPLoader of type 'wan' (umt5_xxl) + CLIPTextEncode, or the empty text")
        return t[:1]
    empty = torch.zeros(1, 1, dim)
    if conditioning is None:
        return TextContext(empty, empty, "empty text")
    return TextContext(check(conditioning, "text"), check(negative, "negative") if negative is not None else empty,
                       "umT5 text")


def _check_pair(model: RealCamDiT, source: SourceVideo) -> None:
    if source.latents.shape[1] != model.cfg.in_dim:
        want = "Wan2.2 VAE (48 channels)" if model.cfg.in_dim == 48 else "Wan2.1 VAE (16 channels)"
        raise ValueError(f"the source was encoded with a {source.family} VAE ({source.latents.shape[1]} channels) but "
                         f"{model.cfg.name} reads {model.cfg.in_dim}: encode it with the {want}")
    trained, size = model.trained_latent_size, tuple(source.latents.shape[-2:])
    if trained is not None and trained != size:
        warnings.warn(f"this model was trained on {trained[0]}x{trained[1]} latents (the checkpoint says so) and runs "
                      f"on {size[0]}x{size[1]}: expect garbage; resize the video to its training size", stacklevel=3)


def _poses(model: RealCamDiT, trajectory: Trajectory, source: SourceVideo) -> torch.Tensor:
    traj = trajectory.at_length(source.video_frames)
    return traj.pose12(model.conditioning.pose_reference)[None].to(model.device, model.dtype)


def _source_poses(model: RealCamDiT, source_camera: Trajectory | None, source: SourceVideo) -> torch.Tensor | None:
    """The source's own path as the model reads it, relative to its first camera; None when not given, or (with a
    warning) when the model does not read one."""
    if source_camera is None:
        return None
    if not (model.camera_layers and model.conditioning.source_cameras):
        if model.camera_layers and model.conditioning.pixel_guide_sweep:
            return None             # read only by the pixel guide (its depth from the source's motion)
        warnings.warn("source_camera is ignored: this model is not conditioned on the source's cameras (its checkpoint "
                      "has no source_cameras option); only RealCam checkpoints trained with it read the path",
                      stacklevel=3)
        return None
    try:
        path = source_camera.at_length(source.video_frames)
    except ValueError as e:
        raise ValueError(f"source_camera: {e}") from None
    return path.pose12("first")[None].to(model.device, model.dtype)


def _pixel_guide(model: RealCamDiT, source: SourceVideo, source_camera: Trajectory | None) -> PixelGuide | None:
    """The guide a model with ``pixel_guide_depth`` reads, made from the source's first frame with its VAE (with
    ``pixel_guide_sweep``, through the depth the source's motion along ``source_camera`` shows, when given)."""
    if not model.camera_layers:
        return None
    path = None
    if source_camera is not None and model.conditioning.pixel_guide_sweep and source.motion is not None:
        try:
            path = flat_poses(source_camera.at_length(source.video_frames).relative().c2w)   # every frame, not latents
        except ValueError as e:
            raise ValueError(f"source_camera: {e}") from None
    try:
        return PixelGuide.for_model(model, source.vae, source.first_frame, source_frames=source.motion, source_pose12=path,
                                    key_frames=source.key_frames)
    except ValueError as e:
        raise ValueError(f"{e} (these latents came without their first frame: a render's output cannot be the source "
                         "of this model; decode it and encode the frames)" if source.first_frame is None else str(e)) from None


def render_teacher(model: RealCamDiT, source: SourceVideo, trajectory: Trajectory, text: TextContext, *,
                   source_camera: Trajectory | None = None, steps: int | None = None,
                   guidance: float | None = None, shift: float | None = None,
                   solver: str | None = None, grid: str | None = None, seed: int = 0,
                   progress: ProgressFn | None = None, should_stop: StopFn | None = None) -> torch.Tensor:
    """Target latents ``[1, C, f, h, w]`` from the bidirectional teacher. Sampling settings left at None
    come from the model (``model.sampling``: the checkpoint's own, or its reference's defaults).
    ``source_camera``: the source video's own camera path, when known, in the frame the target ``trajectory``
    is given in (read by models conditioned on source cameras; without it the source counts as held still)."""
    _check_pair(model, source)
    pose12 = _poses(model, trajectory, source) if model.camera_layers else None
    guide = _pixel_guide(model, source, source_camera)
    pixels = None
    strength = model.guide_strength(guide is not None and guide.swept)
    if guide is not None:
        target = trajectory.at_length(source.video_frames).pose12("first")[None]
        pixels = guide.encode(target)
        # conditioning.pixel_guide_agreement: the strength per latent value, where the guide's two views agree
        per_value = guide.strengths(target, 0, tuple(pixels.shape[-2:]), strength,
                                    model.conditioning.pixel_guide_agreement)
        strength = strength if per_value is None else per_value
    return sample_teacher(model, source.latents, text.context, pose12=pose12, negative_context=text.negative,
                          source_pose12=_source_poses(model, source_camera, source), pixel_guide=pixels,
                          steps=steps, shift=shift, guidance=guidance, solver=solver, grid=grid, seed=seed,
                          progress=None if progress is None else (lambda i, n, x0: progress(i, n)),
                          should_stop=should_stop, guide_strength=strength)


@dataclass
class StreamChunk:
    index: int
    total: int
    latents: torch.Tensor              # [1, C, chunk, h, w]
    frames: torch.Tensor | None        # [n, H, W, 3] decoded frames of this chunk (None without a decoder)
    wall_time_s: float                 # generation + decode


@dataclass
class StreamResult:
    latents: torch.Tensor              # [1, C, f, h, w]
    frames: torch.Tensor | None        # [F, H, W, 3]
    chunks: list[StreamChunk]
    notes: list[str]


def render_stream(model: RealCamDiT, source: SourceVideo, trajectory: Trajectory, text: TextContext, *,
                  config: StreamingConfig | None = None, seed: int = 0, decoder: VideoVAE | None = None,
                  on_chunk: Callable[[StreamChunk], None] | None = None, should_stop: StopFn | None = None,
                  live_camera: Callable[[int], torch.Tensor | None] | None = None,
                  source_camera: Trajectory | None = None) -> StreamResult:
    """Stream the whole source through the causal student, chunk by chunk.

    ``live_camera(first_latent_frame)`` is polled before each chunk; when it returns absolute
    camera-to-world poses (latent frames from that one on), they replace the rest of the path.
    ``should_stop`` is polled between chunks and raises :class:`Interrupted`: nothing partial is returned.
    ``source_camera``: the source's own camera path when known (as for :func:`render_teacher`).
    """
    _check_pair(model, source)
    config = config or model.streaming
    c = config.chunk_latent_frames
    f = source.latent_frames
    notes: list[str] = []
    latents = source.latents
    if f % c:
        pad = c - f % c
        latents = torch.cat([latents, latents[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2)
        notes.append(f"{f} latent frames are not a multiple of the chunk ({c}): the last source latent was repeated "
                     f"{pad}x for the final chunk and the extra output trimmed")
    path = trajectory.at_length(source.video_frames).latent_c2w()
    session = StreamingSession(model, text.context, config=config, source=latents, camera=path, seed=seed,
                               source_pose12=_source_poses(model, source_camera, source),
                               pixel_guide=_pixel_guide(model, source, source_camera))
    stream = decoder.decode_stream() if decoder is not None else None
    total = latents.shape[2] // c
    chunks: list[StreamChunk] = []
    frames: list[torch.Tensor] = []
    for i in range(total):
        if should_stop is not None and should_stop():
            raise Interrupted(f"streaming interrupted before chunk {i + 1} of {total}")
        if live_camera is not None:
            newest = live_camera(i * c)
            if newest is not None:
                session.set_camera(newest)
        t0 = time.perf_counter()
        result = session.step()
        keep = min(c, f - i * c)
        chunk_latents = result.latents[:, :, :keep]
        chunk_frames = None
        if stream is not None:
            chunk_frames = image_from_frames(stream.push(chunk_latents))
            frames.append(chunk_frames)
        chunk = StreamChunk(i, total, chunk_latents, chunk_frames, time.perf_counter() - t0)
        chunks.append(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
    out = torch.cat([ch.latents for ch in chunks], dim=2)
    return StreamResult(out, torch.cat(frames) if frames else None, chunks, notes + session.notes)


def decode_video(vae: VideoVAE, latents: torch.Tensor, *, tiling: Tiling | None = None,
                 progress: ProgressFn | None = None, should_stop: StopFn | None = None, chunk: int = 3) -> torch.Tensor:
    """Latents ``[1, C, f, h, w]`` → frames ``[F, H, W, 3]``, streamed ``chunk`` latents at a time."""
    if latents.shape[1] != vae.latent_channels:
        raise ValueError(f"latents have {latents.shape[1]} channels but this {vae.kind} VAE decodes {vae.latent_channels}: "
                         f"use the {'Wan2.2' if latents.shape[1] == 48 else 'Wan2.1'} VAE (or its tiny decoder)")
    stream = vae.decode_stream(tiling)
    out = []
    total = latents.shape[2]
    for i in range(0, total, chunk):
        if should_stop is not None and should_stop():
            raise Interrupted("decoding interrupted")
        out.append(image_from_frames(stream.push(latents[:, :, i:i + chunk])))
        if progress is not None:
            progress(min(i + chunk, total), total)
    return torch.cat(out)
