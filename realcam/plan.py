"""``python -m realcam plan``: what a training config costs, before any GPU is rented.

The model is built on the meta device (no memory, no weights) and one training pass runs on it, forward
and backward, shapes only: parameters and trainable parameters are counted exactly; FLOPs come from
PyTorch's ``FlopCounterMode`` (every matmul and convolution) plus attention costed as flash attention
runs it (``realcam.model.attention`` on the meta device: forward ``4·B·H·Lq·Lk·D``, backward up to twice
that, for the inputs that need gradients; model FLOPs, without flash's recomputation); activation memory
is the bytes autograd saves for backward (``saved_tensors_hooks``), with flash attention's saves (q, k, v,
output, log-sum-exp, never the scores). Checkpointed activations are derived from the same pass: every
block's input kept, one block's saves recomputed at a time (not measured separately).
``tests/test_plan.py`` checks these against a real forward/backward on CPU at reduced size.

From one pass it composes the stage (docs/method.md): the teacher and the causal initialisation are one
pass per micro-batch (the causal pass attends under the block-causal mask: its attention FLOPs are scaled
by the mask's allowed fraction, as FlexAttention skips masked blocks); Self-Forcing DMD is composed from
chunk passes (rollout, exit-step gradient, real/fake scores, critic update), an estimate that says so.
Memory per GPU: fp32 master weights, fp32 gradients and AdamW moments (16 bytes per trainable parameter,
4 per frozen one), replicated under DDP and sharded under FSDP2 (plus one gathered block at a time), plus
activations with and without activation checkpointing. Against one H200 (``MEASURED_PEAK_OVER_PLAN``,
docs/benchmarks.md) the teacher's and DMD's peaks matched the plan within 10 % and the causal
initialisation's was higher (×1.2–1.3): the printed plan says so and counts that margin when it says what fits.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import CONDITIONING_PRESETS, WanConfig, get_config
from .model import RealCamDiT
from .model.attention import record_meta_attention
from .train.config import TrainConfig

GiB = 2**30
PEAK_BF16_TFLOPS = {"h100": 989.0, "h200": 989.0, "a100": 312.0, "b200": 2250.0}   # dense, per GPU
# Peak GPU memory measured on one H200 over what this plan says (DDP, activation checkpointing, bf16 autocast,
# batch 1, 81×480×832 for Wan2.1-1.3B and Wan2.2-5B; DMD: the 1.3B at 21×480×832, with the rollout's cache kept
# once per chunk; docs/benchmarks.md, 2026-12-04): (lowest, highest) over the cases measured.
MEASURED_PEAK_OVER_PLAN = {"teacher": (0.93, 1.09), "causal": (1.19, 1.29), "distill": (0.98, 0.98)}


@dataclass
class PassCost:
    """One forward + backward of the DiT over a training sequence."""

    tokens: int
    forward_flops: float
    backward_flops: float
    self_attention_flops: float        # forward share of the full self-attention (included in forward_flops)
    activation_bytes: int              # saved for backward, no activation checkpointing
    block_activation_bytes: int        # the largest block's saves (checkpointing recomputes one block at a time)
    block_input_bytes: int             # one block's input: all that checkpointing keeps per block
    num_layers: int

    @property
    def checkpointed_activation_bytes(self) -> int:
        outside = self.activation_bytes - self.num_layers * self.block_activation_bytes
        return max(outside, 0) + self.num_layers * self.block_input_bytes + self.block_activation_bytes


@dataclass
class StagePlan:
    stage: str
    config: str
    latent_shape: tuple[int, int, int]      # f, h, w
    micro_batch: int
    params: int                             # per model
    trainable: int                          # per model, summed over the models that train
    frozen: int                             # parameters of models that never train (the real score)
    weight_copies: int                      # EMA etc.: extra fp32 copies of a trainable model
    largest_block_params: int
    flops_per_micro_step: float
    pass_cost: PassCost
    estimate_note: str = ""
    # DMD: the cached keys/values each chunk's exit step attends to, kept for backward (fp32, as the master
    # weights; realcam.model.kv_cache.FrozenBlockKV), with or without activation checkpointing
    rollout_cache_bytes: int = 0

    def state_bytes(self) -> int:
        """fp32 weights + gradients + AdamW moments of what trains, fp32 weights of what does not."""
        return 16 * self.trainable + 4 * (self.params_total - self.trainable) + 4 * self.weight_copies * self.params

    @property
    def params_total(self) -> int:
        models = {"teacher": 1, "causal": 1, "distill": 3}[self.stage]
        return self.params * models

    def activation_bytes(self, checkpointing: bool) -> int:
        p = self.pass_cost
        return (p.checkpointed_activation_bytes if checkpointing else p.activation_bytes) + self.rollout_cache_bytes

    def per_gpu_bytes(self, parallel: str, gpus: int, checkpointing: bool) -> int:
        state = self.state_bytes()
        if parallel == "fsdp":
            # sharded state, plus one block's fp32 weights and gradients gathered/reduced at a time (and the next
            # block prefetched)
            state = math.ceil(state / gpus) + 2 * 8 * self.largest_block_params
        return state + self.activation_bytes(checkpointing)


def _saved_bytes_counter(device: torch.device):
    """Pack hook that counts the bytes autograd saves, each underlying buffer once."""
    seen: dict = {}

    def pack(t: torch.Tensor):
        if device.type == "meta":       # no storage to compare: a view counts as its base
            base = t._base if t._base is not None else t
            key, size = id(base), base.numel() * base.element_size()
        else:
            st = t.untyped_storage()
            key, size = st.data_ptr(), st.nbytes()
        if key not in seen:
            seen[key] = size
        return t

    return seen, pack


def measure_pass(model: RealCamDiT, latent_shape: tuple[int, int, int], text_len: int, *, batch: int = 1) -> PassCost:
    """Run one training pass (``velocity`` over source + target latents, then backward) on the model's device
    and count what it costs. On the meta device attention is costed as flash attention."""
    device = model.patch_embedding.weight.device
    dtype = model.patch_embedding.weight.dtype
    f, h, w = latent_shape
    cfg = model.cfg
    g = torch.Generator().manual_seed(0)

    def make(*shape: int, dtype: torch.dtype = dtype) -> torch.Tensor:   # shapes only on meta, random values elsewhere
        if device.type == "meta":
            return torch.empty(*shape, device=device, dtype=dtype)
        return torch.randn(*shape, generator=g, dtype=dtype).to(device)
    source, target = make(batch, cfg.in_dim, f, h, w), make(batch, cfg.in_dim, f, h, w)
    context = make(batch, text_len, cfg.text_dim)
    pose12 = make(batch, f, 12, dtype=torch.float32)
    pixels = make(batch, cfg.in_dim, f, h, w) if model.conditioning.pixel_guide_depth else None   # encoded by the data
    t = torch.full((batch,), 500.0, device=device)
    seen, pack = _saved_bytes_counter(device)
    block_bytes: list[int] = []

    def before(module, args):
        module._plan_seen = sum(seen.values())

    def after(module, args, out):
        block_bytes.append(sum(seen.values()) - module._plan_seen)
    hooks = [b.register_forward_pre_hook(before) for b in model.blocks] + [b.register_forward_hook(after) for b in model.blocks]
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter, record_meta_attention() as calls:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
                out = model.velocity(source, target, t, context, pose12, pixel_guide=pixels)
            forward = counter.get_total_flops()
            out.float().sum().backward()
            total = counter.get_total_flops()
    finally:
        for hk in hooks:
            hk.remove()
    attn = {"forward": 0.0, "backward": 0.0}
    self_attn = 0.0
    tokens = 2 * f * (h // cfg.patch_size[1]) * (w // cfg.patch_size[2])
    for phase, b, heads, lq, lk, d, matmuls in calls:
        flops = 2.0 * b * heads * lq * lk * d * matmuls
        attn[phase] += flops
        if phase == "forward" and lk == lq:
            self_attn += flops
    elem = torch.empty(0, dtype=dtype).element_size()
    return PassCost(tokens=tokens, forward_flops=forward + attn["forward"], backward_flops=total - forward + attn["backward"],
                    self_attention_flops=self_attn, activation_bytes=sum(seen.values()),
                    block_activation_bytes=max(block_bytes) if block_bytes else 0,
                    block_input_bytes=batch * tokens * cfg.dim * elem, num_layers=cfg.num_layers)


def model_for(cfg: TrainConfig, *, arch: WanConfig | None = None, device: str = "meta") -> RealCamDiT:
    """The stage's network as the config describes it (``model.config`` + overrides; a checkpoint's own
    architecture is not read: give ``model.config`` for it), on ``device``."""
    spec = cfg.model
    arch = arch or (dataclasses.replace(get_config(spec.config), **spec.overrides) if spec.overrides else get_config(spec.config))
    cond = dataclasses.replace(CONDITIONING_PRESETS[spec.conditioning], **spec.conditioning_overrides)
    with torch.device(device):
        model = RealCamDiT(arch, camera_layers=True, conditioning=cond)
    dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    return model.to(dtype).train()


def _trainable(model: nn.Module, which: str) -> int:
    from .train.stages import set_trainable

    return set_trainable(model, which)


def causal_allowed_fraction(num_chunks: int, sink: int | None, window: int | None) -> float:
    """Share of the (query chunk, key chunk) pairs the block-causal mask allows."""
    allowed = 0
    for q in range(num_chunks):
        for k in range(q + 1):
            allowed += window is None or k < (sink or 0) or k >= q - window
    return allowed / num_chunks**2


def plan_stage(cfg: TrainConfig, video: tuple[int, int, int], *, vae_stride: tuple[int, int, int] | None = None,
               arch: WanConfig | None = None, text_len: int | None = None) -> StagePlan:
    """Cost of one micro-step of ``cfg``'s stage on clips of ``video`` = (frames, height, width)."""
    model = model_for(cfg, arch=arch)
    mcfg = model.cfg
    ts, hs, ws = vae_stride or ((4, 16, 16) if mcfg.in_dim == 48 else (4, 8, 8))
    frames, height, width = video
    if (frames - 1) % ts:
        raise ValueError(f"video.frames {frames}: the VAE needs {ts}k+1 frames")
    f, h, w = (frames - 1) // ts + 1, height // hs, width // ws
    if h % mcfg.patch_size[1] or w % mcfg.patch_size[2]:
        raise ValueError(f"{height}x{width} gives {h}x{w} latents, not divisible by the patch {mcfg.patch_size[1:]}")
    params = sum(p.numel() for p in model.parameters())
    block = sum(p.numel() for p in model.blocks[0].parameters())
    text_len = text_len or mcfg.text_len
    stage = cfg.stage
    if stage == "vae":
        raise ValueError("plan covers the DiT stages (teacher, causal, distill); the tiny VAE trains on CPU in minutes")
    trainable = _trainable(model, cfg.model.trainable if stage != "distill" else "all")
    cost = measure_pass(model, (f, h, w), text_len, batch=cfg.batch_size)
    note, rollout_cache = "", 0
    if stage == "teacher":
        flops, frozen, copies, total_trainable = cost.forward_flops + cost.backward_flops, 0, 0, trainable
    elif stage == "causal":
        c = cfg.causal.chunk
        if f % c:
            raise ValueError(f"causal.chunk {c} does not divide the {f} latent frames of {frames}-frame clips")
        fractions = [causal_allowed_fraction(f // c, None if wd is None else sk, wd)
                     for sk in cfg.causal.sink_choices for wd in cfg.causal.window_choices]
        skipped = cost.self_attention_flops * (1 - sum(fractions) / len(fractions))
        flops = cost.forward_flops + cost.backward_flops - 3 * skipped     # forward + backward (2×) of the masked part
        frozen, copies, total_trainable = 0, 0, trainable
        note = f"block-causal mask: {sum(fractions) / len(fractions):.0%} of self-attention computed on average"
    else:
        flops, note = _distill_flops(cfg, cost, f)
        frozen, copies, total_trainable = params, 1, 2 * trainable      # real score; generator EMA; generator + critic
        rollout_cache = _rollout_cache_bytes(cfg, cost, f, mcfg)
    return StagePlan(stage, mcfg.name, (f, h, w), cfg.batch_size, params, total_trainable, frozen, copies, block,
                     flops, cost, note, rollout_cache)


def _rollout_cache_bytes(cfg: TrainConfig, cost: PassCost, f: int, mcfg: WanConfig) -> int:
    """What DMD's exit steps keep of the KV cache for backward: one copy of every chunk a later chunk attends
    to (``FrozenBlockKV``), in every block, keys and values, fp32."""
    from .config import StreamingConfig

    streaming = StreamingConfig().override(**{**cfg.causal.streaming, **cfg.distill.streaming})
    c = cfg.causal.chunk
    n = max(f // c, 1)
    sink, window = streaming.sink_chunks or 0, streaming.window_chunks
    cached_chunks = sum(1 for i in range(n - 1) if i < sink or window is None or window > 0)
    chunk_tokens = cost.tokens * c // f                       # source and target tokens of one chunk
    return cfg.batch_size * cached_chunks * chunk_tokens * mcfg.num_layers * 2 * mcfg.dim * 4


def _distill_flops(cfg: TrainConfig, cost: PassCost, f: int) -> tuple[float, str]:
    """Self-Forcing DMD per step, composed from the one-pass costs (an estimate: the rollout's per-chunk
    passes are costed as a proportional share of the full pass, with their own cache length)."""
    from .config import StreamingConfig

    streaming = StreamingConfig().override(**{**cfg.causal.streaming, **cfg.distill.streaming})
    c = cfg.causal.chunk
    n = max(f // c, 1)
    steps = len(streaming.denoising_steps)
    sink = streaming.sink_chunks or 0
    window = streaming.window_chunks
    other = cost.forward_flops - cost.self_attention_flops            # everything that scales with the query tokens
    chunk_other = other * c / f

    def chunk_attention(i: int) -> float:                             # chunk i attending to its cache + itself
        kept = i if window is None else min(i, sink + window)
        return cost.self_attention_flops * (kept + 1) / n / n
    rollout = sum((steps + 1) * (chunk_other + chunk_attention(i)) for i in range(n))   # no grad
    exit_grad = sum(2 * (chunk_other + chunk_attention(i)) for i in range(n))            # backward of the exit steps
    cfg_passes = 1 if cfg.distill.guidance_scale == 1 else 2
    scores = (cfg_passes + 1) * cost.forward_flops                    # real score (with CFG) + fake score
    generator_step = rollout + exit_grad + scores
    critic_step = rollout + cost.forward_flops + cost.backward_flops   # rollout + critic flow matching
    every = max(cfg.distill.generator_every, 1)
    return critic_step + generator_step / every, (
        f"DMD estimate: {n} chunks × ({steps} steps + cache pass) rollout, exit-step gradient, real score ×{cfg_passes} "
        f"+ fake score; critic every step, generator every {every}")


def format_plan(plan: StagePlan, *, gpus: int, gpu_memory_gb: float, peak_tflops: float, mfu: float,
                grad_accum: int = 1) -> str:
    p = plan.pass_cost
    lines = [f"{plan.stage} stage, {plan.config}: latents {plan.latent_shape[0]}×{plan.latent_shape[1]}×{plan.latent_shape[2]} "
             f"({p.tokens:,} tokens per sample), micro-batch {plan.micro_batch} per GPU, {gpus} GPU(s)",
             f"  parameters        {plan.params / 1e9:8.3f} B per model; trainable {plan.trainable / 1e9:.3f} B"
             + (f"; frozen models {plan.frozen / 1e9:.3f} B" if plan.frozen else ""),
             f"  weights+grads+Adam {plan.state_bytes() / GiB:8.1f} GiB in all (fp32 master, AdamW moments)",
             f"  activations       {p.activation_bytes / GiB:8.1f} GiB per micro-batch; "
             f"{p.checkpointed_activation_bytes / GiB:.1f} GiB with activation checkpointing"
             + (f"; + {plan.rollout_cache_bytes / GiB:.1f} GiB of the rollout's KV cache kept for backward"
                if plan.rollout_cache_bytes else ""),
             f"  FLOPs             {plan.flops_per_micro_step / 1e15:8.2f} PFLOP per GPU micro-step "
             f"(forward {p.forward_flops / 1e15:.2f}, backward {p.backward_flops / 1e15:.2f} per pass)"]
    if plan.estimate_note:
        lines.append(f"  note              {plan.estimate_note}")
    step_s = plan.flops_per_micro_step * grad_accum / (peak_tflops * 1e12 * mfu)
    lines.append(f"  time              {step_s:.2f} s per step → {step_s * 1000 / 3600:.1f} h per 1,000 steps at "
                 f"{mfu:.0%} MFU of {peak_tflops:g} TFLOP/s (global batch {plan.micro_batch * grad_accum * gpus})")
    lo, hi = MEASURED_PEAK_OVER_PLAN[plan.stage]
    ratio = f"{lo:.2f}×" if lo == hi else f"{lo:.2f}–{hi:.2f}×"
    lines.append(f"  measured          at real size on one H200 this stage peaked at {ratio} the memory planned "
                 "here (docs/benchmarks.md)")
    lines.append(f"  memory per GPU ({gpu_memory_gb:g} GB; fits = under 90 % with that margin, ×{max(hi, 1.0):.2f}):")
    for parallel in ("ddp", "fsdp"):
        for ckpt in (False, True):
            b = plan.per_gpu_bytes(parallel, gpus, ckpt)
            fits = b * max(hi, 1.0) <= 0.9 * gpu_memory_gb * 1e9
            lines.append(f"    {parallel.upper():5s} {'+ checkpointing' if ckpt else '               '} {b / GiB:8.1f} GiB  "
                         f"{'fits' if fits else 'does not fit'}")
    return "\n".join(lines)
