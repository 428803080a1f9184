"""Reading and writing DiT weights: the files users already have, and our own RealCam checkpoints.

Formats (detected from key names and metadata, never from the file name):

- ``official``   — Wan2.1 / Wan2.2 official and ComfyUI names (optionally under ``model.diffusion_model.``);
- ``diffusers``  — ``WanTransformer3DModel`` names (``condition_embedder.*``, ``attn1.to_q`` …), converted;
- ``recammaster``— official names plus ``blocks.N.cam_encoder`` / ``projector``: prefix conditioning;
- ``realcam``    — official names + camera layers, with conditioning/streaming settings in the
  safetensors metadata (written by :func:`save_realcam_checkpoint`).

Only safetensors or ``torch.load(..., weights_only=True)`` are ever used: no code runs from a pickle.
The model is built on the meta device and each parameter is assigned straight from the file, so a
1.3B model never needs twice its memory. fp8 weights (``float8_e4m3fn`` / ``float8_e5m2``, with or
without ComfyUI's ``scale_weight``) are either kept in fp8 and upcast per layer at call time
(``fp8="keep"``) or upcast once on load (``fp8="upcast"``).
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from .config import (RECAMMASTER_CONDITIONING, RECAMMASTER_SAMPLING, RELEASED_CONFIGS, WAN_SAMPLING, ConditioningConfig,
                     StreamingConfig, TeacherSamplingConfig, WanConfig, get_config)
from .model.attention import BACKENDS
from .model.dit import RealCamDiT
from .model.layers import CastLinear

FORMAT_VERSION = "1"
FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
DEPTH_NET = "depth_net."     # the tensors of conditioning.pixel_guide_depth_net's network (realcam.model.depth_net)
PREFIXES = ("model.diffusion_model.", "diffusion_model.", "model.", "module.", "transformer.", "")
Fp8Policy = Literal["keep", "upcast"]
DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
          "fp16": torch.float16, "float16": torch.float16}


class WeightsError(ValueError):
    """A weights file that cannot be used as asked; the message says why and what to do."""


@dataclass
class LoadInfo:
    """What :func:`load_dit` found in a file."""

    path: str
    format: str
    arch: str
    conditioning_source: str  # "metadata", "recammaster default", "default", "argument"
    fp8: str | None = None    # None, "kept", "upcast"
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# reading files
# ---------------------------------------------------------------------------------------------------

def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and string metadata of a ``.safetensors`` or ``.pt/.pth/.ckpt/.bin`` file (no pickle code)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                metadata = dict(f.metadata() or {})
                return {k: f.get_tensor(k) for k in f.keys()}, metadata
        except (SafetensorError, OSError) as e:
            raise WeightsError(f"{path.name} is not a readable safetensors file ({e})") from None
    if suffix in (".pt", ".pth", ".ckpt", ".bin"):
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except Exception as e:  # the safe unpickler refuses code objects: say so plainly
            raise WeightsError(
                f"{path.name} cannot be read with torch.load(weights_only=True): {str(e).splitlines()[0]}. "
                "RealCam never runs code from a pickle; convert the file to .safetensors") from None
        return _unwrap_checkpoint(obj, path.name), {}
    raise WeightsError(f"{path.name}: unknown weights format {suffix!r}; use .safetensors (or .pt/.pth/.ckpt)")


def _unwrap_checkpoint(obj, name: str) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "module", "generator_ema", "generator"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"{name} does not hold a flat dict of tensors")
    return obj


# ---------------------------------------------------------------------------------------------------
# format detection and key conversion
# ---------------------------------------------------------------------------------------------------

def _strip_prefix(sd: dict[str, torch.Tensor], anchor: str) -> tuple[dict[str, torch.Tensor], str] | None:
    for prefix in PREFIXES:
        if prefix + anchor in sd:
            return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}, prefix
    return None


# (official name, diffusers WanTransformer3DModel name): prefixes when they end with ".", else whole names
_TOP_NAMES = [
    ("time_embedding.0.", "condition_embedder.time_embedder.linear_1."),
    ("time_embedding.2.", "condition_embedder.time_embedder.linear_2."),
    ("time_projection.1.", "condition_embedder.time_proj."),
    ("text_embedding.0.", "condition_embedder.text_embedder.linear_1."),
    ("text_embedding.2.", "condition_embedder.text_embedder.linear_2."),
    ("head.head.", "proj_out."),
    ("head.modulation", "scale_shift_table"),
]
_BLOCK_NAMES = [
    *[(f"{ours}.{x}.", f"{theirs}.to_{x}.") for ours, theirs in (("self_attn", "attn1"), ("cross_attn", "attn2"))
      for x in "qkv"],
    ("self_attn.o.", "attn1.to_out.0."), ("cross_attn.o.", "attn2.to_out.0."),
    *[(f"{ours}.norm_{x}.", f"{theirs}.norm_{x}.") for ours, theirs in (("self_attn", "attn1"), ("cross_attn", "attn2"))
      for x in "qk"],
    ("norm3.", "norm2."),  # the affine norm before cross-attention
    ("ffn.0.", "ffn.net.0.proj."), ("ffn.2.", "ffn.net.2."),
    ("modulation", "scale_shift_table"),
]


def _rename(key: str, to_diffusers: bool) -> str:
    m = re.match(r"(blocks\.\d+\.)(.*)$", key)
    prefix, rest = m.groups() if m else ("", key)
    for official, diffusers in _BLOCK_NAMES if m else _TOP_NAMES:
        src, dst = (official, diffusers) if to_diffusers else (diffusers, official)
        if rest == src or (src.endswith(".") and rest.startswith(src)):
            return prefix + dst + rest[len(src):]
    return key


def convert_diffusers_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``WanTransformer3DModel`` key names → official Wan names (tensors unchanged)."""
    return {_rename(k, to_diffusers=False): v for k, v in sd.items()}


