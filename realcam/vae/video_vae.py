"""``VideoVAE``: a loaded Wan2.1 / Wan2.2 / tiny VAE with the DiT's latent normalisation, streaming
encode/decode, spatial tiling and the input policy for frame counts and resolutions.

Pixels are ``[B, 3, T, H, W]`` in [0, 1] at this interface (ComfyUI IMAGE batches are ``[T, H, W, 3]``;
:func:`frames_from_image` / :func:`image_from_frames` convert). Latents are the *normalised* latents the
DiT reads: ``(μ − mean) / std``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .layers import StreamState
from .taehv import TinyVAE

Kind = Literal["wan2.1", "wan2.2", "taehv-wan2.1", "taehv-wan2.2"]
FramePolicy = Literal["trim", "pad", "error"]
SizePolicy = Literal["error", "crop", "resize"]


@dataclass(frozen=True)
class Tiling:
    """Spatial tiles in *latent* pixels, overlapping by ``overlap`` and blended linearly."""

    tile: int = 32
    overlap: int = 8

    def __post_init__(self) -> None:
        if self.tile <= 0 or not 0 <= self.overlap < self.tile:
            raise ValueError(f"tiling needs tile > overlap >= 0, got tile={self.tile}, overlap={self.overlap}")


def _tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def _ramp(n: int, start: int, end: int, size: int, overlap: int) -> torch.Tensor:
    """1-D blend weights of a tile covering [start, end) of ``size``: linear ramps over the overlaps."""
    w = torch.ones(n)
    if overlap > 0:
        r = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if start > 0:
            w[:overlap] = r
        if end < size:
            w[-overlap:] = torch.minimum(w[-overlap:], r.flip(0))
    return w


@dataclass
class _Tile:
    y0: int
    x0: int
    y1: int
    x1: int
    state: StreamState = field(default_factory=StreamState)


class VideoVAE(nn.Module):
    """One of the supported VAEs behind a single interface (see module docstring)."""

    def __init__(self, model: nn.Module, kind: Kind) -> None:
        super().__init__()
        self.model, self.kind = model, kind
        self.tiny = isinstance(model, TinyVAE)

    # facts --------------------------------------------------------------------------------------------------
    @property
    def latent_channels(self) -> int:
        return self.model.latent_channels if self.tiny else self.model.z_dim

    @property
    def spatial_stride(self) -> int:
        return self.model.spatial_stride * self.model.patch if self.tiny else self.model.spatial_stride

    temporal_stride = 4

    @property
    def family(self) -> str:
        """The DiT latent space this VAE reads/writes: ``wan2.1`` (16 ch) or ``wan2.2`` (48 ch)."""
        return "wan2.2" if self.latent_channels == 48 else "wan2.1"

    @property
    def can_encode(self) -> bool:
        return not self.tiny or self.model.encoder is not None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def check_model(self, dit_cfg) -> None:
        """Raise if this VAE's latents are not what the DiT config reads."""
        if dit_cfg.in_dim != self.latent_channels:
            want = "Wan2.2 VAE (48 channels)" if dit_cfg.in_dim == 48 else "Wan2.1 VAE (16 channels)"
            raise ValueError(f"this VAE ({self.kind}) makes {self.latent_channels}-channel latents but the model "
                             f"{dit_cfg.name} reads {dit_cfg.in_dim}: choose the {want}")

    # normalisation --------------------------------------------------------------------------------------------
    def _normalise(self, mu: torch.Tensor) -> torch.Tensor:
        m, s = self.model.latent_mean.view(1, -1, 1, 1, 1), self.model.latent_std.view(1, -1, 1, 1, 1)
        return (mu - m.to(mu)) / s.to(mu)

    def _denormalise(self, z: torch.Tensor) -> torch.Tensor:
        m, s = self.model.latent_mean.view(1, -1, 1, 1, 1), self.model.latent_std.view(1, -1, 1, 1, 1)
        return z * s.to(z) + m.to(z)

    # one chunk through one state (the primitives) ---------------------------------------------------------------
    def _encode_chunk(self, frames01: torch.Tensor, state: StreamState, final: bool) -> torch.Tensor:
        x = frames01.to(self.device, self.dtype)
        if self.tiny:
            return self.model.encode_frames(x, state, final=final)
        return self._normalise(self.model.encode_frames(x * 2 - 1, state))

    def _decode_chunk(self, latents: torch.Tensor, state: StreamState) -> torch.Tensor:
        z = latents.to(self.device, self.dtype)
        if self.tiny:
            return self.model.decode_latents(z, state).clamp(0, 1)
        return ((self.model.decode_latents(self._denormalise(z), state).clamp(-1, 1) + 1) / 2)

    # whole clips ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, frames: torch.Tensor, tiling: Tiling | None = None,
               progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Frames ``[B, 3, 1+4k, H, W]`` in [0, 1] → normalised latents ``[B, C, 1+k, H/s, W/s]``.
        ``progress(frames_done, frames_total)`` is called after each piece (it may raise to stop the work)."""
        stream = self.encode_stream(tiling)
        step = 12  # frames per push after the first: bounds the working memory
        total = frames.shape[2]
        parts = []
        for lo, hi in [(0, 1), *((i, min(i + step, total)) for i in range(1, total, step))]:
            parts.append(stream.push(frames[:, :, lo:hi]))
            if progress is not None:
                progress(hi, total)
        tail = stream.finish()
        return torch.cat(parts + ([] if tail is None else [tail]), dim=2)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, tiling: Tiling | None = None, chunk: int = 3) -> torch.Tensor:
        """Normalised latents ``[B, C, t, h, w]`` → frames ``[B, 3, 1+4(t−1), h·s, w·s]`` in [0, 1],
        decoded ``chunk`` latent frames at a time so memory does not grow with the clip."""
        stream = self.decode_stream(tiling)
        return torch.cat([stream.push(latents[:, :, i:i + chunk]) for i in range(0, latents.shape[2], chunk)], dim=2)

    def encode_stream(self, tiling: Tiling | None = None) -> "EncodeStream":
        if not self.can_encode:
            raise ValueError(f"{self.kind} file has no encoder; use the full Wan VAE to encode the source video")
        return EncodeStream(self, tiling)

    def decode_stream(self, tiling: Tiling | None = None) -> "DecodeStream":
        return DecodeStream(self, tiling)


class _Tiled:
    """Runs a per-chunk primitive over spatial tiles, each with its own stream state, and blends."""

    def __init__(self, vae: VideoVAE, tiling: Tiling | None, in_scale: int, out_scale: float) -> None:
        self.vae, self.tiling = vae, tiling
        self.in_scale, self.out_scale = in_scale, out_scale  # input px per latent px, output px per latent px
        self.tiles: list[_Tile] | None = None
        self.size: tuple[int, int] | None = None

    def _layout(self, h: int, w: int) -> list[_Tile]:
        if self.tiling is None:
            return [_Tile(0, 0, h, w)]
        t, o = self.tiling.tile, self.tiling.overlap
        return [_Tile(y, x, min(y + t, h), min(x + t, w)) for y in _tile_starts(h, t, o) for x in _tile_starts(w, t, o)]

    def run(self, x: torch.Tensor, fn) -> torch.Tensor:
        s = self.in_scale
        h, w = x.shape[-2] // s, x.shape[-1] // s      # in latent pixels
        if self.tiles is None:
            self.size, self.tiles = (h, w), self._layout(h, w)
        elif self.size != (h, w):
            raise ValueError(f"a stream cannot change frame size: started at {self.size}, got {(h, w)} (latent px)")
        if len(self.tiles) == 1:
            return fn(x, self.tiles[0].state)
        out = weight = None
        o, k = self.tiling.overlap, self.out_scale
        for tile in self.tiles:
            y = fn(x[..., tile.y0 * s:tile.y1 * s, tile.x0 * s:tile.x1 * s], tile.state)
            if out is None:
                out = y.new_zeros(*y.shape[:3], round(h * k), round(w * k))
                weight = y.new_zeros(round(h * k), round(w * k))
            wy = _ramp(y.shape[-2], tile.y0, tile.y1, h, round(o * k)).to(y)
            wx = _ramp(y.shape[-1], tile.x0, tile.x1, w, round(o * k)).to(y)
            wt = wy[:, None] * wx[None, :]
            ys, xs = slice(round(tile.y0 * k), round(tile.y1 * k)), slice(round(tile.x0 * k), round(tile.x1 * k))
            out[..., ys, xs] += y * wt
            weight[ys, xs] += wt
        return out / weight


class EncodeStream:
    """Encode frames as they arrive: the first frame alone, then groups of 4 (Wan causality).

    ``push`` returns the latents that became available (possibly zero frames). ``finish`` closes the
    stream: the tiny encoder pads its last group by repeating the last frame; the Wan VAEs drop an
    incomplete final group (``dropped_frames`` says how many; use the frame policy to avoid it).
    """

    def __init__(self, vae: VideoVAE, tiling: Tiling | None) -> None:
        self.vae = vae
        self.tiled = _Tiled(vae, tiling, in_scale=vae.spatial_stride, out_scale=1.0)
        self.pending: torch.Tensor | None = None
        self.frames_in = 0
        self.started = False
        self.dropped_frames = 0
        self._last: torch.Tensor | None = None

    @torch.no_grad()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        _check_frames(frames, self.vae.spatial_stride)
        self.frames_in += frames.shape[2]
        if self.vae.tiny:
            self._last = frames[:, :, -1:]
            return self.tiled.run(frames, lambda x, st: self.vae._encode_chunk(x, st, final=False))
        x = frames if self.pending is None else torch.cat([self.pending, frames], dim=2)
        take = 0
        if not self.started:
            take = 1 + (x.shape[2] - 1) // 4 * 4
            self.started = True
        else:
            take = x.shape[2] // 4 * 4
        self.pending = x[:, :, take:] if take < x.shape[2] else None
        if take == 0:
            return x.new_zeros(x.shape[0], self.vae.latent_channels, 0, x.shape[3] // self.vae.spatial_stride,
                               x.shape[4] // self.vae.spatial_stride)
        return self.tiled.run(x[:, :, :take], lambda c, st: self.vae._encode_chunk(c, st, final=False))

    @torch.no_grad()
    def finish(self) -> torch.Tensor | None:
        if self.vae.tiny:
            if self._last is None or self.frames_in % 4 == 0:
                return None
            # repeat the last frame to complete the group (what the reference encoder does)
            pad = self._last.expand(-1, -1, 4 - self.frames_in % 4, -1, -1)
            return self.tiled.run(pad, lambda x, st: self.vae._encode_chunk(x, st, final=False))
        self.dropped_frames = 0 if self.pending is None else self.pending.shape[2]
        if self.dropped_frames:
            warnings.warn(f"the last {self.dropped_frames} frames do not fill a group of 4 and were not encoded",
                          stacklevel=2)
        self.pending = None
        return None


class DecodeStream:
    """Decode latents chunk by chunk (e.g. 3 latent frames at a time); ``push`` returns their frames."""

    def __init__(self, vae: VideoVAE, tiling: Tiling | None) -> None:
        self.vae = vae
        self.tiled = _Tiled(vae, tiling, in_scale=1, out_scale=vae.spatial_stride)
        self.latents_in = 0

    @torch.no_grad()
    def push(self, latents: torch.Tensor) -> torch.Tensor:
        if latents.ndim != 5 or latents.shape[1] != self.vae.latent_channels:
            raise ValueError(f"latents must be [B, {self.vae.latent_channels}, t, h, w] for this {self.vae.kind} VAE, "
                             f"got {tuple(latents.shape)}")
        self.latents_in += latents.shape[2]
        return self.tiled.run(latents, self.vae._decode_chunk)

    @property
    def state_bytes(self) -> int:
        return sum(t.state.nbytes for t in (self.tiled.tiles or []))


def _check_frames(frames: torch.Tensor, stride: int) -> None:
    if frames.ndim != 5 or frames.shape[1] != 3:
        raise ValueError(f"frames must be [B, 3, T, H, W] RGB in [0, 1], got {tuple(frames.shape)}")
    h, w = frames.shape[-2:]
    if h % stride or w % stride:
        raise ValueError(f"frame size {w}x{h} is not a multiple of {stride}; use the size policy (crop or resize)")


# --- input policy ---------------------------------------------------------------------------------------------

@dataclass
class PreparedVideo:
    frames: torch.Tensor   # [B, 3, T, H, W] in [0, 1]
    notes: list[str]


def prepare_frames(frames: torch.Tensor, *, multiple: int, frame_policy: FramePolicy = "trim",
                   size_policy: SizePolicy = "error") -> PreparedVideo:
    """Make a clip fit a Wan VAE + DiT: 4k+1 frames, width/height multiples of ``multiple`` pixels.

    ``frame_policy``: ``trim`` drops trailing frames to the nearest 4k+1 (default), ``pad`` repeats the
    last frame up to the next 4k+1, ``error`` refuses. ``size_policy``: ``error`` (default) refuses,
    ``crop`` centre-crops down to multiples, ``resize`` resizes (area) to the nearest multiples.
    Each change made is described in ``notes``.
    """
    notes: list[str] = []
    if frames.ndim != 5 or frames.shape[1] != 3:
        raise ValueError(f"frames must be [B, 3, T, H, W], got {tuple(frames.shape)}")
    if not torch.isfinite(frames).all():
        raise ValueError("frames contain NaN or inf")
    t = frames.shape[2]
    if (t - 1) % 4:
        lower, upper = (t - 1) // 4 * 4 + 1, ((t - 1) // 4 + 1) * 4 + 1
        if frame_policy == "error":
            raise ValueError(f"video has {t} frames; RealCam needs 4k+1 frames (e.g. {lower} or {upper}): "
                             "trim or pad it, or choose frame_policy 'trim' or 'pad'")
        if frame_policy == "trim":
            frames = frames[:, :, :lower]
            notes.append(f"video had {t} frames; RealCam needs 4k+1 frames — trimmed to {lower}")
        else:
            frames = torch.cat([frames, frames[:, :, -1:].expand(-1, -1, upper - t, -1, -1)], dim=2)
            notes.append(f"video had {t} frames; RealCam needs 4k+1 frames — padded to {upper} by repeating the last frame")
    h, w = frames.shape[-2:]
    if h % multiple or w % multiple:
        if size_policy == "error":
            raise ValueError(f"frame size {w}x{h} is not a multiple of {multiple} pixels; choose size_policy "
                             f"'crop' (to {w // multiple * multiple}x{h // multiple * multiple}) or 'resize'")
        if size_policy == "crop":
            nh, nw = h // multiple * multiple, w // multiple * multiple
            if nh == 0 or nw == 0:
                raise ValueError(f"frame size {w}x{h} is smaller than {multiple} pixels")
            y0, x0 = (h - nh) // 2, (w - nw) // 2
            frames = frames[..., y0:y0 + nh, x0:x0 + nw]
            notes.append(f"centre-cropped {w}x{h} to {nw}x{nh} (multiples of {multiple})")
        else:
            nearest = lambda n: max(multiple, int(n / multiple + 0.5) * multiple)  # noqa: E731 (halves round up)
            nh, nw = nearest(h), nearest(w)
            b, c, tt = frames.shape[:3]
            flat = frames.transpose(1, 2).flatten(0, 1)
            flat = F.interpolate(flat, size=(nh, nw), mode="area" if nh <= h and nw <= w else "bilinear",
                                 **({} if nh <= h and nw <= w else {"align_corners": False}))
            frames = flat.unflatten(0, (b, tt)).transpose(1, 2).clamp(0, 1)
            notes.append(f"resized {w}x{h} to {nw}x{nh} (multiples of {multiple})")
    return PreparedVideo(frames, notes)


def frames_from_image(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE ``[T, H, W, 3]`` → ``[1, 3, T, H, W]``."""
    return image.permute(3, 0, 1, 2)[None]


def image_from_frames(frames: torch.Tensor) -> torch.Tensor:
    """``[B, 3, T, H, W]`` → ComfyUI IMAGE ``[B·T, H, W, 3]``."""
    return frames.permute(0, 2, 3, 4, 1).flatten(0, 1)


__all__ = ["VideoVAE", "Tiling", "EncodeStream", "DecodeStream", "prepare_frames", "PreparedVideo",
           "frames_from_image", "image_from_frames"]
