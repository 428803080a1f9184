"""Wan2.1 VAE (z16, 8×8 space, 4× time, causal), with chunk-by-chunk streaming encode and decode.

Module names follow the official / ComfyUI state dict (``encoder.downsamples.N.residual.2.weight``,
``decoder.upsamples.N.resample.1.weight``, ``conv1``, ``conv2`` …). Pixels are in [−1, 1]; latents
returned by :meth:`WanVAE21.encode` are *raw* (μ); :class:`realcam.vae.VideoVAE` applies the
normalisation ``(μ − mean)/std`` the DiT reads.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import CausalConv3d, FrameAttention, Resample, ResidualBlock, RMSNorm, StreamState, run

WAN21_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517,
              -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
WAN21_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579,
             1.6382, 1.1253, 2.8251, 1.9160]


@dataclass(frozen=True)
class Wan21VAEConfig:
    dim: int = 96
    z_dim: int = 16
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    temporal_downsample: tuple[bool, ...] = (False, True, True)


class Encoder(nn.Module):
    def __init__(self, cfg: Wan21VAEConfig) -> None:
        super().__init__()
        dims = [cfg.dim * u for u in (1, *cfg.dim_mult)]
        self.conv1 = CausalConv3d(3, dims[0], 3, padding=1)
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
            for _ in range(cfg.num_res_blocks):
                layers.append(ResidualBlock(cin, cout))
                cin = cout
            if i != len(cfg.dim_mult) - 1:
                layers.append(Resample(cout, "downsample3d" if cfg.temporal_downsample[i] else "downsample2d"))
        self.downsamples = nn.Sequential(*layers)
        self.middle = nn.Sequential(ResidualBlock(dims[-1], dims[-1]), FrameAttention(dims[-1]),
                                    ResidualBlock(dims[-1], dims[-1]))
        self.head = nn.Sequential(RMSNorm(dims[-1]), nn.SiLU(), CausalConv3d(dims[-1], 2 * cfg.z_dim, 3, padding=1))

    def forward(self, x: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        x = self.conv1(x, state)
        x = run(self.downsamples, x, state)
        x = run(self.middle, x, state)
        return run(self.head, x, state)


class Decoder(nn.Module):
    def __init__(self, cfg: Wan21VAEConfig) -> None:
        super().__init__()
        mult = cfg.dim_mult
        dims = [cfg.dim * u for u in (mult[-1], *mult[::-1])]
        temporal_upsample = cfg.temporal_downsample[::-1]
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0]), FrameAttention(dims[0]),
                                    ResidualBlock(dims[0], dims[0]))
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(dims[:-1], dims[1:])):
            if i > 0:
                cin //= 2  # the upsampler before this stage halved the channels
            for _ in range(cfg.num_res_blocks + 1):
                layers.append(ResidualBlock(cin, cout))
                cin = cout
            if i != len(mult) - 1:
                layers.append(Resample(cout, "upsample3d" if temporal_upsample[i] else "upsample2d"))
        self.upsamples = nn.Sequential(*layers)
        self.head = nn.Sequential(RMSNorm(dims[-1]), nn.SiLU(), CausalConv3d(dims[-1], 3, 3, padding=1))

    def forward(self, z: torch.Tensor, state: StreamState | None = None) -> torch.Tensor:
        x = self.conv1(z, state)
        x = run(self.middle, x, state)
        x = run(self.upsamples, x, state)
        return run(self.head, x, state)


class WanVAEBase(nn.Module):
    """Encoder, decoder and the 1×1 convs around the latent (``conv1``: moments, ``conv2``: post-quant),
    plus the latent statistics the DiT's normalisation uses."""

    spatial_stride = 8
    temporal_stride = 4

    def __init__(self, cfg, encoder: nn.Module, decoder: nn.Module, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder
        self.conv1 = CausalConv3d(2 * cfg.z_dim, 2 * cfg.z_dim, 1)
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = decoder
        known = len(mean) == cfg.z_dim  # reduced test sizes have no published statistics: identity
        self.register_buffer("latent_mean", torch.tensor(mean if known else [0.0] * cfg.z_dim), persistent=False)
        self.register_buffer("latent_std", torch.tensor(std if known else [1.0] * cfg.z_dim), persistent=False)

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:   # network output -> RGB
        return x

    def from_pixels(self, x: torch.Tensor) -> torch.Tensor:  # RGB -> network input
        return x

    def encode_frames(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        """Raw μ of pixel frames ``[B, 3, T, H, W]`` in [−1, 1]; a stream's first call starts with 1 frame
        (it may carry more: 1 + 4k), later calls take multiples of 4."""
        mu, _ = self.conv1(self.encoder(self.from_pixels(x), state)).chunk(2, dim=1)
        return mu

    def decode_latents(self, z: torch.Tensor, state: StreamState) -> torch.Tensor:
        """Pixels in about [−1, 1] of raw latents ``[B, z, t, h, w]``: 1 frame for a stream's first latent, 4 after."""
        return self.to_pixels(self.decoder(self.conv2(z), state))


class WanVAE21(WanVAEBase):
    def __init__(self, cfg: Wan21VAEConfig = Wan21VAEConfig()) -> None:
        super().__init__(cfg, Encoder(cfg), Decoder(cfg), WAN21_MEAN, WAN21_STD)
