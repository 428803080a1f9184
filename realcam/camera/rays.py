"""Per-token camera rays: what a token of a frame sees, for ``ConditioningConfig.camera_tokens = 'rays'``.

A frame's camera (a relative pose, ``pose12``) and a pinhole field of view give every token of the patch grid
the ray through its centre: direction ``d = R · normalize(x, y, 1)`` and origin ``o = t`` in the reference
camera's frame (OpenCV: x right, y down, z forward). The model reads, per token,

    [ sin(2^k·π/2·d), cos(2^k·π/2·d) for k = 0 … RAY_OCTAVES−1 ]  (Fourier features of the direction)
    [ d, o × d ]                                                      (Plücker coordinates, CameraCtrl)

The Fourier features make "the source token that sees the same direction" something attention can find with
one dot product: for two tokens the sum over features of sin·sin + cos·cos is ``Σ cos(ω(d₁ − d₂))``, sharp at
``d₁ = d₂`` — an additive per-frame pose, turned into a shift of the attended position only through RoPE, is
not (docs/method.md, "Camera tokens").
"""
from __future__ import annotations

import math

import torch

RAY_OCTAVES = 5
RAY_DIM = 3 * 2 * RAY_OCTAVES + 6


def token_directions(height: int, width: int, fov_deg: float, *, device=None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Unit ray directions ``[height·width, 3]`` through the centres of a ``height × width`` token grid in the
    camera's own frame; ``fov_deg`` is the horizontal field of view (square pixels)."""
    if not 0 < fov_deg < 180:
        raise ValueError(f"ray_fov_deg must be in (0, 180) degrees, got {fov_deg}")
    tan_x = math.tan(math.radians(fov_deg) / 2)
    tan_y = tan_x * height / width
    ys = ((torch.arange(height, device=device, dtype=torch.float64) + 0.5) / height * 2 - 1) * tan_y
    xs = ((torch.arange(width, device=device, dtype=torch.float64) + 0.5) / width * 2 - 1) * tan_x
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    d = torch.stack([x, y, torch.ones_like(x)], dim=-1).reshape(-1, 3)
    return (d / d.norm(dim=-1, keepdim=True)).to(dtype)


def ray_features(poses: torch.Tensor, height: int, width: int, fov_deg: float) -> torch.Tensor:
    """``poses`` ``[B, F, 12]`` (row-major 3×4 camera-to-reference per frame) → ``[B, F, height·width, RAY_DIM]``."""
    if poses.shape[-1] != 12:
        raise ValueError(f"poses must be [..., 12] (flattened 3x4), got {tuple(poses.shape)}")
    m = poses.float().unflatten(-1, (3, 4))
    rot, origin = m[..., :3], m[..., 3]
    local = token_directions(height, width, fov_deg, device=poses.device)
    d = torch.einsum("bfij,nj->bfni", rot, local)                      # [B, F, N, 3]
    o = origin[:, :, None].expand_as(d)
    freqs = (2.0 ** torch.arange(RAY_OCTAVES, device=poses.device)) * (math.pi / 2)
    angles = (d[..., None] * freqs).flatten(-2)                          # [B, F, N, 3·octaves]
    return torch.cat([angles.sin(), angles.cos(), d, torch.linalg.cross(o, d, dim=-1)], dim=-1).to(poses.dtype)
