"""Training configuration: nested dataclasses, read from YAML, overridable with ``--set a.b=value``.

One :class:`TrainConfig` describes any stage (``teacher``, ``causal``, ``distill``); each stage reads
its own section. Unknown keys are errors that name the key, so a typo never silently trains the defaults.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Stage = Literal["vae", "teacher", "causal", "distill"]
STAGES = ("vae", "teacher", "causal", "distill")
GATE_TARGETS = ("better", "share")


@dataclass
class ModelSpec:
    config: str = "tiny"                       # a name from `python -m realcam models`
    overrides: dict = field(default_factory=dict)  # WanConfig fields to change (dim, num_layers, in_dim, …)
    conditioning: str = "interleave"           # a name from realcam.config.CONDITIONING_PRESETS (or "prefix")
    conditioning_overrides: dict = field(default_factory=dict)
    init: str | None = None                    # checkpoint to start from (RealCam/Wan/diffusers safetensors)
    trainable: Literal["camera_self_attn", "all", "guide_gate"] = "camera_self_attn"  # docs/method.md: self-attn +
    #   camera layers; all; guide_gate: only the pixel guide's gate (a cheap re-teaching of how much guide to take)


@dataclass
class OptimSpec:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.01
    eps: float = 1e-8
    grad_clip: float = 1.0
    warmup_steps: int = 0
    schedule: Literal["constant", "cosine"] = "constant"   # after warm-up: constant, or cosine down to min_lr_ratio·lr
    min_lr_ratio: float = 0.05                               #   at the last step (`steps`)
    lr_scale: dict = field(default_factory=dict)  # parameter-name prefix → multiplier of the learning rate for the
    #   parameters whose names start with it (the longest matching prefix wins), e.g. {"guide_embedding.": 10}


@dataclass
class TeacherSpec:
    motion_weight: float = 0.3   # α in (1−α)·L_FM + α·L_motion (the paper does not give its value)
    timestep_shift: float = 5.0  # σ ~ shift(U(0, 1)) for the flow-matching noise level
    sampling: dict = field(default_factory=dict)  # TeacherSamplingConfig fields the saved teacher carries
    #   (steps, shift, guidance, solver, grid), over the initial checkpoint's own settings


@dataclass
class CausalSpec:
    chunk: int = 3                                        # latent frames per chunk
    sink_choices: list = field(default_factory=lambda: [None, 1])       # sampled per step (None: no sink limit)
    window_choices: list = field(default_factory=lambda: [None, 1, 2, 5])  # sampled per step (None: full causal)
    timestep_shift: float = 5.0
    streaming: dict = field(default_factory=dict)  # StreamingConfig fields the saved student carries (shift,
    #   window_chunks, denoising_steps, rope_mode, …); its chunk is `chunk`. Distillation inherits them.


@dataclass
class DistillSpec:
    teacher: str = ""                 # frozen real score (bidirectional teacher checkpoint)
    critic_init: str | None = None    # fake score init (default: the teacher)
    generator_every: int = 5          # generator update every N critic updates (1:5)
    streaming: dict = field(default_factory=dict)  # overrides of the student's own StreamingConfig (the causal
    #   init's checkpoint carries chunk, steps, shift, sink, window, RoPE mode; distillation keeps them by default)
    guidance_scale: float = 1.0       # CFG baked into the real score (1: no CFG, one forward)
    dmd_min: float = 0.02             # the DMD noise level σ = shift(u), u ~ U(0, 1), clamped to [dmd_min, dmd_max]
    dmd_max: float = 0.98             #   after the shift (Self-Forcing)
    cache_from: str = "clean"         # "clean": chunks denoised to the end fill the cache (RealCam's self-rollout);
    #   "exit": the exit step's x0 fills it and later steps are skipped (Self-Forcing)
    critic_lr: float = 4e-7
    critic_betas: tuple[float, float] = (0.0, 0.999)
    ema_decay: float = 0.99
    ema_start: int = 200


@dataclass
class VAESpec:
    """The project's own tiny VAE (TAEHV layout at small width): trained on video clips, not latents."""

    latent_channels: int = 16
    encoder_width: int = 16
    decoder_widths: list = field(default_factory=lambda: [64, 32, 16, 16])
    spatial_stride: int = 8           # 8 as TAEHV; 4 keeps more detail (64-px frames → 16 × 16 latents)
    clip_frames: int = 9              # 4k+1 frames per training clip
    crop: int = 0                     # square random crop per clip, in pixels (0: whole frames); a multiple of 32
    latent_noise: float = 0.05        # decoder sees slightly noisy latents (robust to generated ones)
    stats_weight: float = 0.01        # keeps latents near zero mean / unit variance, the scale the DiT expects
    chroma_weight: float = 0.0        # extra L1 on colour (RGB minus its grey level): keeps the hue of dark regions
    max_videos: int = 0               # 0: every video of the folder


