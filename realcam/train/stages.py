"""The three DiT training stages (docs/method.md) as :class:`Stage` builders for the common loop.

- ``teacher``: bidirectional interleaved (or prefix) teacher; flow matching + motion loss; by default only
  self-attention and camera layers train (``model.trainable='all'`` trains everything, e.g. from scratch).
- ``causal``: the student's initialisation; flow matching under the block-causal mask with per-chunk
  noise levels and a sampled sink/window.
- ``distill``: Self-Forcing DMD. Generator = the causal student; real score = the frozen teacher; fake
  score (critic) = a copy of the teacher trained by flow matching on generator samples; critic every step,
  generator every ``distill.generator_every`` steps; EMA of the generator.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import nn

from ..config import CONDITIONING_PRESETS, get_config
from ..model import RealCamDiT
from ..weights import DEPTH_NET, load_dit, save_realcam_checkpoint
from .config import TrainConfig
from .data import LatentPairs
from .loop import Dist, Part, Stage
from .losses import CriticLoss, DMDGeneratorLoss, FlowMatchingLoss

SELF_ATTN_AND_CAMERA = ("self_attn.", "cam_encoder.", "projector.", "guide_embedding.", "guide_gate.")


def build_model(cfg: TrainConfig, device: torch.device, init: str | None = None) -> RealCamDiT:
    """A fresh model from ``model.config`` (+ overrides), or the checkpoint ``init`` (default ``model.init``)."""
    spec = cfg.model
    if spec.conditioning not in CONDITIONING_PRESETS:
        raise ValueError(f"model.conditioning {spec.conditioning!r}; choose one of {', '.join(CONDITIONING_PRESETS)}")
    cond = dataclasses.replace(CONDITIONING_PRESETS[spec.conditioning], **spec.conditioning_overrides)
    init = init if init is not None else spec.init
    if init:
        explicit = spec.conditioning != "interleave" or bool(spec.conditioning_overrides)
        model = load_dit(init, dtype=torch.float32, device=device, conditioning=cond if explicit else None)
    else:
        arch = dataclasses.replace(get_config(spec.config), **spec.overrides) if spec.overrides else get_config(spec.config)
        model = RealCamDiT(arch, camera_layers=True, conditioning=cond).to(device)
    if cfg.compile:       # in place: the state dict, checkpoints and optimiser see the same parameters
        model.compile(dynamic=False)
    return model.float().train()


TRAINABLE = {"camera_self_attn": SELF_ATTN_AND_CAMERA, "all": ("",), "guide_gate": ("guide_gate.",)}


def set_trainable(model: nn.Module, which: str) -> int:
    """Which parameters train; returns their number. ``camera_self_attn`` (docs/method.md, teacher), ``all``, or
    ``guide_gate``: only the head that decides how much of the pixel guide to take (models with
    ``pixel_guide_skip``), the rest frozen, so its forward needs no gradient and a step costs about a forward. The
    depth network of ``pixel_guide_depth_net`` never trains here: it is trained on its own, on depths, and the DiT's
    losses do not reach it (the guide it draws comes with the data)."""
    if which not in TRAINABLE:
        raise ValueError(f"model.trainable {which!r}; choose one of {', '.join(TRAINABLE)}")
    n = 0
    for name, p in model.named_parameters():
        p.requires_grad_(any(s in name for s in TRAINABLE[which]) and not name.startswith(DEPTH_NET))
        n += p.numel() if p.requires_grad else 0
    if n == 0:
        raise ValueError(f"model.trainable {which!r}: the model has no such parameters"
                         + (" (guide_gate needs conditioning.pixel_guide_skip)" if which == "guide_gate" else ""))
    return n


def _saver(stage: str):
    """Deployable weights carry the model's own settings (``model.streaming`` / ``model.sampling``), which
    the stage builder set from the initial checkpoint and the config: one object from causal init to
    distillation to the saved student."""
    def save(model: nn.Module, path: Path, state: dict[str, torch.Tensor]) -> None:
        save_realcam_checkpoint(model, path, state_dict=state, extra_metadata={"trained_stage": stage})
    return save


def _data(cfg: TrainConfig, model: RealCamDiT) -> LatentPairs:
    if cfg.source_camera_dropout and not model.conditioning.source_cameras:
        raise ValueError(f"source_camera_dropout={cfg.source_camera_dropout}: the model does not read source cameras; "
                         f"set model.conditioning_overrides.source_cameras=true (with camera_tokens: rays) or drop it")
    data = LatentPairs(cfg.data, pose_reference=model.conditioning.pose_reference, text_dim=model.cfg.text_dim,
                       source_camera_dropout=cfg.source_camera_dropout, same_camera_share=cfg.same_camera_share,
                       same_camera_withheld=cfg.same_camera_withheld,
                       pixel_guide=((model.conditioning.pixel_guide_depth, model.conditioning.ray_fov_deg)
                                    if model.conditioning.pixel_guide_depth else None),
                       pixel_guide_sweep=model.conditioning.pixel_guide_sweep,
                       pixel_guide_sweep_smooth=model.conditioning.pixel_guide_sweep_smooth,
                       pixel_guide_views=model.conditioning.pixel_guide_views,
                       pixel_guide_depth_net=model.depth_net.digest() if model.depth_net is not None else None)
    if data.index["latent_channels"] != model.cfg.in_dim:
        raise ValueError(f"{cfg.data} holds {data.index['latent_channels']}-channel latents ({data.index['vae']}) but the "
                         f"model reads {model.cfg.in_dim}")
    size = cfg.video.size()
    if size is not None:     # the config says what the data is: check it is
        # pixels per latent cell: stored by preprocess (older folders: the Wan VAE's for the channel count)
        stride = int(data.index.get("spatial_stride", 16 if model.cfg.in_dim == 48 else 8))
        want = ((size[0] - 1) // 4 + 1, size[1] // stride, size[2] // stride)
        if tuple(data.latents.shape[-3:]) != want:
            raise ValueError(f"{cfg.data} holds {tuple(data.latents.shape[-3:])} latents (frames, h, w) but video "
                             f"{size[0]}x{size[1]}x{size[2]} encodes to {want}: preprocess at that size, or set video.*")
    model.trained_latent_size = tuple(data.latents.shape[-2:])    # saved with it: inference warns at other sizes
    return data


def build_flow_matching(cfg: TrainConfig, d: Dist) -> Stage:
    model = build_model(cfg, d.device)
    causal = cfg.stage == "causal"
    if causal and model.conditioning.mode != "interleave":
        raise ValueError("the causal student needs interleave conditioning")
    n = set_trainable(model, cfg.model.trainable)
    data = _data(cfg, model)
    if causal:  # what the student is trained for, saved with it and inherited by distillation
        model.streaming = model.streaming.override(chunk_latent_frames=cfg.causal.chunk, **cfg.causal.streaming)
    else:
        model.sampling = model.sampling.override(**cfg.teacher.sampling)
    loss = FlowMatchingLoss(model, teacher=cfg.teacher, causal=cfg.causal if causal else None,
                            gate_weight=cfg.guide_gate_weight, gate_target=cfg.guide_gate_target)
    part = Part("student" if causal else "teacher", model, loss, cfg.optim, save=_saver(cfg.stage))
    what = (f"causal init, chunk {cfg.causal.chunk}, sink {cfg.causal.sink_choices}, window {cfg.causal.window_choices}"
            if causal else f"teacher ({model.conditioning.mode}), α={cfg.teacher.motion_weight}")
    return Stage([part], data.batch, len(data), f"{what}; {n / 1e6:.3f}M trainable params; {len(data)} clips")


def build_distill(cfg: TrainConfig, d: Dist) -> Stage:
    spec = cfg.distill
    generator = build_model(cfg, d.device)
    set_trainable(generator, "all")
    real = build_model(cfg, d.device, init=spec.teacher).eval().requires_grad_(False)
    critic = build_model(cfg, d.device, init=spec.critic_init or spec.teacher)
    set_trainable(critic, "all")
    if generator.conditioning.mode != "interleave" or real.conditioning.mode != "interleave":
        raise ValueError("distillation needs an interleave generator and teacher (streaming is interleaved)")
    generator.streaming = generator.streaming.override(**spec.streaming)  # the causal init's, unless overridden
    dmd = DMDGeneratorLoss(generator, real, critic, spec)
    streaming = generator.streaming
    critic_optim = dataclasses.replace(cfg.optim, lr=spec.critic_lr, betas=tuple(spec.critic_betas))
    gen_optim = dataclasses.replace(cfg.optim, betas=tuple(spec.critic_betas))
    data = _data(cfg, generator)
    parts = [Part("critic", critic, CriticLoss(critic, dmd), critic_optim),
             Part("generator", generator, dmd, gen_optim, every=spec.generator_every, ema_decay=spec.ema_decay,
                  ema_start=spec.ema_start, save=_saver("distill"))]
    return Stage(parts, data.batch, len(data),
                 f"Self-Forcing DMD, chunk {streaming.chunk_latent_frames}, steps {list(streaming.denoising_steps)} at "
                 f"shift {streaming.shift}, sink {streaming.sink_chunks}, window {streaming.window_chunks}, RoPE "
                 f"{streaming.rope_mode}, 1:{spec.generator_every}, CFG {spec.guidance_scale}, cache from "
                 f"{spec.cache_from}; {len(data)} clips")


def build_vae(cfg: TrainConfig, d: Dist) -> Stage:
    from .vae import build_vae as build

    return build(cfg, d)


BUILDERS = {"vae": build_vae, "teacher": build_flow_matching, "causal": build_flow_matching, "distill": build_distill}


def train(cfg: TrainConfig, **kw):
    from .loop import run

    return run(cfg, BUILDERS[cfg.stage], **kw)
