"""Small building blocks shared by the DiT: a Linear that reads fp8/bf16 weights, norms, time embedding."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CastLinear(nn.Linear):
    """``nn.Linear`` whose stored weight may have another dtype than the activations.

    The weight (and bias) are cast to the input's dtype at call time, so a model can keep fp8
    (``float8_e4m3fn`` / ``float8_e5m2``) or bf16 weights while computing in bf16/fp32; an optional
    ``scale_weight`` buffer (ComfyUI's "scaled fp8" files) multiplies the upcast weight. When dtypes
    already match, this is exactly ``nn.Linear``.
    """

    scale_weight: torch.Tensor | None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.register_buffer("scale_weight", None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight if self.weight.dtype == x.dtype else self.weight.to(x.dtype)
        if self.scale_weight is not None:
            weight = weight * self.scale_weight.to(x.dtype)
        bias = self.bias
        if bias is not None and bias.dtype != x.dtype:
            bias = bias.to(x.dtype)
        return F.linear(x, weight, bias)


class RMSNorm(nn.Module):
    """RMS norm computed in float32, then scaled by a learned weight (Wan's q/k norm)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 and self.weight.dtype == torch.float32:   # one fused kernel (ComfyUI's too)
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)
        y = F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).type_as(x)      # official Wan: normalise in fp32,
        return y * self.weight.to(x.dtype)                                     # cast, then scale


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 (Wan's norms); affine or not."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).type_as(x)


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Wan's timestep embedding: ``[cos(t·ω_k), sin(t·ω_k)]`` with ``ω_k = 10000^(-k/(dim/2))``.

    ``t`` of any shape → ``[*t.shape, dim]`` in float32 (computed in float64, as the official code).
    """
    half = dim // 2
    omega = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    angle = t.to(torch.float64)[..., None] * omega
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1).float()


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x·(1 + scale) + shift`` with per-frame modulation.

    ``x``: ``[B, F, N, C]`` tokens grouped by frame; ``shift``/``scale``: ``[B, F or 1, C]`` in float32.
    """
    return torch.addcmul(shift[:, :, None], x.float(), 1 + scale[:, :, None]).type_as(x)   # one fused op, as ComfyUI


def gated(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """Residual update ``x + gate·y`` with a per-frame gate ``[B, F or 1, C]`` (float32 maths)."""
    return torch.addcmul(x.float(), y.float(), gate[:, :, None]).type_as(x)


def xavier_linear_(layer: nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def identity_linear_(layer: nn.Linear) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.eye(layer.out_features, layer.in_features))
        if layer.bias is not None:
            layer.bias.zero_()


def head_dim_split(head_dim: int) -> tuple[int, int, int]:
    """Real dims of (time, height, width) in Wan's 3D RoPE: (44, 42, 42) for head_dim 128."""
    w = 2 * (head_dim // 6)
    return head_dim - 2 * w, w, w


__all__ = ["CastLinear", "RMSNorm", "LayerNorm", "sinusoidal_embedding", "modulate", "gated",
           "xavier_linear_", "identity_linear_", "head_dim_split"]
