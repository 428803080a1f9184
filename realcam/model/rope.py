"""3D rotary position embedding of Wan, from explicit per-token (t, h, w) positions.

Positions are given per token rather than read from a 1024-row table, so the same code serves the
interleaved sequence (temporal positions 0,1,2,... over [zs1, zt1, zs2, ...]), the prefix sequence,
a streaming chunk at an absolute offset, and cache-slot positions for unbounded streams. For integer
positions < 1024 the angles are bit-identical to the official table (both are ``pos·ω`` in float64).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .layers import head_dim_split


@dataclass(frozen=True)
class Rope:
    """cos/sin of the rotation angles, float32: ``[L, head_dim/2]`` each, ``[B, L, head_dim/2]`` when positions differ
    per sample (camera-dependent positions), or ``[B, L, heads, head_dim/2]`` when they differ per head too."""

    cos: torch.Tensor
    sin: torch.Tensor

    def __len__(self) -> int:
        return self.cos.shape[0 if self.cos.ndim == 2 else 1]

    @staticmethod
    def cat(ropes: list["Rope"]) -> "Rope":
        """Concatenate along the token axis; tables of fewer dimensions are broadcast to the largest form."""
        big = max(ropes, key=lambda r: r.cos.ndim).cos
        def lift(t: torch.Tensor) -> torch.Tensor:
            if t.ndim == 2:
                t = t[None]
            if t.ndim == 3 and big.ndim == 4:
                t = t[:, :, None]
            return t.expand(big.shape[0], t.shape[1], *big.shape[2:]) if big.ndim > 2 else t
        if big.ndim == 2:
            return Rope(torch.cat([r.cos for r in ropes]), torch.cat([r.sin for r in ropes]))
        return Rope(torch.cat([lift(r.cos) for r in ropes], dim=1), torch.cat([lift(r.sin) for r in ropes], dim=1))

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate consecutive channel pairs of ``x`` ``[B, L, H, D]``: as complex numbers (x0 + i·x1)·(cos + i·sin),
        one complex multiply (1.3× faster on CPU than the four real products and a stack)."""
        xc = torch.view_as_complex(x.float().contiguous().unflatten(-1, (-1, 2)))
        rot = self.rotation
        rot = rot[None, :, None] if rot.ndim == 2 else rot[:, :, None] if rot.ndim == 3 else rot
        return torch.view_as_real(xc * rot).flatten(-2).type_as(x)

    @property
    def rotation(self) -> torch.Tensor:
        """``cos + i·sin`` ``[L, head_dim/2]`` complex64 (built once per Rope)."""
        rot = self.__dict__.get("_rotation")
        if rot is None:
            rot = torch.complex(self.cos, self.sin)
            object.__setattr__(self, "_rotation", rot)
        return rot


def rope_angles(positions: torch.Tensor, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Angles ``[..., L, head_dim/2]`` for positions ``[..., L, 3]`` (t, h, w), float64."""
    parts = []
    for axis, d in enumerate(head_dim_split(head_dim)):
        omega = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64, device=positions.device) / d)
        parts.append(positions[..., axis].to(torch.float64)[..., None] * omega)
    return torch.cat(parts, dim=-1)


def make_rope(positions: torch.Tensor, head_dim: int, theta: float = 10000.0) -> Rope:
    ang = rope_angles(positions, head_dim, theta)
    return Rope(torch.cos(ang).float(), torch.sin(ang).float())


def grid_positions(t_positions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Per-token positions ``[F·h·w, 3]`` for frames at temporal positions ``t_positions`` ``[F]``
    on an ``h × w`` token grid (token order: frame, row, column)."""
    f = t_positions.shape[0]
    dev = t_positions.device
    tt = t_positions.to(torch.float64)[:, None, None].expand(f, height, width)
    hh = torch.arange(height, dtype=torch.float64, device=dev)[None, :, None].expand(f, height, width)
    ww = torch.arange(width, dtype=torch.float64, device=dev)[None, None, :].expand(f, height, width)
    return torch.stack((tt, hh, ww), dim=-1).reshape(-1, 3)