def to_diffusers_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official Wan names → ``WanTransformer3DModel`` names (for exporting to diffusers users)."""
    return {_rename(k, to_diffusers=True): v for k, v in sd.items()}


def _not_a_dit_message(name: str, keys: list[str]) -> str:
    sample = ", ".join(sorted(keys)[:4])
    hint = ""
    if any(re.match(r"^(encoder|decoder)\.\d+\.", k) for k in keys):
        hint = " It looks like a tiny VAE (TAEHV): put it in models/vae_approx."
    elif any(k.startswith(("decoder.", "encoder.conv1", "conv1.", "first_stage_model.")) for k in keys):
        hint = " It looks like a VAE: put it in models/vae and load it with the VAE loader."
    elif any(k.startswith(("shared.", "encoder.block.")) for k in keys):
        hint = " It looks like a text encoder (umT5): put it in models/text_encoders."
    return (f"{name} is not a Wan DiT checkpoint: {len(keys)} tensors, none named like "
            f"'patch_embedding.weight' (official/ComfyUI) or 'condition_embedder.*' (diffusers); first keys: {sample}.{hint}")


def normalize_state_dict(sd: dict[str, torch.Tensor], metadata: dict[str, str], name: str = "file"
                         ) -> tuple[dict[str, torch.Tensor], str, list[str]]:
    """Strip prefixes and convert names. Returns (official-named state dict, format, notes)."""
    notes: list[str] = []
    if any("condition_embedder." in k for k in sd):  # diffusers also has patch_embedding: check it first
        found = _strip_prefix(sd, "condition_embedder.time_proj.weight")
        if found is None:
            raise WeightsError(_not_a_dit_message(name, list(sd)))
        found, fmt = (convert_diffusers_state_dict(found[0]), found[1]), "diffusers"
    else:
        found, fmt = _strip_prefix(sd, "patch_embedding.weight"), "official"
        if found is None:
            raise WeightsError(_not_a_dit_message(name, list(sd)))
    out, prefix = found
    if prefix:
        notes.append(f"stripped key prefix {prefix!r}")
    ignored = len(sd) - len(out)
    if ignored:
        notes.append(f"ignored {ignored} tensors outside {prefix!r}")
    if any(".k_img." in k or k.startswith("img_emb.") for k in out):
        raise WeightsError(f"{name} is a Wan image-to-video (I2V/FLF2V) model; RealCam runs on the text-to-video "
                           "backbones (Wan2.1 T2V 1.3B/14B, Wan2.2 TI2V 5B)")
    if metadata.get("format") == "realcam":
        fmt = "realcam"
    elif "blocks.0.cam_encoder.weight" in out:
        fmt = "recammaster"
    return out, fmt, notes


# ---------------------------------------------------------------------------------------------------
# architecture detection
# ---------------------------------------------------------------------------------------------------

def _describe(cfg: WanConfig) -> str:
    return f"{cfg.name} (dim {cfg.dim}, {cfg.num_layers} blocks, {cfg.in_dim} latent channels, {cfg.vae_name} VAE)"


def detect_arch(sd: dict[str, torch.Tensor], metadata: dict[str, str] | None = None,
                num_heads: int | None = None) -> WanConfig:
    """The :class:`WanConfig` of an official-named state dict (metadata first, then shapes)."""
    metadata = metadata or {}
    layers = 1 + max((int(m.group(1)) for k in sd if (m := re.match(r"blocks\.(\d{1,9})\.", k))), default=-1)
    if "arch" in metadata:
        try:
            cfg = WanConfig.from_json(metadata["arch"])
        except (TypeError, ValueError) as e:
            raise WeightsError(f"metadata 'arch' is not a valid model shape: {e}") from None
        if cfg.num_layers != layers:   # checked before a model of that size is built
            raise WeightsError(f"metadata 'arch' says {cfg.num_layers} blocks but the file holds {layers}")
        return cfg
    pe = sd["patch_embedding.weight"]
    if pe.ndim != 5:
        raise WeightsError(f"patch_embedding.weight has shape {tuple(pe.shape)}; a Wan DiT's is [dim, channels, t, h, w]")
    dim, in_dim, patch = pe.shape[0], pe.shape[1], tuple(pe.shape[2:])
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"blocks\.(\d{1,9})\.", k))}
    if blocks != set(range(layers)):
        raise WeightsError(f"the file's blocks are not numbered 0..{layers - 1} (found {len(blocks)}, the highest "
                           f"blocks.{layers - 1}); it is damaged or not a Wan DiT")
    ffn_dim = sd["blocks.0.ffn.0.weight"].shape[0] if "blocks.0.ffn.0.weight" in sd else 4 * dim
    out_dim = sd["head.head.weight"].shape[0] // (patch[0] * patch[1] * patch[2]) if "head.head.weight" in sd else in_dim
    text_dim = sd["text_embedding.0.weight"].shape[1] if "text_embedding.0.weight" in sd else 4096
    freq_dim = sd["time_embedding.0.weight"].shape[1] if "time_embedding.0.weight" in sd else 256
    cross_attn_norm = "blocks.0.norm3.weight" in sd
    for cfg in RELEASED_CONFIGS:
        if (cfg.dim, cfg.in_dim, cfg.ffn_dim, cfg.num_layers, cfg.patch_size) == (dim, in_dim, ffn_dim, layers, patch):
            return cfg
    if num_heads is None:
        if dim % 128:
            raise WeightsError(f"cannot tell the number of attention heads of a dim-{dim} model from shapes "
                               "(Wan uses head_dim 128); pass num_heads= or a config")
        num_heads = dim // 128
    try:
        return WanConfig(f"custom-d{dim}-l{layers}", dim=dim, ffn_dim=ffn_dim, num_heads=num_heads, num_layers=layers,
                         in_dim=in_dim, out_dim=out_dim, patch_size=patch, text_dim=text_dim, freq_dim=freq_dim,
                         cross_attn_norm=cross_attn_norm,
                         vae_stride=(4, 16, 16) if in_dim == 48 else (4, 8, 8))
    except ValueError as e:
        raise WeightsError(f"the tensors describe no valid Wan DiT: {e}") from None


def _trained_size(metadata: dict[str, str], name: str) -> tuple[int, int] | None:
    if "trained_latent_size" not in metadata:
        return None
    try:
        size = json.loads(metadata["trained_latent_size"])
    except ValueError:
        size = None
    if not (isinstance(size, list) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in size)):
        raise WeightsError(f"{name}: metadata 'trained_latent_size' is {metadata['trained_latent_size'][:40]!r}; "
                           "expected [height, width] in latent pixels")
    return tuple(size)


def _check_requested(found: WanConfig, requested: WanConfig, name: str) -> None:
    keys = ("dim", "ffn_dim", "num_layers", "in_dim", "out_dim", "patch_size", "text_dim", "freq_dim")
    if any(getattr(found, k) != getattr(requested, k) for k in keys):
        raise WeightsError(f"{name} is {_describe(found)}, not {_describe(requested)}: choose the matching "
                           f"config (and the {found.vae_name} VAE)")


# ---------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------

def _first(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (" …" if len(names) > n else "")


def load_state_dict_into(model: RealCamDiT, sd: dict[str, torch.Tensor], *, dtype: torch.dtype | None = None,
                         device: torch.device | str = "cpu", fp8: Fp8Policy = "upcast", name: str = "file") -> list[str]:
    """Assign tensors of an official-named state dict to ``model``'s parameters (model may be on meta).

    Missing camera layers are initialised (zero ``cam_encoder``, identity ``projector``), and so are a missing
    ``guide_embedding`` (zero: a model given ``conditioning.source_warp`` starts as the file's) and a missing
    ``guide_gate`` (zero output: ``conditioning.pixel_guide_skip`` takes nothing from the guide); any other
    missing, unexpected or wrongly shaped tensor raises :class:`WeightsError` naming the first ones.
    Returns notes about what was done.
    """
    notes: list[str] = []
    sd = dict(sd)
    sd.pop("scaled_fp8", None)
    scale_input = [k for k in sd if k.endswith(".scale_input")]
    for k in scale_input:
        sd.pop(k)
    scales = {k[: -len(".scale_weight")]: sd.pop(k) for k in [k for k in sd if k.endswith(".scale_weight")]}
    params = dict(model.named_parameters())
    missing = [k for k in params if k not in sd]
    unexpected = [k for k in sd if k not in params]
    camera_missing = [k for k in missing if ".cam_encoder." in k or ".projector." in k]
    guide_missing = [k for k in missing if k.startswith("guide_embedding.")]
    gate_missing = [k for k in missing if k.startswith("guide_gate.")]
    hard_missing = [k for k in missing if k not in camera_missing + guide_missing + gate_missing]
    if any(k.startswith(DEPTH_NET) for k in hard_missing):
        raise WeightsError(f"{name} holds no depth network ({DEPTH_NET}* tensors) but the conditioning asks for one "
                           f"(pixel_guide_depth_net {model.conditioning.pixel_guide_depth_net}): attach one with "
                           "`python -m realcam set-guide-depth-net`, or load it with pixel_guide_depth_net 0")
    if hard_missing or unexpected:
        parts = []
        if hard_missing:
            parts.append(f"{len(hard_missing)} missing keys (first: {_first(hard_missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {_first(unexpected)})")
        raise WeightsError(f"{name} does not match {model.cfg.name}: " + "; ".join(parts))
    bad_shapes = [f"{k} {tuple(sd[k].shape)} vs {tuple(params[k].shape)}" for k in params
                  if k in sd and sd[k].shape != params[k].shape]
    if bad_shapes:
        raise WeightsError(f"{name}: {len(bad_shapes)} tensors have the wrong shape for {model.cfg.name} "
                           f"(first: {_first(bad_shapes, 3)})")
    file_has_fp8 = any(t.dtype in FP8_DTYPES for t in sd.values())
    if dtype is None:
        floats = [t.dtype for k, t in sd.items()
                  if t.is_floating_point() and t.dtype not in FP8_DTYPES and not k.startswith(DEPTH_NET)]
        dtype = max(set(floats), key=floats.count) if floats else torch.bfloat16
    linear_weights = {n + ".weight" for n, m in model.named_modules() if isinstance(m, CastLinear)}
    kept = 0
    for key in list(sd):
        tensor = sd.pop(key)
        module_name, _, attr = key.rpartition(".")
        module = model.get_submodule(module_name)
        scale = scales.pop(module_name, None) if attr == "weight" else None
        if tensor.dtype in FP8_DTYPES and fp8 == "keep" and key in linear_weights:
            value = tensor.to(device)
            if scale is not None:
                module.register_buffer("scale_weight", scale.float().to(device), persistent=True)
            kept += 1
        else:       # the depth network is small and reads an argmax: kept in float32
            value = tensor.to(device=device, dtype=torch.float32 if scale is not None or key.startswith(DEPTH_NET)
                              else dtype)
            if scale is not None:
                value = (value * scale.float().to(device)).to(dtype)
        setattr(module, attr, nn.Parameter(value, requires_grad=value.is_floating_point() and value.dtype not in FP8_DTYPES))
    if scales:
        raise WeightsError(f"{name}: scale_weight for layers that have no weight: {_first(sorted(scales))}")
    for key in camera_missing + guide_missing + gate_missing:
        module_name, _, attr = key.rpartition(".")
        module = model.get_submodule(module_name)
        setattr(module, attr, nn.Parameter(torch.empty_like(params[key], device=device, dtype=dtype)))
    if guide_missing:
        model.init_guide()
        notes.append("no guide_embedding in the file: added a zero-initialised one for source_warp (the reprojected "
                     "source adds nothing until trained)")
    if gate_missing:
        model.init_guide_gate()
        notes.append("no guide_gate in the file: added one that outputs zero for pixel_guide_skip (nothing is taken "
                     "from the pixel guide until trained)")
    if camera_missing:
        model.init_camera_layers()
        notes.append("no camera layers in the file: added zero-initialised cam_encoder and identity projector "
                     "(the model computes plain Wan until trained)")
    if file_has_fp8:
        how = (f"kept in fp8 ({kept} linear layers, upcast per call)" if fp8 == "keep"
               else "upcast to " + str(dtype).replace("torch.", ""))
        notes.append(f"fp8 weights {how}")
    if scale_input:
        notes.append(f"ignored {len(scale_input)} scale_input tensors (only used by fp8 matmul kernels)")
    for n, b in model.named_buffers():
        if b.device.type == "meta":
            raise WeightsError(f"internal: buffer {n} was not loaded")
    return notes


def guide_groups(cond: ConditioningConfig) -> list[tuple]:
    """What each group of ``guide_embedding``'s input channels reads, in the order
    :meth:`realcam.model.RealCamDiT.source_guide` stacks them: the same-time source frame through every
    ``source_warp`` plane, then (``source_warp_first``) the first frame through them, then (``pixel_guide_depth``)
    the first video frame reprojected on pixels and encoded."""
    groups: list[tuple] = [("same-time", d) for d in cond.source_warp]
    if cond.source_warp_first:
        groups += [("first", d) for d in cond.source_warp]
    if cond.pixel_guide_depth:
        groups.append(("pixels", float(cond.pixel_guide_depth)))
    return groups


def regrid_guide(weight: torch.Tensor, file_cond: ConditioningConfig, cond: ConditioningConfig,
                 name: str = "file") -> torch.Tensor:
    """``guide_embedding.weight`` of a file trained with ``file_cond``'s guide, laid out for ``cond``'s
    (:func:`guide_groups`): each group the file read keeps its weights at its new place, and those the file lacks
    get zero, so the model computes exactly what the file's did until training uses them. ``cond`` must read every
    group the file read."""
    have, want = guide_groups(file_cond), guide_groups(cond)
    lost = [g for g in have if g not in want]
    if lost:
        what = {"same-time": "source_warp plane", "first": "source_warp_first through plane",
                "pixels": "pixel_guide_depth"}
        listed = ", ".join(f"{what[k]} {d:g}" for k, d in lost)
        raise WeightsError(f"{name} reads its source through {listed}, which the requested conditioning drops; its "
                           "trained weights would be lost: keep every source_warp plane, source_warp_first and "
                           "pixel_guide_depth of the file (new ones start at zero)")
    if weight.ndim < 2 or not have or weight.shape[1] % len(have):
        raise WeightsError(f"{name}: guide_embedding.weight {tuple(weight.shape)} does not split into {len(have)} "
                           "reprojections (source_warp, source_warp_first, pixel_guide_depth in its metadata)")
    per = weight.shape[1] // len(have)
    out = weight.new_zeros(weight.shape[0], per * len(want), *weight.shape[2:])
    for k, group in enumerate(have):
        j = want.index(group)
        out[:, j * per:(j + 1) * per] = weight[:, k * per:(k + 1) * per]
    return out


def load_dit(path: str | os.PathLike, *, config: WanConfig | str | None = None, dtype: torch.dtype | str | None = None,
             device: torch.device | str = "cpu", fp8: Fp8Policy = "upcast", camera_layers: bool = True,
             conditioning: ConditioningConfig | None = None, num_heads: int | None = None,
             attention: str = "auto") -> RealCamDiT:
    """Load a Wan / ReCamMaster / RealCam DiT file into a :class:`RealCamDiT`.

    ``config``: expected architecture (a :class:`WanConfig` or a name from ``realcam.config.CONFIGS``); by
    default it is detected (RealCam metadata, else tensor shapes). ``dtype``: compute/storage dtype
    (default: the file's). ``fp8``: ``"keep"`` fp8 linear weights in fp8, or ``"upcast"`` them on load.
    ``camera_layers``: add zero-initialised camera layers when the file has none. ``conditioning``:
    override the file's (RealCam metadata) or the default (ReCamMaster → prefix, else interleave); a ``source_warp``
    list that adds planes to the file's keeps its trained guide weights (:func:`regrid_guide`).
    ``attention``: the attention backend (see :mod:`realcam.model.attention`).
    The returned model carries ``.load_info`` (:class:`LoadInfo`), ``.streaming`` (:class:`StreamingConfig`) and
    ``.sampling`` (:class:`TeacherSamplingConfig`): the file's own settings, or for files without them the
    defaults of their reference (ReCamMaster's Euler on the DiffSynth grid for ReCamMaster files, official Wan's
    UniPC otherwise).
    """
    if fp8 not in ("keep", "upcast"):
        raise ValueError(f"fp8={fp8!r}; choose 'keep' or 'upcast'")
    if attention not in BACKENDS:
        raise ValueError(f"attention={attention!r}; choose one of {BACKENDS}")
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r}; choose one of {sorted(DTYPES)}")
        dtype = DTYPES[dtype]
    name = Path(path).name
    raw, metadata = read_state_dict(path)
    sd, fmt, notes = normalize_state_dict(raw, metadata, name)
    del raw
    requested = (get_config(config) if isinstance(config, str) else config) if config is not None else None
    arch = detect_arch(sd, metadata, num_heads=num_heads or (requested.num_heads if requested else None))
    if requested is not None:
        _check_requested(arch, requested, name)
        if arch.name.startswith("custom"):  # shapes agree; take the requested config's name and settings
            arch = requested
    has_camera = "blocks.0.cam_encoder.weight" in sd
    if not camera_layers and has_camera:
        raise WeightsError(f"{name} has camera layers ({fmt}); load it with camera_layers=True")
    if conditioning is not None:
        cond, cond_source = conditioning, "argument"
    elif "conditioning" in metadata:
        cond, cond_source = ConditioningConfig.from_json(metadata["conditioning"]), "metadata"
    elif fmt == "recammaster":
        cond, cond_source = RECAMMASTER_CONDITIONING, "recammaster default"
    else:
        cond, cond_source = ConditioningConfig(), "default"
    streaming = StreamingConfig.from_json(metadata["streaming"]) if "streaming" in metadata else StreamingConfig()
    if "sampling" in metadata:
        sampling = TeacherSamplingConfig.from_json(metadata["sampling"])
    else:  # the reference's own sampling for files that carry none
        sampling = RECAMMASTER_SAMPLING if fmt == "recammaster" else WAN_SAMPLING
    if "guide_embedding.weight" in sd and "conditioning" in metadata and cond.guide_reprojections:
        file_cond = ConditioningConfig.from_json(metadata["conditioning"])
        if file_cond.guide_reprojections and guide_groups(file_cond) != guide_groups(cond):
            sd["guide_embedding.weight"] = regrid_guide(sd["guide_embedding.weight"], file_cond, cond, name)
            added = [g for g in guide_groups(cond) if g not in guide_groups(file_cond)]
            notes.append(f"guide {len(guide_groups(file_cond))} → {len(guide_groups(cond))} reprojections (added: "
                         f"{', '.join(f'{k} {d:g}' for k, d in added) or 'none, reordered'}): the file's weights kept "
                         "for what it read, zero for the rest (the model starts as the file's)")
    if not cond.pixel_guide_depth_net and any(k.startswith(DEPTH_NET) for k in sd):
        for k in [k for k in sd if k.startswith(DEPTH_NET)]:
            del sd[k]
        notes.append("the file's depth network is not used: the requested conditioning has no pixel_guide_depth_net, "
                     "so the guide's depth is the sweep's")
    with torch.device("meta"):
        model = RealCamDiT(arch, camera_layers=camera_layers or has_camera, conditioning=cond)
    notes += load_state_dict_into(model, sd, dtype=dtype, device=device, fp8=fp8, name=name)
    has_fp8 = any(p.dtype in FP8_DTYPES for p in model.parameters())
    model.load_info = LoadInfo(path=str(path), format=fmt, arch=arch.name, conditioning_source=cond_source,
                               fp8=("kept" if has_fp8 else ("upcast" if any("fp8" in n for n in notes) else None)),
                               notes=notes)
    model.streaming, model.sampling = streaming, sampling
    model.trained_latent_size = _trained_size(metadata, name)
    model.attention_backend = attention
    return model.eval()


# ---------------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------------

def save_realcam_checkpoint(model: RealCamDiT, path: str | os.PathLike, *, streaming: StreamingConfig | None = None,
                            sampling: TeacherSamplingConfig | None = None, dtype: torch.dtype | None = None,
                            extra_metadata: dict[str, str] | None = None,
                            state_dict: dict[str, torch.Tensor] | None = None) -> Path:
    """Write weights (official names + camera layers) and settings to a safetensors file, atomically.

    ``streaming`` / ``sampling``: the settings to store (default: the model's own ``.streaming`` /
    ``.sampling``). ``state_dict``: tensors to write instead of ``model.state_dict()`` (a gathered FSDP
    state, EMA weights)."""

    path = Path(path)
    streaming = streaming or model.streaming
    sampling = sampling or model.sampling
    tensors = {}
    for key, value in (model.state_dict() if state_dict is None else state_dict).items():
        value = value.detach()
        if dtype is not None and value.is_floating_point() and value.dtype not in FP8_DTYPES and (
                not key.startswith(DEPTH_NET)):
            value = value.to(dtype)
        tensors[key] = value.contiguous().cpu()
    metadata = {"format": "realcam", "realcam_format_version": FORMAT_VERSION, "arch": model.cfg.to_json(),
                "conditioning": model.conditioning.to_json(), "streaming": streaming.to_json(),
                "sampling": sampling.to_json(),
                "camera_layers": json.dumps(model.camera_layers)}
    if model.trained_latent_size is not None:
        metadata["trained_latent_size"] = json.dumps(list(model.trained_latent_size))
    for k, v in (extra_metadata or {}).items():
        if k in metadata:
            raise ValueError(f"metadata key {k!r} is reserved")
        metadata[k] = str(v)
    return save_safetensors_atomic(tensors, path, metadata)


def set_guide_sweep(path: str | os.PathLike, out: str | os.PathLike, planes: tuple[float, ...],
                    smooth: tuple[float, ...] = (), views: str = "first",
                    notes: list[str] | None = None) -> ConditioningConfig:
    """Copy the RealCam checkpoint ``path`` to ``out`` (may be the same file; written atomically) with
    ``conditioning.pixel_guide_sweep`` set to ``planes`` (``()``: one plane again),
    ``conditioning.pixel_guide_sweep_smooth`` to ``smooth`` (``()``: each pixel decided alone) and
    ``conditioning.pixel_guide_views`` to ``views``, tensors and every other setting unchanged: how its pixel guide is
    made when the source's path is known, which the weights do not fix (``ConditioningConfig.pixel_guide_sweep``).
    Views other than ``nearest`` drop ``pixel_guide_agreement`` (it compares the nearer-frame guide's two views), with a
    line in ``notes``. Returns the new conditioning."""
    def drop_agreement(cond: ConditioningConfig) -> dict:
        if cond.pixel_guide_depth_net and tuple(float(d) for d in planes) != cond.pixel_guide_sweep:
            raise WeightsError(f"{Path(path).name} carries a depth network that classifies each pixel into its planes "
                               f"{', '.join(f'{d:g}' for d in cond.pixel_guide_sweep)}; other planes would misread it: "
                               "keep the planes, or detach the network first (set-guide-depth-net --net none)")
        if views == "nearest" or not cond.pixel_guide_agreement:
            return {}
        if notes is not None:
            notes.append(f"pixel_guide_agreement {cond.pixel_guide_agreement:g} dropped: it compares the two views of the "
                         "nearer-frame guide (views nearest); set it again with set-guide-strength --agreement")
        return {"pixel_guide_agreement": 0.0}

    return _set_guide_setting(path, out, "sweep", drop_agreement, pixel_guide_sweep=tuple(float(d) for d in planes),
                              pixel_guide_sweep_smooth=tuple(float(p) for p in smooth), pixel_guide_views=views)


def set_guide_strength(path: str | os.PathLike, out: str | os.PathLike, strength: float | None = None,
                       agreement: float | None = None) -> ConditioningConfig:
    """Copy the RealCam checkpoint ``path`` to ``out`` (may be the same file; written atomically) with
    ``conditioning.pixel_guide_strength`` set to ``strength`` and/or ``pixel_guide_agreement`` to ``agreement`` (None:
    kept), tensors and every other setting unchanged: how much of its pixel guide the gate takes
    (``ConditioningConfig.pixel_guide_strength``, and where the guide's two views agree ``pixel_guide_agreement``;
    both need ``pixel_guide_skip``). Returns the new conditioning."""
    changes = {k: float(v) for k, v in (("pixel_guide_strength", strength), ("pixel_guide_agreement", agreement))
               if v is not None}
    if not changes:
        raise ValueError("give a strength, an agreement strength, or both")
    return _set_guide_setting(path, out, "take more or less of", **changes)


def read_depth_net(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], tuple[float, ...], int, int]:
    """A depth network written by ``scripts/depth_net_probe.py train``, or the one a RealCam checkpoint carries
    (``pixel_guide_depth_net``): its tensors, the planes it classifies into (metadata ``planes``; a checkpoint's
    ``pixel_guide_sweep``), its width and the longer side of the frames it was trained on (metadata ``size``; files
    without it were trained on 64-pixel frames). Anything else raises :class:`WeightsError` saying what it is not."""
    from .model.depth_net import DepthNet

    name = Path(path).name
    tensors, metadata = read_state_dict(path)
    how = "train one with `python scripts/depth_net_probe.py train --out depth_net.safetensors`"
    if metadata.get("format") == "realcam":     # a checkpoint: the network it carries, if any
        try:
            cond = ConditioningConfig.from_json(metadata["conditioning"])
        except (KeyError, TypeError, ValueError) as e:
            raise WeightsError(f"{name}: a RealCam checkpoint without a readable conditioning ({e})") from None
        if not cond.pixel_guide_depth_net:
            raise WeightsError(f"{name} is a RealCam checkpoint that carries no depth network (pixel_guide_depth_net "
                               f"is 0): give a network file, or {how}")
        tensors = {k[len(DEPTH_NET):]: v for k, v in tensors.items() if k.startswith(DEPTH_NET)}
        metadata = {"planes": json.dumps(list(cond.pixel_guide_sweep)), "size": str(cond.pixel_guide_depth_net_size)}
    try:
        planes = tuple(float(d) for d in json.loads(metadata["planes"]))
        side = int(metadata.get("size", "64"))
        width = int(tensors["e1.0.weight"].shape[0])
        ConditioningConfig(camera_tokens="rays", pixel_guide_depth=1.0, pixel_guide_sweep=planes,
                           pixel_guide_depth_net=width, pixel_guide_depth_net_size=side)
    except (KeyError, IndexError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise WeightsError(f"{name} is not a depth network (its 'planes' metadata, valid planes, and an 'e1.0.weight' of a "
                           f"width that is a multiple of 8; {type(e).__name__}: {str(e)[:200]}): {how}") from None
    with torch.device("meta"):
        want = {k: v.shape for k, v in DepthNet(planes, width, side).state_dict().items()}
    wrong = sorted(k for k in set(want) | set(tensors) if k not in want or k not in tensors or tensors[k].shape != want[k]
                   or not tensors[k].is_floating_point())
    if wrong:
        raise WeightsError(f"{name} does not hold a depth network of width {width} over {len(planes)} planes: "
                           f"{len(wrong)} tensors missing, unexpected or mis-shaped (first: {_first(wrong)}): {how}")
    return tensors, planes, width, side


def set_guide_depth_net(path: str | os.PathLike, out: str | os.PathLike,
                        net: str | os.PathLike | None) -> ConditioningConfig:
    """Copy the RealCam checkpoint ``path`` to ``out`` (may be the same file; written atomically) with the depth
    network ``net`` (:func:`read_depth_net`) as its ``depth_net.*`` tensors and ``conditioning.pixel_guide_depth_net``
    set to its width (``None``: without one, the sweep deciding again), every other tensor and setting unchanged. The
    network must classify into the checkpoint's own ``pixel_guide_sweep`` planes. Returns the new conditioning."""
    name = Path(path).name
    raw, metadata = _guide_checkpoint(path, "draw through a depth network")
    cond = ConditioningConfig.from_json(metadata["conditioning"])
    raw = {k: v for k, v in raw.items() if not k.startswith(DEPTH_NET)}
    if net is None:
        cond = cond.replace(pixel_guide_depth_net=0, pixel_guide_depth_net_size=64)
    else:
        tensors, planes, width, side = read_depth_net(net)
        if not cond.pixel_guide_sweep:
            raise WeightsError(f"{name} sweeps no planes (conditioning pixel_guide_sweep is empty), which a depth network "
                               "classifies into: set them first with set-guide-sweep --planes")
        if planes != cond.pixel_guide_sweep:
            raise WeightsError(f"{Path(net).name} classifies into {len(planes)} planes ({', '.join(f'{d:g}' for d in planes[:4])}"
                               f", …), not {name}'s sweep ({len(cond.pixel_guide_sweep)}: "
                               f"{', '.join(f'{d:g}' for d in cond.pixel_guide_sweep[:4])}, …): train it on the "
                               "checkpoint's planes")
        raw.update({DEPTH_NET + k: v.float().contiguous() for k, v in tensors.items()})
        cond = cond.replace(pixel_guide_depth_net=width, pixel_guide_depth_net_size=side)
    metadata["conditioning"] = cond.to_json()
    _write_keeping_mode(raw, out, metadata)
    return cond


def grow_depth(path: str | os.PathLike, out: str | os.PathLike, after: tuple[int, ...]) -> WanConfig:
    """Copy the RealCam checkpoint ``path`` to ``out`` with a new block after each block in ``after`` (numbered as in
    ``path``; a number twice adds two): a copy of that block whose three branches' last layers (the self-attention's
    camera projector, or its output projection on a file without camera layers; the cross-attention's output
    projection; the feed-forward's second layer) are zero, so each new block adds nothing and the grown model computes
    exactly what ``path`` does, while every zeroed layer still receives a gradient (its input is the copied block's
    activations), so training grows into the new depth from where the file stood. Every other tensor and setting
    is kept; the metadata's ``arch`` gets the new block count and ``grown_from`` records what was grown. Returns the
    new architecture."""
    name = Path(path).name
    raw, metadata = read_state_dict(path)
    if metadata.get("format") != "realcam" or "arch" not in metadata:
        raise WeightsError(f"{name} is not a RealCam checkpoint with its 'arch' in the metadata (written by training); "
                           "only those can be grown")
    arch = detect_arch(raw, metadata)
    bad = [i for i in after if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < arch.num_layers]
    if not after or bad:
        raise WeightsError(f"blocks to grow after: {list(after)[:8]!r}; give one or more of 0..{arch.num_layers - 1} "
                           f"({name} has {arch.num_layers} blocks)")
    blocks: list[dict[str, torch.Tensor]] = [{} for _ in range(arch.num_layers)]
    rest = {}
    for k, v in raw.items():
        m = re.match(r"blocks\.(\d{1,9})\.(.+)$", k)
        if m:
            blocks[int(m.group(1))][m.group(2)] = v
        else:
            rest[k] = v
    if not all(blocks):
        raise WeightsError(f"{name}: blocks.{[i for i, b in enumerate(blocks) if not b][0]} is missing; the file is "
                           "damaged")
    attn_out = "projector" if "projector.weight" in blocks[0] else "self_attn.o"
    last_layers = (attn_out, "cross_attn.o", "ffn.2")
    grown = []
    for i, block in enumerate(blocks):
        grown.append(block)
        for _ in range(list(after).count(i)):
            grown.append({k: (torch.zeros_like(v) if k.rsplit(".", 1)[0] in last_layers else v.clone())
                          for k, v in block.items()})
    tensors = dict(rest)
    for i, block in enumerate(grown):
        tensors.update({f"blocks.{i}.{k}": v.contiguous() for k, v in block.items()})
    new = arch.replace(num_layers=len(grown))
    record = _grown_record(metadata, name)
    record.append({"layers": arch.num_layers, "after": sorted(after), "file": name})
    metadata["arch"], metadata["grown_from"] = new.to_json(), json.dumps(record)
    _write_keeping_mode(tensors, out, metadata)
    return new


def _grown_record(metadata: dict[str, str], name: str) -> list:
    """The metadata's ``grown_from`` list (what the file was grown from, oldest first; empty when never grown)."""
    try:
        record = json.loads(metadata.get("grown_from", "[]"))
    except ValueError:
        record = None
    if not isinstance(record, list):
        raise WeightsError(f"{name}: metadata 'grown_from' is {metadata['grown_from'][:40]!r}; expected the JSON list "
                           "grow-depth and grow-width write (remove the key, or grow the file it was grown from)")
    return record


# How grow-width widens each DiT tensor (its key without "blocks.N."): (the axis that is the output: "dim" for the
# residual stream or the attention's channels, "ffn" for the feed-forward's hidden units, "dim6" for the six
# modulation chunks of the time projection; the axis that is the input, "dim" or "ffn"). An output axis copies each
# channel; an input axis splits each weight among the copies of its input channel.
_WIDEN: dict[str, tuple[str | None, str | None]] = {
    **{f"{a}.{p}.weight": ("dim", "dim") for a in ("self_attn", "cross_attn") for p in "qkvo"},
    **{f"{a}.{p}.bias": ("dim", None) for a in ("self_attn", "cross_attn") for p in "qkvo"},
    **{f"{a}.{n}.weight": ("dim", None) for a in ("self_attn", "cross_attn") for n in ("norm_q", "norm_k")},
    "norm3.weight": ("dim", None), "norm3.bias": ("dim", None),
    "ffn.0.weight": ("ffn", "dim"), "ffn.0.bias": ("ffn", None),
    "ffn.2.weight": ("dim", "ffn"), "ffn.2.bias": ("dim", None),
    "modulation": ("dim", None),
    "cam_encoder.weight": ("dim", None), "cam_encoder.bias": ("dim", None),
    "projector.weight": ("dim", "dim"), "projector.bias": ("dim", None),
    **{f"{e}.{p}": ("dim", None) for e in ("patch_embedding", "guide_embedding") for p in ("weight", "bias")},
    **{f"{e}.0.{p}": ("dim", None) for e in ("text_embedding", "time_embedding") for p in ("weight", "bias")},
    **{f"{e}.2.weight": ("dim", "dim") for e in ("text_embedding", "time_embedding")},
    **{f"{e}.2.bias": ("dim", None) for e in ("text_embedding", "time_embedding")},
    "time_projection.1.weight": ("dim6", "dim"), "time_projection.1.bias": ("dim6", None),
    **{f"{h}.head.weight": (None, "dim") for h in ("head", "guide_gate")},
    **{f"{h}.head.bias": (None, None) for h in ("head", "guide_gate")},
    **{f"{h}.modulation": ("dim", None) for h in ("head", "guide_gate")},
}
GROW_WIDTH_MAX_FACTOR = 8


def grow_width(path: str | os.PathLike, out: str | os.PathLike, factor: int = 2, noise: float = 0.1,
               seed: int = 0) -> WanConfig:
    """Copy the RealCam checkpoint ``path`` to ``out`` ``factor`` times as wide (``dim``, ``ffn_dim`` and the number of
    heads multiplied; the head size kept), computing what ``path`` does (Net2Net's function-preserving widening):
    every channel of the residual stream, each attention head and each feed-forward unit appears ``factor`` times, a
    head's copies side by side (so a group of heads that shares a RoPE depth keeps its depth), and every weight that
    reads a copied channel is split among its copies. LayerNorm and RMSNorm see the same mean and spread over copies,
    so each layer's output is its old output, copied. The split is the weight divided by ``factor`` plus seeded noise
    that sums to zero over the copies (``noise``: its spread relative to that weight tensor's own, divided by
    ``factor``); without it the copies would receive the same gradient and stay copies for ever. The depth network
    and every setting are kept; the metadata's ``arch`` gets the new shape and ``grown_from`` records the growth.
    Returns the new architecture."""
    name = Path(path).name
    raw, metadata = read_state_dict(path)
    if metadata.get("format") != "realcam" or "arch" not in metadata:
        raise WeightsError(f"{name} is not a RealCam checkpoint with its 'arch' in the metadata (written by training); "
                           "only those can be grown")
    if not isinstance(factor, int) or isinstance(factor, bool) or not 2 <= factor <= GROW_WIDTH_MAX_FACTOR:
        raise WeightsError(f"factor {factor!r}: give a whole number from 2 to {GROW_WIDTH_MAX_FACTOR} (how many times "
                           "as wide)")
    if not isinstance(noise, (int, float)) or isinstance(noise, bool) or not 0.0 <= noise <= 1.0:
        raise WeightsError(f"noise {noise!r}: give a number from 0 to 1 (0: the copies stay copies while training)")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise WeightsError(f"seed {seed!r}: give a whole number >= 0")
    arch = detect_arch(raw, metadata)
    new = arch.replace(dim=arch.dim * factor, ffn_dim=arch.ffn_dim * factor, num_heads=arch.num_heads * factor)
    hd = arch.head_dim
    wide = torch.arange(new.dim)
    dim_map = (wide // hd // factor) * hd + wide % hd                  # new channel -> the old one it copies
    maps = {"dim": dim_map, "ffn": torch.arange(new.ffn_dim) // factor,
            "dim6": torch.cat([c * arch.dim + dim_map for c in range(6)])}
    gen = torch.Generator().manual_seed(seed)
    tensors = {}
    for k, v in raw.items():
        if k.startswith(DEPTH_NET):
            tensors[k] = v
            continue
        rule = _WIDEN.get(re.sub(r"^blocks\.\d{1,9}\.", "", k))
        if rule is None:
            raise WeightsError(f"{name}: tensor {k[:120]!r} is not one grow-width knows how to widen (it widens the "
                               "tensors of this project's RealCam DiT)")
        rows, cols = rule
        w = v.float()
        if rows is not None:
            axis = w.ndim - 1 if k.endswith("modulation") else 0
            expected = maps[rows].numel() // factor
            if w.shape[axis] != expected:
                raise WeightsError(f"{name}: {k} has {w.shape[axis]} channels where its arch says {expected}; the file "
                                   "is damaged")
            w = w.index_select(axis, maps[rows])
        if cols is not None:
            if w.ndim < 2 or w.shape[1] != maps[cols].numel() // factor:
                raise WeightsError(f"{name}: {k} has shape {tuple(v.shape)}, not the input its arch says; the file "
                                   "is damaged")
            w = w.index_select(1, maps[cols]) / factor
            z = torch.randn(w.shape, generator=gen)
            per_old = torch.zeros(w.shape[0], v.shape[1], *w.shape[2:]).index_add_(1, maps[cols], z) / factor
            z = z - per_old.index_select(1, maps[cols])                   # sums to zero over a channel's copies
            w = w + z * (noise * v.float().std().nan_to_num() / factor)
        tensors[k] = w.to(v.dtype).contiguous()
    record = _grown_record(metadata, name)
    record.append({"dim": arch.dim, "factor": factor, "noise": noise, "seed": seed, "file": name})
    metadata["arch"], metadata["grown_from"] = new.to_json(), json.dumps(record)
    _write_keeping_mode(tensors, out, metadata)
    return new


# the shape fields fresh_like may change; the rest are fixed by the latents and text features the file reads
FRESH_SHAPE = ("dim", "ffn_dim", "num_heads", "num_layers", "patch_size", "freq_dim", "rope_theta")
FRESH_MAX_PARAMS = 2_000_000_000   # 8 GB of float32 weights: above Wan2.1 1.3B, far above anything trained from the start


def fresh_like(path: str | os.PathLike, out: str | os.PathLike, changes: dict, seed: int = 0) -> WanConfig:
    """Write to ``out`` a RealCam checkpoint with fresh weights (the model's own initialisation, seeded by ``seed``,
    as a teacher trained from the start gets) in ``path``'s shape with ``changes`` (fields of :data:`FRESH_SHAPE`:
    width, heads, depth, patch, …), carrying ``path``'s conditioning, streaming and sampling settings and, when it has
    one, its depth network (trained on its own, on depths: not the DiT's to learn again), so that a teacher of
    another shape trains from the start with everything else as the file has it (``model.init``; docs/method.md,
    "A teacher of another shape"). The metadata's ``fresh_from`` records the file, the changes and the seed. Shapes of
    more than :data:`FRESH_MAX_PARAMS` parameters are refused before anything is built. Returns the new shape."""
    name = Path(path).name
    raw, metadata = read_state_dict(path)
    if metadata.get("format") != "realcam" or "arch" not in metadata or "conditioning" not in metadata:
        raise WeightsError(f"{name} is not a RealCam checkpoint with its 'arch' and 'conditioning' in the metadata "
                           "(written by training); only those carry the settings to start a model like it")
    if not isinstance(changes, dict):
        raise WeightsError(f"changes: expected field=value pairs, got {type(changes).__name__}")
    fixed = sorted(k for k in changes if k not in FRESH_SHAPE)
    if fixed:
        raise WeightsError(f"{', '.join(map(str, fixed))[:200]}: not a shape a fresh model may change; give only "
                           f"{', '.join(FRESH_SHAPE)} (the latent channels, VAE stride and text features are the "
                           f"data's)")
    arch = detect_arch(raw, metadata)
    try:
        new = WanConfig.from_dict({**arch.to_dict(), **changes})
        cond = ConditioningConfig.from_json(metadata["conditioning"])
        streaming = StreamingConfig.from_json(metadata["streaming"]) if "streaming" in metadata else StreamingConfig()
        sampling = (TeacherSamplingConfig.from_json(metadata["sampling"]) if "sampling" in metadata
                    else TeacherSamplingConfig())
        camera_layers = json.loads(metadata.get("camera_layers", "true"))
    except ValueError as e:
        raise WeightsError(f"{name} with {str(changes)[:200]}: {str(e)[:300]}") from None
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise WeightsError(f"seed {seed!r}: give a whole number >= 0")
    with torch.device("meta"):
        size = sum(p.numel() for p in RealCamDiT(new, camera_layers=camera_layers is True, conditioning=cond).parameters())
    if size > FRESH_MAX_PARAMS:
        raise WeightsError(f"{name} with {str(changes)[:200]}: {size / 1e9:.1f} B parameters, over the "
                           f"{FRESH_MAX_PARAMS / 1e9:.0f} B a model trained from the start here may have: give a "
                           "smaller dim, ffn_dim or num_layers")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RealCamDiT(new, camera_layers=camera_layers is True, conditioning=cond)
    if model.depth_net is not None:
        net = {k[len(DEPTH_NET):]: v for k, v in raw.items() if k.startswith(DEPTH_NET)}
        try:
            model.depth_net.load_state_dict(net)
        except RuntimeError as e:
            raise WeightsError(f"{name}: its depth network does not load ({str(e)[:200]}); the file is damaged") from None
    model.streaming, model.sampling = streaming, sampling
    save_realcam_checkpoint(model, out, extra_metadata={"fresh_from": json.dumps(
        {"file": name, "changes": {k: changes[k] for k in sorted(changes)}, "seed": seed})})
    return new


def _guide_checkpoint(path: str | os.PathLike, what: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and metadata of the RealCam checkpoint ``path``, which must read a pixel guide."""
    name = Path(path).name
    raw, metadata = read_state_dict(path)
    if metadata.get("format") != "realcam" or "conditioning" not in metadata:
        raise WeightsError(f"{name} is not a RealCam checkpoint with its conditioning in the metadata (written by "
                           "training); only those carry a pixel guide to set")
    if not ConditioningConfig.from_json(metadata["conditioning"]).pixel_guide_depth:
        raise WeightsError(f"{name} reads no pixel guide (conditioning pixel_guide_depth is 0): nothing to {what}")
    return raw, metadata


def _write_keeping_mode(tensors: dict[str, torch.Tensor], out: str | os.PathLike, metadata: dict[str, str]) -> None:
    mode = os.stat(out).st_mode & 0o777 if Path(out).exists() else None
    save_safetensors_atomic(tensors, out, metadata)
    if mode is not None:        # a file replaced keeps its permissions
        os.chmod(out, mode)


def _set_guide_setting(path: str | os.PathLike, out: str | os.PathLike, what: str, also=None,
                       **changes) -> ConditioningConfig:
    """``path`` copied to ``out`` with these pixel-guide settings of its conditioning changed (checked as a whole);
    ``also(conditioning)``: more changes that depend on the file's own settings."""
    raw, metadata = _guide_checkpoint(path, what)
    cond = ConditioningConfig.from_json(metadata["conditioning"])
    cond = cond.replace(**changes, **(also(cond) if also is not None else {}))
    metadata["conditioning"] = cond.to_json()
    _write_keeping_mode(raw, out, metadata)
    return cond


def save_safetensors_atomic(tensors: dict[str, torch.Tensor], path: str | os.PathLike,
                            metadata: dict[str, str] | None = None) -> Path:
    """Write a safetensors file through a temporary file and a rename: never a half-written file."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
