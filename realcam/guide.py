"""The guide built from the source's pixels (``ConditioningConfig.pixel_guide_depth``).

The source's first video frame, reprojected on pixels from the reference camera (where the source and the
target path start) into every target camera through a plane, then encoded by the VAE: a guide that keeps the
picture's detail, where resampling latents (``source_warp``) blurs it (docs/results.md, "What limits the tiny
model"). The DiT never sees a VAE, so the guide is made here, by whoever holds the VAE: the pipeline at render
time, ``python -m realcam pixel-guides`` for training data.

Latent frame ``k`` of the guide is the VAE's encoding of the picture seen from target camera ``k``, held for the
video frames that latent frame covers: four for the tiny (TAEHV) encoder, whose latent ``k`` covers frames
``4k..4k+3``; one for latent 0 of a causal Wan VAE, then four. A stream encodes it chunk by chunk with the VAE's
own encode stream, so a streamed guide is the whole-path guide cut into chunks, and the camera can change before
every chunk.
"""
from __future__ import annotations

import torch

from .camera.rays import warp_latents
from .vae import VideoVAE

TIME_STRIDE = 4     # video frames per latent frame (both VAE families)


class PixelGuide:
    """``first_frame`` ``[B, 3, H, W]`` in [0, 1] (the source's first frame as the VAE encodes it), reprojected into
    target cameras through the plane ``depth`` metres ahead (pinhole of ``fov_deg``) and encoded by ``vae``."""

    def __init__(self, vae: VideoVAE, first_frame: torch.Tensor, *, fov_deg: float, depth: float) -> None:
        if not vae.can_encode:
            raise ValueError("this model reads a guide made from the source's pixels (pixel_guide_depth), which the "
                             "VAE encodes: load a VAE with an encoder (the tiny one with its encoder, or Wan's)")
        if first_frame.ndim != 4 or first_frame.shape[1] != 3:
            raise ValueError(f"first_frame must be [B, 3, H, W], got {tuple(first_frame.shape)}")
        self.vae, self.fov_deg, self.depth = vae, float(fov_deg), float(depth)
        self.first_frame = first_frame.to(vae.device, vae.dtype)
        self._stream = None
        self._next = 0          # the next latent frame the stream encodes

    @classmethod
    def for_model(cls, model, vae: VideoVAE | None, first_frame: torch.Tensor | None) -> PixelGuide | None:
        """The guide ``model`` reads (None for a model without ``pixel_guide_depth``); a clear error when the
        VAE or the source's first frame is missing."""
        cond = model.conditioning
        if not cond.pixel_guide_depth:
            return None
        if vae is None or first_frame is None:
            raise ValueError(f"{model.cfg.name} reads the source's first frame reprojected on pixels and encoded "
                             "(pixel_guide_depth): encode the source with a VAE that has an encoder (RealCam Encode "
                             "Source / encode_video), so the source keeps its first frame and the VAE")
        return cls(vae, first_frame, fov_deg=cond.ray_fov_deg, depth=cond.pixel_guide_depth)

    def video(self, target_pose12: torch.Tensor, start: int = 0) -> torch.Tensor:
        """The guide's video frames ``[B, 3, T, H, W]`` for latent frames ``start, start + 1, …`` of
        ``target_pose12`` ``[B, n, 12]``: each reprojection held for the frames its latent covers."""
        target = target_pose12.to(self.vae.device)
        b, f = target.shape[:2]
        reference = torch.eye(3, 4, dtype=target.dtype, device=target.device).flatten().expand(b, f, 12)
        views = warp_latents(self.first_frame[:, :, None].expand(-1, -1, f, -1, -1), reference, target, self.fov_deg,
                             (self.depth,))     # the same reprojection as on latents, on the pixel grid
        repeats = torch.full((views.shape[2],), TIME_STRIDE, device=views.device)
        if start == 0 and not self.vae.tiny:
            repeats[0] = 1          # a causal Wan VAE encodes frame 0 alone
        return views.repeat_interleave(repeats, dim=2).to(self.vae.dtype)

    @torch.no_grad()
    def encode(self, target_pose12: torch.Tensor) -> torch.Tensor:
        """Guide latents ``[B, C, f, h, w]`` for the whole path ``target_pose12`` ``[B, f, 12]``."""
        return self.vae.encode(self.video(target_pose12)).float()

    def restart(self) -> None:
        """Start the stream again at latent frame 0 (a session reset)."""
        self._stream, self._next = None, 0

    @torch.no_grad()
    def for_chunk(self, start: int, target_pose12: torch.Tensor) -> torch.Tensor:
        """Guide latents of latent frames ``start .. start + n − 1`` (``target_pose12`` ``[B, n, 12]``), encoded
        with the VAE's encode stream: chunks must come in order, each once."""
        if start != self._next:
            raise ValueError(f"the pixel guide is encoded as a stream: expected latent frame {self._next}, got {start}")
        if self._stream is None:
            self._stream = self.vae.encode_stream()
        out = self._stream.push(self.video(target_pose12, start))
        n = target_pose12.shape[1]
        if out.shape[2] != n:
            raise RuntimeError(f"internal: the encode stream returned {out.shape[2]} latent frames for {n}")
        self._next += n
        return out.float()


class GuideLatents:
    """A guide already encoded for the whole clip ``[B, C, f, h, w]`` (training data: ``LatentPairs``), served
    chunk by chunk like :class:`PixelGuide`."""

    def __init__(self, latents: torch.Tensor) -> None:
        if latents.ndim != 5:
            raise ValueError(f"guide latents must be [B, C, f, h, w], got {tuple(latents.shape)}")
        self.latents = latents

    def restart(self) -> None:
        """Nothing to do: the guide is already encoded."""

    def for_chunk(self, start: int, target_pose12: torch.Tensor) -> torch.Tensor:
        n = target_pose12.shape[1]
        if start + n > self.latents.shape[2]:
            raise ValueError(f"the guide holds {self.latents.shape[2]} latent frames; chunk needs {start}..{start + n - 1}")
        return self.latents[:, :, start:start + n]