@dataclass
class VideoSpec:
    """The clips the latents were encoded from (``preprocess``). `python -m realcam plan` costs a stage at this
    size; training checks its data against it when set (0: whatever the data holds)."""

    frames: int = 0
    height: int = 0
    width: int = 0

    def size(self) -> tuple[int, int, int] | None:
        return (self.frames, self.height, self.width) if self.frames and self.height and self.width else None


@dataclass
class TrainConfig:
    stage: Stage = "teacher"
    data: str = ""                    # latents from `python -m realcam preprocess` (vae stage: a MultiCamVideo folder)
    out: str = "runs/realcam"
    steps: int = 1000
    batch_size: int = 1               # per process and micro-step
    grad_accum: int = 1
    seed: int = 0
    parallel: Literal["auto", "none", "ddp", "fsdp"] = "auto"  # auto: DDP when launched with >1 process
    bf16: bool = False                # autocast (CUDA; also works on CPU but is slower there)
    activation_checkpointing: bool = False
    compile: bool = False             # torch.compile the networks (a GPU speed-up; equal to eager, tests/test_train.py)
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 1
    tensorboard: bool = False
    overfit_batches: int = 0          # >0: cycle over the first N batches (debugging, the overfit test)
    source_camera_dropout: float = 0.0  # share of training pairs whose source path is withheld (read as a still
    #   camera, as inference reads a video whose camera is unknown); only for models with conditioning.source_cameras
    same_camera_share: float = 0.0    # share of training pairs whose source is the target clip itself (its own path;
    #   the still one when the source path is withheld)
    same_camera_withheld: Literal["still", "never"] = "still"  # such a pair when the dropout would withhold its
    #   path: "still" (both paths read as still) or "never" (it keeps its path: only pairs of two cameras go without)
    guide_gate_weight: float = 0.0    # λ of the gate's own term in the flow-matching stages (models with
    #   conditioning.pixel_guide_skip): the gate regressed onto where the pixel guide beats the model's own estimate
    guide_gate_target: Literal["better", "share"] = "better"  # what the gate is regressed onto: "better" (1 where the
    #   guide beats the model's own estimate, else 0) or "share" (the share of the guide that brings that estimate
    #   nearest the truth, in [0, 1]; realcam.train.losses.gate_target)
    model: ModelSpec = field(default_factory=ModelSpec)
    optim: OptimSpec = field(default_factory=OptimSpec)
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    causal: CausalSpec = field(default_factory=CausalSpec)
    distill: DistillSpec = field(default_factory=DistillSpec)
    vae: VAESpec = field(default_factory=VAESpec)
    video: VideoSpec = field(default_factory=VideoSpec)

    def validate(self) -> TrainConfig:
        if self.stage not in STAGES:
            raise ValueError(f"stage {self.stage!r}; choose one of {STAGES}")
        if self.optim.schedule not in ("constant", "cosine"):
            raise ValueError(f"optim.schedule {self.optim.schedule!r}; choose constant or cosine")
        if self.parallel not in ("auto", "none", "ddp", "fsdp"):
            raise ValueError(f"parallel {self.parallel!r}; choose auto, none, ddp or fsdp")
        if not self.data:
            raise ValueError("data: give the folder written by `python -m realcam preprocess`")
        for name in ("steps", "batch_size", "grad_accum", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.stage == "distill" and not self.distill.teacher:
            raise ValueError("distill.teacher: the distillation stage needs the teacher checkpoint (real score)")
        if not 0 <= self.teacher.motion_weight < 1:
            # α = 1 drops the flow-matching term: the loss then fixes only frame-to-frame differences, and a teacher
            # trained on it predicts no picture at all (docs/results.md, "World v2: more scenes, LoopAug, motion loss, width")
            raise ValueError(f"teacher.motion_weight (α) must be in [0, 1) — α = 1 leaves only the motion term, which "
                             f"does not determine the picture; got {self.teacher.motion_weight}")
        scales = self.optim.lr_scale
        if not isinstance(scales, dict) or len(scales) > 32 or any(
                not isinstance(k, str) or not k or isinstance(v, bool) or not isinstance(v, (int, float))
                or not 0 < v <= 1000 for k, v in scales.items()):
            raise ValueError(f"optim.lr_scale={scales!r}: give a mapping (at most 32 entries) of parameter-name prefixes "
                             "to learning-rate multipliers in (0, 1000], e.g. {\"guide_embedding.\": 10}")
        w = self.guide_gate_weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 100:
            raise ValueError(f"guide_gate_weight must be a number in [0, 100] (0: the gate learns from the flow-matching "
                             f"loss alone), got {w!r}")
        if w and self.stage not in ("teacher", "causal"):
            raise ValueError(f"guide_gate_weight acts in the flow-matching stages (teacher, causal), which have the target "
                             f"latents to tell where the guide is right; the {self.stage} stage has none: leave it at 0")
        if self.guide_gate_target not in GATE_TARGETS:
            raise ValueError(f"guide_gate_target {self.guide_gate_target!r}; choose one of {GATE_TARGETS} (better: 1 where "
                             "the guide beats the model's own estimate, else 0; share: the blend share nearest the truth)")
        if self.guide_gate_target != "better" and not w:
            raise ValueError(f"guide_gate_target {self.guide_gate_target!r} is what the gate's own term regresses onto; "
                             "it needs guide_gate_weight > 0")
        if self.model.trainable == "guide_gate" and self.stage not in ("teacher", "causal"):
            raise ValueError(f"model.trainable=guide_gate re-teaches the gate in the flow-matching stages (teacher, causal); "
                             f"the {self.stage} stage trains the whole generator and critic: leave model.trainable unset")
        for name in ("source_camera_dropout", "same_camera_share"):
            share = getattr(self, name)
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                raise ValueError(f"{name} must be a share in [0, 1], got {share!r}")
        from .data import SAME_CAMERA_WITHHELD

        if self.same_camera_withheld not in SAME_CAMERA_WITHHELD:
            raise ValueError(f"same_camera_withheld {self.same_camera_withheld!r}; choose one of {SAME_CAMERA_WITHHELD}")
        if self.distill.cache_from not in ("clean", "exit"):
            raise ValueError(f"distill.cache_from {self.distill.cache_from!r}; choose 'clean' (RealCam) or 'exit' (Self-Forcing)")
        from ..config import StreamingConfig, TeacherSamplingConfig

        for where, cls, changes in (("teacher.sampling", TeacherSamplingConfig, self.teacher.sampling),
                                    ("causal.streaming", StreamingConfig, self.causal.streaming),
                                    ("distill.streaming", StreamingConfig, self.distill.streaming)):
            if not isinstance(changes, dict):
                raise ValueError(f"{where}: expected a mapping of {cls.__name__} fields, got {changes!r}")
            try:
                cls.from_dict({**cls().to_dict(), **changes})
            except (TypeError, ValueError) as e:
                raise ValueError(f"{where}: {e}") from None
        if "chunk_latent_frames" in self.causal.streaming:
            raise ValueError("causal.streaming.chunk_latent_frames: the chunk is causal.chunk (one owner); remove it here")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, data: dict, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"{where + '.' if where else ''}{key}: unknown key (known: {', '.join(fields)})")
        default = getattr(defaults, key)
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, f"{where + '.' if where else ''}{key}")
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return cls(**kwargs)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # "none" stays a word: it is a value of `parallel` (`--set parallel=none`); null is JSON's None
        return {"null": None, "true": True, "false": False}.get(text.lower(), text)


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``["optim.lr=3e-4", "stage=causal"]`` → nested dict updates (values parsed as JSON when they can be)."""
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set {item!r}: expected key=value (e.g. optim.lr=3e-4)")
        key, value = item.split("=", 1)
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _parse_value(value)
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, **fields) -> TrainConfig:
    """Read a YAML (or JSON) config, apply ``--set`` overrides and keyword fields, validate."""
    data: dict = {}
    if path is not None:
        text = Path(path).read_text()
        if str(path).endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    data.update({k: v for k, v in fields.items() if v is not None})
    apply_overrides(data, overrides or [])
    return _build(TrainConfig, data, "").validate()
