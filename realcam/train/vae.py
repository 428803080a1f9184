"""The ``vae`` stage: the project's own tiny video autoencoder (TAEHV layout at small width).

No Wan VAE can be downloaded here, so the embedded demo model needs its own. The encoder and decoder are
:class:`realcam.vae.taehv.TinyVAE` (the layout ``load_vae`` reads), trained end to end on clips of the
procedural videos: ``L1 + MSE`` reconstruction (plus, optionally, an L1 on colour alone: without it a narrow
encoder spends its channels on brightness and renders dark coloured regions grey), a small penalty that keeps the latents near zero mean and
unit variance (the scale the DiT's flow matching assumes), and a little latent noise in front of the decoder
so that it tolerates generated latents.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..vae.layers import StreamState
from ..vae.taehv import TinyVAE
from .config import TrainConfig, VAESpec
from .loop import Dist, Part, Stage


class VideoClips:
    """Every ``camNN.mp4`` of a MultiCamVideo folder in memory (uint8); a batch is random windows of
    ``frames`` frames, each cropped to a random ``crop`` × ``crop`` square when ``crop`` is set (the VAE is
    convolutional: crops show it as many edges for a fraction of the compute)."""

    def __init__(self, root: str | Path, frames: int, max_videos: int = 0, crop: int = 0) -> None:
        from ..data.multicam import find_scenes, read_video

        paths = [s.root / "videos" / f"{c}.mp4" for s in find_scenes(root) for c in s.cameras]
        if max_videos:
            paths = paths[:max_videos]
        self.videos = [(read_video(p) * 255).round().to(torch.uint8) for p in paths]
        short = [p for p, v in zip(paths, self.videos) if v.shape[0] < frames]
        if short:
            raise ValueError(f"{len(short)} videos are shorter than vae.clip_frames={frames} (first: {short[0]})")
        small = [p for p, v in zip(paths, self.videos) if crop and min(v.shape[1:3]) < crop]
        if small:
            raise ValueError(f"{len(small)} videos are smaller than vae.crop={crop} px (first: {small[0]})")
        self.frames, self.crop = frames, crop

    def __len__(self) -> int:
        return len(self.videos)

    def batch(self, indices: list[int], generator: torch.Generator) -> dict[str, torch.Tensor]:
        clips = []
        for i in indices:
            v = self.videos[i]
            start = int(torch.randint(v.shape[0] - self.frames + 1, (1,), generator=generator))
            clip = v[start:start + self.frames]
            if self.crop:
                y, x = (int(torch.randint(n - self.crop + 1, (1,), generator=generator)) for n in clip.shape[1:3])
                clip = clip[:, y:y + self.crop, x:x + self.crop]
            clips.append(clip)
        return {"frames": torch.stack(clips).permute(0, 4, 1, 2, 3).float() / 255}  # [B, 3, T, H, W]


class VAELoss(nn.Module):
    def __init__(self, vae: TinyVAE, spec: VAESpec) -> None:
        super().__init__()
        self.vae, self.spec = vae, spec

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator,
                shared: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        x = batch["frames"].to(next(self.vae.parameters()).device)
        z = self.vae.encode_frames(x, StreamState())
        noisy = z + self.spec.latent_noise * torch.randn(z.shape, generator=generator).to(z)
        y = self.vae.decode_latents(noisy, StreamState())
        y = y[:, :, :x.shape[2]]
        l1, mse = F.l1_loss(y, x), F.mse_loss(y, x)
        stats = z.mean().square() + (z.var() - 1).square()
        chroma = F.l1_loss(y - y.mean(1, keepdim=True), x - x.mean(1, keepdim=True))
        loss = l1 + mse + self.spec.stats_weight * stats + self.spec.chroma_weight * chroma
        psnr = -10 * torch.log10(F.mse_loss(y.detach().clamp(0, 1), x))
        return loss, {"l1": float(l1.detach()), "chroma_l1": float(chroma.detach()), "psnr": float(psnr),
                      "latent_std": float(z.detach().std())}


def save_vae(model: nn.Module, path: Path, state: dict[str, torch.Tensor]) -> None:
    """Safetensors in the TAEHV key layout (``load_vae`` detects widths from the tensors) + metadata."""
    from ..weights import save_safetensors_atomic

    meta = {"format": "realcam-tiny-vae", "latent_channels": str(model.latent_channels),
            "encoder_width": str(model.encoder_width), "decoder_widths": json.dumps(list(model.decoder_widths)),
            "spatial_stride": str(model.spatial_stride)}
    save_safetensors_atomic({k: v.detach().float().contiguous().cpu() for k, v in state.items()}, path, meta)


def build_vae(cfg: TrainConfig, d: Dist) -> Stage:
    spec = cfg.vae
    if (spec.clip_frames - 1) % 4:
        raise ValueError(f"vae.clip_frames must be 4k+1, got {spec.clip_frames}")
    vae = TinyVAE(spec.latent_channels, encoder_width=spec.encoder_width,
                  decoder_widths=tuple(spec.decoder_widths), spatial_stride=spec.spatial_stride).to(d.device)
    if spec.crop % 32:
        raise ValueError(f"vae.crop must be a multiple of 32 pixels (0: whole frames), got {spec.crop}")
    data = VideoClips(cfg.data, spec.clip_frames, spec.max_videos, spec.crop)
    part = Part("vae", vae, VAELoss(vae, spec), cfg.optim, save=save_vae, blocks=lambda m: [])
    n = sum(p.numel() for p in vae.parameters())
    return Stage([part], data.batch, len(data), f"tiny VAE {n / 1e6:.3f}M params; {len(data)} videos")
