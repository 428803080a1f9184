"""Loading VAE files: Wan2.1 / Wan2.2 (official or ComfyUI names; diffusers names for 2.1) and TAEHV
tiny VAEs. The kind and the widths are read from the tensors, never from the file name."""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ..weights import WeightsError, read_state_dict
from .taehv import TinyVAE
from .video_vae import VideoVAE
from .wan21 import Wan21VAEConfig, WanVAE21
from .wan22 import Wan22VAEConfig, WanVAE22

PREFIXES = ("first_stage_model.", "vae.", "")


def _indices(sd: dict, prefix: str) -> list[int]:
    found = {int(m.group(1)) for k in sd if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return sorted(found)


def _wan21_config(sd: dict) -> Wan21VAEConfig:
    dim = sd["encoder.conv1.weight"].shape[0]
    z = sd["conv2.weight"].shape[0]
    outs, temporal, blocks, per_stage = [], [], 0, []
    for i in _indices(sd, "encoder.downsamples."):
        p = f"encoder.downsamples.{i}."
        if p + "resample.1.weight" in sd:
            temporal.append(p + "time_conv.weight" in sd)
            per_stage.append(blocks)
            blocks = 0
        else:
            outs.append(sd[p + "residual.2.weight"].shape[0])
            blocks += 1
    per_stage.append(blocks)
    nrb = per_stage[0]
    mult = tuple(outs[s * nrb] // dim for s in range(len(per_stage)))
    return Wan21VAEConfig(dim=dim, z_dim=z, dim_mult=mult, num_res_blocks=nrb,
                          temporal_downsample=tuple(temporal) + (False,) * (len(mult) - 1 - len(temporal)))


def _wan22_config(sd: dict) -> Wan22VAEConfig:
    dim = sd["encoder.conv1.weight"].shape[0]
    z = sd["conv2.weight"].shape[0]
    stages = _indices(sd, "encoder.downsamples.")
    mult, temporal = [], []
    nrb = 0
    for s in stages:
        p = f"encoder.downsamples.{s}.downsamples."
        mult.append(sd[p + "0.residual.2.weight"].shape[0] // dim)
        inner = _indices(sd, p)
        res = [i for i in inner if p + f"{i}.residual.2.weight" in sd]
        nrb = nrb or len(res)
        temporal.append(any(p + f"{i}.time_conv.weight" in sd for i in inner))
    dec_dim = sd["decoder.conv1.weight"].shape[0] // mult[-1]
    return Wan22VAEConfig(dim=dim, dec_dim=dec_dim, z_dim=z, dim_mult=tuple(mult), num_res_blocks=nrb,
                          temporal_downsample=tuple(temporal[:len(mult) - 1]))  # the last stage has no downsampler


def convert_diffusers_wan21(sd: dict[str, torch.Tensor], num_res_blocks: int) -> dict[str, torch.Tensor]:
    """diffusers ``AutoencoderKLWan`` (Wan2.1) names → official names."""
    out = {}
    per_up_stage = num_res_blocks + 2  # (nrb + 1) residual blocks + one upsampler
    for k, v in sd.items():
        n = k
        n = re.sub(r"^(encoder|decoder)\.conv_in\.", r"\1.conv1.", n)
        n = re.sub(r"^(encoder|decoder)\.norm_out\.", r"\1.head.0.", n)
        n = re.sub(r"^(encoder|decoder)\.conv_out\.", r"\1.head.2.", n)
        n = re.sub(r"^quant_conv\.", "conv1.", n)
        n = re.sub(r"^post_quant_conv\.", "conv2.", n)
        n = re.sub(r"^(encoder|decoder)\.mid_block\.resnets\.0\.", r"\1.middle.0.", n)
        n = re.sub(r"^(encoder|decoder)\.mid_block\.attentions\.0\.", r"\1.middle.1.", n)
        n = re.sub(r"^(encoder|decoder)\.mid_block\.resnets\.1\.", r"\1.middle.2.", n)
        n = re.sub(r"^encoder\.down_blocks\.", "encoder.downsamples.", n)
        m = re.match(r"^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers)\.(\d+)\.(.*)$", n)
        if m:
            stage, kind, j, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            index = stage * per_up_stage + (j if kind == "resnets" else num_res_blocks + 1)
            n = f"decoder.upsamples.{index}.{rest}"
        n = re.sub(r"\.norm1\.gamma$", ".residual.0.gamma", n)
        n = re.sub(r"\.conv1\.(weight|bias)$", r".residual.2.\1", n) if re.search(r"(downsamples|upsamples|middle)\.\d+\.conv1\.", n) else n
        n = re.sub(r"\.norm2\.gamma$", ".residual.3.gamma", n)
        n = re.sub(r"(downsamples|upsamples|middle)\.(\d+)\.conv2\.", r"\1.\2.residual.6.", n)
        n = re.sub(r"\.conv_shortcut\.", ".shortcut.", n)
        out[n] = v
    return out


def load_vae(path: str | os.PathLike, *, dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> VideoVAE:
    """Load a VAE file from ``models/vae`` (Wan2.1/2.2) or ``models/vae_approx`` (TAEHV ``taew2_*``)."""
    name = Path(path).name
    raw, metadata = read_state_dict(path)
    sd = None
    for prefix in PREFIXES:
        if any(k.startswith(prefix + "decoder.") for k in raw):
            sd = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
            break
    if sd is None:
        if "patch_embedding.weight" in raw or any(k.endswith("patch_embedding.weight") for k in raw):
            raise WeightsError(f"{name} is a diffusion model (DiT), not a VAE: put it in models/diffusion_models")
        raise WeightsError(f"{name} is not a Wan VAE or TAEHV file (no 'decoder.*' tensors); first keys: "
                           f"{', '.join(sorted(raw)[:4])}")
    if "decoder.conv_in.weight" in sd:  # diffusers layout
        if "decoder.up_blocks.0.resnets.0.conv1.weight" not in sd:
            raise WeightsError(f"{name}: unrecognised diffusers VAE layout")
        if sd["decoder.conv_in.weight"].shape[1] != 16 and "decoder.up_blocks.0.avg_shortcut" in "".join(sd):
            raise WeightsError(f"{name}: the diffusers Wan2.2 VAE layout is not supported; use the ComfyUI/official "
                               "file wan2.2_vae.safetensors")
        nrb = len(_indices(sd, "decoder.up_blocks.0.resnets.")) - 1
        sd = convert_diffusers_wan21(sd, nrb)
    if "decoder.middle.0.residual.0.gamma" in sd:
        if "decoder.upsamples.0.upsamples.0.residual.2.weight" in sd:
            model, kind = WanVAE22(_wan22_config(sd)), "wan2.2"
        else:
            model, kind = WanVAE21(_wan21_config(sd)), "wan2.1"
    elif "decoder.1.weight" in sd:
        ch = sd["decoder.1.weight"].shape[1]
        if ch not in (16, 48):
            raise WeightsError(f"{name} is a tiny VAE for {ch}-channel latents; RealCam supports Wan2.1 (16) and Wan2.2 (48)")
        widths = tuple(sd[f"decoder.{i}.weight"].shape[0] for i in (1, 8, 14, 20) if f"decoder.{i}.weight" in sd)
        if len(widths) != 4:
            raise WeightsError(f"{name}: a tiny VAE decoder needs decoder.1/8/14/20 convolutions; some are missing")
        enc = sd["encoder.0.weight"].shape[0] if "encoder.0.weight" in sd else 64
        stride = metadata.get("spatial_stride", "8")       # the tensors do not say it (see TinyVAE)
        if stride not in ("4", "8"):
            raise WeightsError(f"{name}: metadata 'spatial_stride' is {stride[:20]!r}; a tiny VAE's is '8' (TAEHV) or '4'")
        model = TinyVAE(ch, with_encoder="encoder.0.weight" in sd, encoder_width=enc, decoder_widths=widths,
                        spatial_stride=int(stride))
        kind = "taehv-wan2.2" if ch == 48 else "taehv-wan2.1"
    else:
        raise WeightsError(f"{name}: unrecognised VAE layout (first keys: {', '.join(sorted(sd)[:4])})")
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        raise WeightsError(f"{name} does not match a {kind} VAE: {len(missing)} missing keys (first: "
                           f"{', '.join(missing[:4])}); {len(unexpected)} unexpected (first: {', '.join(unexpected[:4])})")
    bad = [k for k in expected if expected[k].shape != sd[k].shape]
    if bad:
        raise WeightsError(f"{name}: {len(bad)} tensors have unexpected shapes (first: {bad[0]} "
                           f"{tuple(sd[bad[0]].shape)} vs {tuple(expected[bad[0]].shape)})")
    model.load_state_dict(sd)
    if dtype is None:
        dtype = next(iter(sd.values())).dtype if next(iter(sd.values())).is_floating_point() else torch.float32
    return VideoVAE(model.to(device=device, dtype=dtype).eval(), kind)
