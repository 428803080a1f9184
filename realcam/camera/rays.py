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


def reference_positions(poses: torch.Tensor, height: int, width: int, fov_deg: float, depth: float) -> torch.Tensor:
    """Where each token's ray lands in the reference camera's token grid: ``[B, F, height·width, 2]`` (row, column),
    float64, for ``ConditioningConfig.rope_positions = 'rays'``.

    The point ``depth`` metres along the ray through a token's centre (origin ``o`` and direction ``d`` as in
    :func:`ray_features`) is projected by the reference pinhole camera of the same field of view; a camera at the
    reference pose gets back exactly its own grid (row ``i``, column ``j``). For a pure rotation the result does not
    depend on ``depth``; under translation it is exact for scene points at that depth. Points at or behind the
    reference camera's plane are held just in front of it, and positions are clamped to four grids either side so a
    backward-looking camera yields large but finite positions."""
    if poses.shape[-1] != 12:
        raise ValueError(f"poses must be [..., 12] (flattened 3x4), got {tuple(poses.shape)}")
    m = poses.to(torch.float64).unflatten(-1, (3, 4))
    rot, origin = m[..., :3], m[..., 3]
    local = token_directions(height, width, fov_deg, device=poses.device, dtype=torch.float64)
    d = torch.einsum("bfij,nj->bfni", rot, local)
    point = origin[:, :, None] + depth * d                                    # [B, F, N, 3]
    z = point[..., 2].clamp(min=1e-3 * depth)
    tan_x = math.tan(math.radians(fov_deg) / 2)
    tan_y = tan_x * height / width
    col = (point[..., 0] / z / tan_x + 1) * width / 2 - 0.5
    row = (point[..., 1] / z / tan_y + 1) * height / 2 - 0.5
    return torch.stack([row.clamp(-4.0 * height, 5.0 * height), col.clamp(-4.0 * width, 5.0 * width)], dim=-1)
