"""Sequence builders: how source latents, target latents and cameras become one DiT sequence.

Eq. (3) of the RealCam paper, ``Interleave(z_s, z_t) = [z_s¹, z_t¹, z_s², z_t², …]``, and ReCamMaster's
prefix layout ``[z_t | z_s]`` are two :class:`SequenceLayout` modes. A layout knows, for every sequence
frame, whether it is a source or target frame, which latent index it carries, its RoPE temporal
position, its timestep and its camera. ``start`` offsets the latent index, so a streaming chunk of the
interleaved sequence is the layout of its latent frames ``start … start+f−1``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ConditioningConfig


@dataclass(frozen=True)
class SequenceLayout:
    cond: ConditioningConfig
    latent_frames: int
    start: int = 0

    def __post_init__(self) -> None:
        if self.latent_frames < 1:
            raise ValueError("a sequence needs at least one latent frame")
        if self.cond.mode == "prefix" and self.start:
            raise ValueError("prefix layout has no causal chunks: start must be 0")

    @property
    def seq_frames(self) -> int:
        return 2 * self.latent_frames

    # which sequence frame holds what ------------------------------------------------------------------
    def is_target(self) -> torch.Tensor:
        """Bool ``[2f]``: True at target frames."""
        f = self.latent_frames
        if self.cond.mode == "interleave":
            return torch.arange(2 * f) % 2 == 1
        return torch.arange(2 * f) < f

    def latent_index(self) -> torch.Tensor:
        """Long ``[2f]``: the latent frame index (from ``start``) each sequence frame carries."""
        f = self.latent_frames
        local = torch.arange(2 * f) // 2 if self.cond.mode == "interleave" else torch.arange(2 * f) % f
        return local + self.start

    def temporal_positions(self) -> torch.Tensor:
        """RoPE temporal positions ``[2f]`` (float64) of the sequence frames."""
        f, i = self.latent_frames, self.latent_index()
        if self.cond.rope_temporal == "shared":
            return i.double()
        if self.cond.mode == "interleave":
            return (2 * i + self.is_target().long()).double()
        return torch.where(self.is_target(), i, i + f).double()  # prefix: target 0..f-1, source f..2f-1

    # building and splitting ----------------------------------------------------------------------------
    def build(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``[B, C, f, h, w]`` × 2 → ``[B, C, 2f, h, w]`` in sequence order."""
        if source.shape != target.shape:
            raise ValueError(f"source latents {tuple(source.shape)} and target latents {tuple(target.shape)} differ in shape")
        if source.shape[2] != self.latent_frames:
            raise ValueError(f"layout is for {self.latent_frames} latent frames, got {source.shape[2]}")
        if self.cond.mode == "interleave":
            return torch.stack((source, target), dim=3).flatten(2, 3)
        return torch.cat((target, source), dim=2)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inverse of :meth:`build`: ``[B, C, 2f, h, w]`` → (source, target)."""
        f = self.latent_frames
        if x.shape[2] != 2 * f:
            raise ValueError(f"expected {2 * f} sequence frames, got {x.shape[2]}")
        if self.cond.mode == "interleave":
            pair = x.unflatten(2, (f, 2))
            return pair[:, :, :, 0], pair[:, :, :, 1]
        return x[:, :, f:], x[:, :, :f]

    # conditioning per sequence frame -------------------------------------------------------------------
    def frame_timesteps(self, t: torch.Tensor) -> torch.Tensor:
        """Timesteps for the sequence: ``t`` ``[B]`` (one per sample) or ``[B, f]`` (per target frame).

        Returns ``[B]`` when one scalar serves the whole sequence, else ``[B, 2f]`` per sequence frame
        (source frames get the target's t, or 0 under ``source_timestep='zero'``).
        """
        f = self.latent_frames
        if t.ndim == 1 and self.cond.source_timestep == "shared":
            return t
        per_target = t[:, None].expand(t.shape[0], f) if t.ndim == 1 else t
        if per_target.shape[1] != f:
            raise ValueError(f"per-frame timesteps must be [B, {f}], got {tuple(t.shape)}")
        local = self.latent_index() - self.start
        seq = per_target[:, local]
        if self.cond.source_timestep == "zero":
            seq = torch.where(self.is_target().to(t.device), seq, torch.zeros_like(seq))
        return seq

    def frame_cameras(self, pose12: torch.Tensor,
                      source_pose12: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Cameras for the sequence from target poses ``[B, f, 12]`` (and the source's, ``[B, f, 12]``, read
        only with ``camera_tokens='rays'`` and ``source_cameras``).

        Returns ``(poses [B, 2f, 12], weight [2f])``: sequence frame j carries the pose of its latent
        index; ``weight`` is 1 where the camera embedding is added and 0 on source frames when
        ``camera_on_source`` is off. With ``camera_tokens='rays'`` source frames carry their own camera
        instead: ``source_pose12`` under ``source_cameras``, else the identity (the reference is the source's
        first camera).
        """
        f = self.latent_frames
        if pose12.ndim != 3 or pose12.shape[1:] != (f, 12):
            raise ValueError(f"camera poses must be [B, {f}, 12] (one flattened 3x4 per latent frame), got {tuple(pose12.shape)}")
        local = self.latent_index() - self.start
        poses = pose12[:, local.to(pose12.device)]
        if self.cond.camera_tokens == "rays":
            own = torch.eye(3, 4, dtype=pose12.dtype, device=pose12.device).flatten()
            if self.cond.source_cameras and source_pose12 is not None:
                if source_pose12.shape != pose12.shape:
                    raise ValueError(f"source camera poses must be {tuple(pose12.shape)} like the target's, "
                                     f"got {tuple(source_pose12.shape)}")
                own = source_pose12.to(pose12)[:, local.to(pose12.device)]
            target = self.is_target().to(pose12.device)[None, :, None]
            return torch.where(target, poses, own), torch.ones(2 * f, dtype=pose12.dtype, device=pose12.device)
        weight = torch.ones(2 * f) if self.cond.camera_on_source else self.is_target().float()
        return poses, weight.to(pose12.device, pose12.dtype)
