"""Tiny video autoencoder compatible with TAEHV weight files (``taew2_1.*``, ``taew2_2.*``).

Decoder: ``3·tanh(x/3)``, conv to 256 ch, then three stages of [3 MemBlocks, ×2 spatial upsample,
temporal grow (1, 2, 2), conv], channels 256→128→64→64, conv to RGB (×4 channels and pixel-shuffle for
Wan2.2's 48-channel latents). A MemBlock sees its own input at the previous time step, so the decoder
is causal and streams latent by latent with no overlap; the first 3 output frames of a stream are
dropped (latent 0 → 1 frame, later latents → 4). Input: the DiT's *normalised* latents; output: RGB
in [0, 1]. Layer indices mirror the weight files' ``encoder.N`` / ``decoder.N`` names.

``spatial_stride=4`` (the project's own tiny VAE for 64-px frames; a file says so in its ``spatial_stride``
metadata, since the tensors are the same) keeps the layout and the weight names: the encoder's last
downsampling convolution has stride 1 and the decoder's last ×2 upsample is the identity, so a 64-px frame
has 16 × 16 latents and a patch-2 DiT sees 8 × 8 tokens.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import StreamState


def _conv(cin: int, cout: int, **kw) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, **kw)


class Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class MemBlock(nn.Module):
    """``act(conv(concat[x_t, x_{t−1}]) + skip(x_t))`` over a ``[B, T, C, H, W]`` sequence."""

    def __init__(self, cin: int, cout: int, act: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(2 * cin, cout), act, _conv(cout, cout), act, _conv(cout, cout))
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()
        self.act = act

    def forward(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        prev = state.get(self)
        past = torch.cat([torch.zeros_like(x[:, :1]) if prev is None else prev, x[:, :-1]], dim=1)
        state.set(self, x[:, -1:].detach())
        b, t = x.shape[:2]
        y = self.conv(torch.cat([x, past], dim=2).flatten(0, 1)) + self.skip(x.flatten(0, 1))
        return self.act(y).unflatten(0, (b, t))


class TGrow(nn.Module):
    """Each time step becomes ``stride`` time steps (a 1×1 conv to ``stride·C`` channels, split in order)."""

    def __init__(self, n: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(n, n * stride, 1, bias=False)

    def forward(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        b, t, c, h, w = x.shape
        return self.conv(x.flatten(0, 1)).view(b, t * self.stride, c, h, w)


class TPool(nn.Module):
    """``stride`` consecutive time steps become one (concatenated channels, 1×1 conv)."""

    def __init__(self, n: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(n * stride, n, 1, bias=False)

    def forward(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        pending = state.get(self)
        if pending is not None:
            x = torch.cat([pending, x], dim=1)
        b, t, c, h, w = x.shape
        keep = t - t % self.stride
        state.set(self, x[:, keep:].detach() if keep < t else None)
        x = x[:, :keep]
        return self.conv(x.reshape(b * keep // self.stride, self.stride * c, h, w)).view(b, keep // self.stride, c, h, w)


class _PerFrame(nn.Module):
    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor, state: StreamState) -> torch.Tensor:
        b, t = x.shape[:2]
        return self.layer(x.flatten(0, 1)).unflatten(0, (b, t))


def _frame_seq(*layers: nn.Module) -> nn.Sequential:
    """A Sequential whose indices match the weight files; frame-wise layers are applied per frame."""
    seq = nn.Sequential(*layers)
    seq._stream_layers = [l if isinstance(l, (MemBlock, TGrow, TPool)) else _PerFrame(l) for l in layers]  # type: ignore[attr-defined]
    return seq


def _run(seq: nn.Sequential, x: torch.Tensor, state: StreamState) -> torch.Tensor | None:
    """Run a stream through ``seq``; None when no time step comes out yet (a pool is still filling)."""
    for layer in seq._stream_layers:  # type: ignore[attr-defined]
        if x.shape[1] == 0:
            return None
        x = layer(x, state)
    return x


class TinyVAE(nn.Module):
    """TAEHV-layout encoder/decoder for Wan2.1 (16 latent ch) or Wan2.2 (48 ch, pixel patch 2)."""

    frames_to_trim = 3

    def __init__(self, latent_channels: int = 16, with_encoder: bool = True, encoder_width: int = 64,
                 decoder_widths: tuple[int, int, int, int] = (256, 128, 64, 64), spatial_stride: int = 8) -> None:
        """Default widths and stride are TAEHV's; smaller ones make the project's own tiny VAE (same layout)."""
        super().__init__()
        if spatial_stride not in (4, 8):
            raise ValueError(f"a tiny VAE's spatial_stride is 8 (TAEHV) or 4, not {spatial_stride!r}")
        self.latent_channels, self.spatial_stride = latent_channels, spatial_stride
        last = 2 if spatial_stride == 8 else 1
        self.encoder_width, self.decoder_widths = encoder_width, tuple(decoder_widths)
        e = encoder_width
        self.patch = 2 if latent_channels == 48 else 1
        act = nn.ReLU(inplace=True)
        rgb = 3 * self.patch**2
        self.encoder = _frame_seq(
            _conv(rgb, e), act,
            TPool(e, 2), _conv(e, e, stride=2, bias=False), *(MemBlock(e, e, act) for _ in range(3)),
            TPool(e, 2), _conv(e, e, stride=2, bias=False), *(MemBlock(e, e, act) for _ in range(3)),
            TPool(e, 1), _conv(e, e, stride=last, bias=False), *(MemBlock(e, e, act) for _ in range(3)),
            _conv(e, latent_channels)) if with_encoder else None
        n = list(decoder_widths)
        self.decoder = _frame_seq(
            Clamp(), _conv(latent_channels, n[0]), act,
            *(MemBlock(n[0], n[0], act) for _ in range(3)), nn.Upsample(scale_factor=2), TGrow(n[0], 1),
            _conv(n[0], n[1], bias=False),
            *(MemBlock(n[1], n[1], act) for _ in range(3)), nn.Upsample(scale_factor=2), TGrow(n[1], 2),
            _conv(n[1], n[2], bias=False),
            *(MemBlock(n[2], n[2], act) for _ in range(3)),
            nn.Upsample(scale_factor=2) if last == 2 else nn.Identity(), TGrow(n[2], 2),
            _conv(n[2], n[3], bias=False), act, _conv(n[3], rgb))

    def decode_latents(self, z: torch.Tensor, state: StreamState) -> torch.Tensor:
        """Normalised latents ``[B, C, t, h, w]`` → RGB ``[B, 3, T, H, W]`` in about [0, 1] (streams)."""
        x = _run(self.decoder, z.transpose(1, 2), state)
        if x is None:
            b, _, _, h, w = z.shape
            return z.new_zeros(b, 3, 0, h * self.spatial_stride * self.patch, w * self.spatial_stride * self.patch)
        trim = state.get(self, self.frames_to_trim)
        state.set(self, max(trim - x.shape[1], 0))
        x = x[:, trim:]
        if self.patch > 1:
            b, t = x.shape[:2]
            x = F.pixel_shuffle(x.flatten(0, 1), self.patch).unflatten(0, (b, t))
        return x.transpose(1, 2)

    def encode_frames(self, x: torch.Tensor, state: StreamState, final: bool = True) -> torch.Tensor:
        """RGB ``[B, 3, T, H, W]`` in [0, 1] → normalised latents, one per 4 frames. A stream buffers
        incomplete groups of 4; its ``final`` call pads the tail by repeating the last frame."""
        if self.encoder is None:
            raise ValueError("this tiny VAE file has no encoder; use the full Wan VAE to encode")
        seen = state.get(self, 0) + x.shape[2]
        state.set(self, seen)
        if final and seen % 4:
            x = torch.cat([x, x[:, :, -1:].expand(-1, -1, 4 - seen % 4, -1, -1)], dim=2)
        if self.patch > 1:
            b, t = x.shape[0], x.shape[2]
            x = F.pixel_unshuffle(x.transpose(1, 2).flatten(0, 1), self.patch).unflatten(0, (b, t)).transpose(1, 2)
        out = _run(self.encoder, x.transpose(1, 2), state)
        if out is None:
            b, _, _, h, w = x.shape
            return x.new_zeros(b, self.latent_channels, 0, h // self.spatial_stride, w // self.spatial_stride)
        return out.transpose(1, 2)
