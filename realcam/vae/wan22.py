"""Wan2.2 VAE (z48, 16×16 space = 2×2 pixel patch + 8×8, 4× time), streaming like the Wan2.1 VAE.

Differences from Wan2.1: RGB enters as 2×2 patches (12 channels) and leaves the same way; every
resolution stage is a residual stage whose shortcut is an average-pool (``AvgDown3D``) on the way down
and a duplication (``DupUp3D``) on the way up; upsamplers keep their channels; decoder width 256.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import CausalConv3d, FrameAttention, Resample, ResidualBlock, RMSNorm, StreamState, run
from .wan21 import WanVAEBase

WAN22_MEAN = [-0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
              0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
              -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
              -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667]
WAN22_STD = [0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
             0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
             0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
             0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744]


@dataclass(frozen=True)
class Wan22VAEConfig:
    dim: int = 160
    dec_dim: int = 256
    z_dim: int = 48
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temporal_downsample: tuple[bool, ...] = (False, True, True)


def patchify(x: torch.Tensor, p: int = 2) -> torch.Tensor:
    """``[B, C, T, H, W]`` → ``[B, C·p·p, T, H/p, W/p]`` with channel order (c, w-offset, h-offset)."""
    b, c, t, h, w = x.shape
    x = x.view(b, c, t, h // p, p, w // p, p)
    return x.permute(0, 1, 6, 4, 2, 3, 5).reshape(b, c * p * p, t, h // p, w // p)


def unpatchify(x: torch.Tensor, p: int = 2) -> torch.Tensor:
    b, cpp, t, h, w = x.shape
    c = cpp // (p * p)
    x = x.view(b, c, p, p, t, h, w)                      # (c, w-offset r, h-offset q)
    return x.permute(0, 1, 4, 5, 3, 6, 2).reshape(b, c, t, h * p, w * p)


class AvgDown3D(nn.Module):
    """Shortcut of a downsampling stage: mean over groups of a space-time-to-channel fold."""

    def __init__(self, cin: int, cout: int, factor_t: int, factor_s: int) -> None:
        super().__init__()
        self.cout, self.ft, self.fs = cout, factor_t, factor_s
        self.group = cin * factor_t * factor_s * factor_s // cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, 0, 0, (-x.shape[2]) % self.ft, 0))  # a stream's first frame pairs with a zero frame
        b, c, t, h, w = x.shape
        ft, fs = self.ft, self.fs
        x = x.view(b, c, t // ft, ft, h // fs, fs, w // fs, fs).permute(0, 1, 3, 5, 7, 2, 4, 6)
        x = x.reshape(b, self.cout, self.group, t // ft, h // fs, w // fs)
        return x.mean(dim=2)


class DupUp3D(nn.Module):
    """Shortcut of an upsampling stage: channels duplicated then unfolded into time and space."""

    def __init__(self, cin: int, cout: int, factor_t: int, factor_s: int) -> None:
        super().__init__()
        self.cout, self.ft, self.fs = cout, factor_t, factor_s
        self.repeats = cout * factor_t * factor_s * factor_s // cin

    def forward(self, x: torch.Tensor, first: bool) -> torch.Tensor:
        x = x.repeat_interleave(self.repeats, dim=1)
        b, _, t, h, w = x.shape
        ft, fs = self.ft, self.fs
        x = x.view(b, self.cout, ft, fs, fs, t, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
        x = x.reshape(b, self.cout, t * ft, h * fs, w * fs)
        return x[:, :, ft - 1:] if first else x  # a stream's first latent frame yields one frame


class DownStage(nn.Module):
    def __init__(self, cin: int, cout: int, blocks: int, temporal: bool, down: bool) -> None:
        super().__init__()
        self.avg_shortcut = AvgDown3D(cin, cout, 2 if temporal else 1, 2 if down else 1)
        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers.append(ResidualBlock(cin, cout))
            cin = cout
        if down:
            layers.append(Resample(cout, "downsample3d" if temporal else "downsample2d"))
        self.downsamples = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        return run(self.downsamples, x, state) + self.avg_shortcut(x)


class UpStage(nn.Module):
    def __init__(self, cin: int, cout: int, blocks: int, temporal: bool, up: bool) -> None:
        super().__init__()
        self.avg_shortcut = DupUp3D(cin, cout, 2 if temporal else 1, 2) if up else None
        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers.append(ResidualBlock(cin, cout))
            cin = cout
        if up:
            layers.append(Resample(cout, "upsample3d" if temporal else "upsample2d", halve_on_upsample=False))
        self.upsamples = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        y = run(self.upsamples, x, state)
        if self.avg_shortcut is None:
            return y
        first = not state.get(self, False)
        state.set(self, True)
        return y + self.avg_shortcut(x, first)


class Encoder22(nn.Module):
    def __init__(self, cfg: Wan22VAEConfig) -> None:
        super().__init__()
        dims = [cfg.dim * u for u in (1, *cfg.dim_mult)]
        self.conv1 = CausalConv3d(12, dims[0], 3, padding=1)
        last = len(cfg.dim_mult) - 1
        self.downsamples = nn.Sequential(*(
            DownStage(cin, cout, cfg.num_res_blocks, i < len(cfg.temporal_downsample) and cfg.temporal_downsample[i], i != last)
            for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:]))))
        self.middle = nn.Sequential(ResidualBlock(dims[-1], dims[-1]), FrameAttention(dims[-1]),
                                    ResidualBlock(dims[-1], dims[-1]))
        self.head = nn.Sequential(RMSNorm(dims[-1]), nn.SiLU(), CausalConv3d(dims[-1], 2 * cfg.z_dim, 3, padding=1))

    def forward(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        x = self.conv1(x, state)
        for stage in self.downsamples:
            x = stage(x, state)
        return run(self.head, run(self.middle, x, state), state)


class Decoder22(nn.Module):
    def __init__(self, cfg: Wan22VAEConfig) -> None:
        super().__init__()
        dims = [cfg.dec_dim * u for u in (cfg.dim_mult[-1], *cfg.dim_mult[::-1])]
        temporal_up = cfg.temporal_downsample[::-1]
        last = len(cfg.dim_mult) - 1
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0]), FrameAttention(dims[0]),
                                    ResidualBlock(dims[0], dims[0]))
        self.upsamples = nn.Sequential(*(
            UpStage(cin, cout, cfg.num_res_blocks + 1, i < len(temporal_up) and temporal_up[i], i != last)
            for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:]))))
        self.head = nn.Sequential(RMSNorm(dims[-1]), nn.SiLU(), CausalConv3d(dims[-1], 12, 3, padding=1))

    def forward(self, z: torch.Tensor, state: StreamState) -> torch.Tensor:
        x = run(self.middle, self.conv1(z, state), state)
        for stage in self.upsamples:
            x = stage(x, state)
        return run(self.head, x, state)


class WanVAE22(WanVAEBase):
    spatial_stride = 16

    def __init__(self, cfg: Wan22VAEConfig = Wan22VAEConfig()) -> None:
        super().__init__(cfg, Encoder22(cfg), Decoder22(cfg), WAN22_MEAN, WAN22_STD)

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        return unpatchify(x)

    def from_pixels(self, x: torch.Tensor) -> torch.Tensor:
        return patchify(x)
