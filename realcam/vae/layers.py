"""Causal building blocks of the Wan VAEs, each with explicit stream memory.

Every layer that looks back in time keeps what it needs in a :class:`StreamState` (keyed by the layer),
so encoding or decoding a clip in one call on a fresh state and streaming it chunk by chunk on one
persistent state give the same result: that equality is what makes streaming exact.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class StreamState:
    """Per-stream memory of every causal layer (their last input frames)."""

    def __init__(self) -> None:
        self._mem: dict[int, Any] = {}

    def get(self, layer: nn.Module, default: Any = None) -> Any:
        return self._mem.get(id(layer), default)

    def set(self, layer: nn.Module, value: Any) -> None:
        self._mem[id(layer)] = value

    @property
    def nbytes(self) -> int:
        def size(v):
            if isinstance(v, torch.Tensor):
                return v.numel() * v.element_size()
            if isinstance(v, (list, tuple)):
                return sum(size(x) for x in v)
            return 0
        return sum(size(v) for v in self._mem.values())


class CausalConv3d(nn.Conv3d):
    """3D convolution that pads only the past in time; streams with the last ``k_t − 1`` input frames."""

    def __init__(self, in_ch: int, out_ch: int, kernel, stride=1, padding=0) -> None:
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=0)
        p = (padding,) * 3 if isinstance(padding, int) else tuple(padding)
        self.time_pad = 2 * p[0]
        self.space_pad = (p[2], p[2], p[1], p[1])

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        if self.time_pad and state is not None:
            past = state.get(self)
            if past is not None:
                x = torch.cat([past, x], dim=2)
            state.set(self, x[:, :, -self.time_pad:].detach())
            front = self.time_pad - (past.shape[2] if past is not None else 0)
        else:
            front = self.time_pad
        return super().forward(F.pad(x, (*self.space_pad, max(front, 0), 0)))


class RMSNorm(nn.Module):
    """``normalize(x, dim=1)·√C·γ`` (+β): Wan's channel RMS norm for videos or images."""

    def __init__(self, dim: int, images: bool = False, bias: bool = False) -> None:
        super().__init__()
        shape = (dim, 1, 1) if images else (dim, 1, 1, 1)
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.normalize(x, dim=1) * self.scale * self.gamma
        return y + self.bias if self.bias is not None else y


def per_frame(fn, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2D op to every frame of ``[B, C, T, H, W]``."""
    b, _, t = x.shape[:3]
    y = fn(x.transpose(1, 2).flatten(0, 1))
    return y.unflatten(0, (b, t)).transpose(1, 2)


class FrameAttention(nn.Module):
    """Single-head self-attention over the pixels of each frame (Wan VAE middle block)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = RMSNorm(dim, images=True)
        self.to_qkv = nn.Conv2d(dim, dim * 3, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = (t.flatten(2).transpose(1, 2)[:, None] for t in self.to_qkv(self.norm(x)).chunk(3, dim=1))
        out = F.scaled_dot_product_attention(q, k, v)[:, 0].transpose(1, 2).reshape(n, c, h, w)
        return self.proj(out)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        return x + per_frame(self._attend, x)


class ResidualBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            RMSNorm(in_dim), nn.SiLU(), CausalConv3d(in_dim, out_dim, 3, padding=1),
            RMSNorm(out_dim), nn.SiLU(), nn.Dropout(0.0), CausalConv3d(out_dim, out_dim, 3, padding=1))
        self.shortcut = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        h = x
        for layer in self.residual:
            h = layer(h, state) if isinstance(layer, CausalConv3d) else layer(h)
        return h + self.shortcut(x)


def run(layers, x: torch.Tensor, state: StreamState | None) -> torch.Tensor:
    """Run a sequence of layers, passing the stream state to those that take one."""
    for layer in layers:
        x = layer(x, state) if isinstance(layer, (CausalConv3d, ResidualBlock, FrameAttention, Resample)) else layer(x)
    return x


class Resample(nn.Module):
    """Spatial ×2 up/down sampling, optionally with causal temporal ×2 (Wan VAEs).

    ``upsample3d``: the first frame of a stream is not repeated in time; every later frame becomes two
    (``time_conv`` doubles the channels). ``downsample3d``: the first frame passes through; later frames
    are pooled in pairs by a stride-2 conv over (previous, a, b).
    """

    def __init__(self, dim: int, mode: str, halve_on_upsample: bool = True) -> None:
        super().__init__()
        self.mode = mode
        if mode.startswith("upsample"):  # Wan2.1 halves the channels here, Wan2.2 keeps them
            self.resample = nn.Sequential(nn.Upsample(scale_factor=(2.0, 2.0), mode="nearest-exact"),
                                          nn.Conv2d(dim, dim // 2 if halve_on_upsample else dim, 3, padding=1))
            if mode == "upsample3d":
                self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0))
        elif mode.startswith("downsample"):
            self.resample = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(dim, dim, 3, stride=(2, 2)))
            if mode == "downsample3d":
                self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1), padding=(0, 0, 0))
        else:
            raise ValueError(mode)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        state = state if state is not None else StreamState()  # a whole clip is one stream
        if self.mode == "upsample3d":
            x = self._time_up(x, state)
        x = per_frame(self.resample, x)
        if self.mode == "downsample3d":
            x = self._time_down(x, state)
        return x

    def _time_up(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        first = None
        if not state.get(self, False):
            state.set(self, True)
            first, x = x[:, :, :1], x[:, :, 1:]
        if x.shape[2]:
            b, c, t, h, w = x.shape
            y = self.time_conv(x, state)                       # [B, 2C, T, H, W]
            x = y.view(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)
        return x if first is None else torch.cat([first, x], dim=2)

    def _time_down(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        prev = state.get(self)
        first = None
        if prev is None:
            first, prev, x = x[:, :, :1], x[:, :, :1], x[:, :, 1:]
        if x.shape[2] % 2:
            raise ValueError("after the first frame, the encoder takes frames in groups of 4")
        if x.shape[2]:
            state.set(self, x[:, :, -1:].detach())
            x = self.time_conv(torch.cat([prev, x], dim=2))
        else:
            state.set(self, prev)
        return x if first is None else torch.cat([first, x], dim=2)
