"""The common training loop of every stage, on torch's own distributed engine.

Launch with ``torchrun --nproc_per_node N -m realcam train-teacher --config cfg.yaml`` (or one process
without torchrun). Per stage a list of :class:`Part` — a network, the loss module around it, its
optimiser settings and how often it updates (the DMD critic every step, the generator every 5th).

- Parallelism: DDP around the loss module (one forward per backward even when the loss calls the
  network many times) or FSDP2 (``fully_shard`` per block, then the network). NCCL on CUDA, gloo on CPU.
- bf16 autocast, activation checkpointing (per block), gradient accumulation (no gradient sync until
  the last micro-step), gradient clipping, linear warm-up, EMA.
- Logs: one JSON line per step in ``out/log.jsonl`` (rank 0; losses averaged over processes), and
  TensorBoard when asked and installed.
- Checkpoints: ``out/checkpoints/step_NNNNNNN/`` written to a temporary folder and renamed, so a kill
  never leaves a half-written one; full (gathered) weights, optimiser state and EMA in safetensors
  (no pickle anywhere), ``state.json``. A restarted run resumes from the newest complete checkpoint and,
  because batches and noise are functions of (seed, step, micro-step, rank), reproduces the
  uninterrupted loss sequence exactly.
- Deployable weights: ``out/<part>.safetensors`` (RealCam checkpoints with metadata) at each checkpoint.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import shutil
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from .config import OptimSpec, TrainConfig
from .data import batch_indices, step_generator

CHECKPOINTS = "checkpoints"


# --- processes ----------------------------------------------------------------------------------------------
@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(device: str | None = None) -> Dist:
    """Join the torchrun process group (or make a one-process group, so every code path is the same)."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    backend = "nccl" if device == "cuda" else "gloo"
    if not dist.is_initialized():
        if "RANK" in os.environ:
            dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        else:
            dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = torch.device(f"cuda:{local}") if device == "cuda" else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return Dist(dist.get_rank(), dist.get_world_size(), local, dev)


def finish_distributed() -> None:
    """Leave the process group after a successful run: wait for every process, then destroy the group.

    Without this, gloo's worker threads can still hold work when the interpreter shuts down, and a process
    that trained correctly aborts on exit ("terminate called without an active exception", exit -6). Only
    called on success: destroying the group while another process is inside a collective would hang.
    """
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


# --- what a stage trains ------------------------------------------------------------------------------------
@dataclass
class Part:
    """One trained network. ``loss`` is an ``nn.Module`` holding ``network`` whose forward takes
    ``(batch, generator, shared)`` — ``generator`` differs per process, ``shared`` is seeded alike on every
    process — and returns ``(loss, metrics)``."""

    name: str
    network: nn.Module
    loss: nn.Module
    optim: OptimSpec
    every: int = 1                     # update on steps where step % every == 0
    ema_decay: float | None = None
    ema_start: int = 0
    save: Callable[[nn.Module, Path, dict[str, torch.Tensor]], None] | None = None  # deployable weights
    blocks: Callable[[nn.Module], list[nn.Module]] = field(default=lambda m: list(getattr(m, "blocks", [])))
    # filled by the loop
    wrapped: nn.Module | None = None
    optimizer: torch.optim.Optimizer | None = None
    ema: dict[str, torch.Tensor] | None = None

    def trainable(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.network.named_parameters() if p.requires_grad]


@dataclass
class Stage:
    parts: list[Part]
    batch: Callable[[list[int], torch.Generator], dict[str, torch.Tensor]]
    size: int                          # number of dataset items
    describe: str = ""


# --- parallel wrapping ----------------------------------------------------------------------------------------
def _wrap(part: Part, cfg: TrainConfig, d: Dist) -> None:
    mode = cfg.parallel
    if mode == "auto":
        mode = "ddp" if d.world > 1 else "none"
    if mode == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        # Wan blocks return flatten() views of fresh tensors and nothing modifies them in place afterwards
        warnings.filterwarnings("ignore", message=r"FSDP2-wrapped module .* returned a view tensor")
        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if cfg.bf16 else MixedPrecisionPolicy()
        for block in part.blocks(part.network):
            fully_shard(block, mp_policy=mp)
        fully_shard(part.network, mp_policy=mp)
        part.wrapped = part.loss
    elif mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        part.wrapped = DDP(part.loss, device_ids=[d.device.index] if d.device.type == "cuda" else None)
    elif mode == "none":
        part.wrapped = part.loss
    else:
        raise ValueError(f"parallel={cfg.parallel!r}; choose auto, none, ddp or fsdp")
    part.wrapped.parallel_mode = mode  # type: ignore[attr-defined]


@contextlib.contextmanager
def _no_sync(part: Part, sync: bool):
    mode = getattr(part.wrapped, "parallel_mode", "none")
    if sync or mode == "none":
        yield
    elif mode == "ddp":
        with part.wrapped.no_sync():
            yield
    else:  # fsdp2
        part.network.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            part.network.set_requires_gradient_sync(True)


# --- checkpoints ------------------------------------------------------------------------------------------------
def _full_tensor(t: torch.Tensor) -> torch.Tensor:
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def _state_dicts(part: Part) -> tuple[dict, dict]:
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model = get_model_state_dict(part.network, options=opts)
    optim = get_optimizer_state_dict(part.network, part.optimizer, options=opts)
    return model, optim


def _flatten_optim(optim: dict) -> tuple[dict[str, torch.Tensor], str]:
    tensors = {}
    for fqn, state in optim["state"].items():
        for k, v in state.items():
            tensors[f"{fqn}::{k}"] = (v if isinstance(v, torch.Tensor) else torch.tensor(v)).detach().cpu().contiguous()
    return tensors, json.dumps(optim["param_groups"])


def _unflatten_optim(tensors: dict[str, torch.Tensor], groups: str) -> dict:
    state: dict[str, dict] = {}
    for key, v in tensors.items():
        fqn, k = key.rsplit("::", 1)
        state.setdefault(fqn, {})[k] = v
    return {"state": state, "param_groups": json.loads(groups)}


def save_checkpoint(out: Path, step: int, parts: list[Part], cfg: TrainConfig, d: Dist, history: list[dict]) -> Path | None:
    """All processes gather; rank 0 writes ``step_NNNNNNN`` atomically and prunes old checkpoints."""
    from safetensors.torch import save_file

    gathered = [(p, *_state_dicts(p)) for p in parts]
    ema = [(p, {k: _full_tensor(v).cpu() for k, v in p.ema.items()} if p.ema is not None else None) for p in parts]
    if not d.main:
        dist.barrier()
        return None
    root = out / CHECKPOINTS
    final = root / f"step_{step:07d}"
    tmp = root / f".tmp_step_{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for (part, model, optim), (_, ema_sd) in zip(gathered, ema):
        if part.save is not None:  # the same format as the deployable file: its settings travel with every step's weights
            part.save(part.network, tmp / f"{part.name}.safetensors", model)
        else:
            save_file({k: v.contiguous() for k, v in model.items()}, str(tmp / f"{part.name}.safetensors"))
        tensors, groups = _flatten_optim(optim)
        save_file(tensors, str(tmp / f"{part.name}.optim.safetensors"), metadata={"param_groups": groups})
        if ema_sd is not None:
            save_file({k: v.contiguous() for k, v in ema_sd.items()}, str(tmp / f"{part.name}.ema.safetensors"))
        if part.save is not None:  # deployable weights (EMA when there is one)
            part.save(part.network, out / f"{part.name}.safetensors", ema_sd if ema_sd is not None else model)
    (tmp / "state.json").write_text(json.dumps({"step": step, "config": cfg.to_dict(), "history_tail": history[-5:],
                                                "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    kept = sorted(p for p in root.glob("step_*") if (p / "state.json").exists())
    for old in kept[:-max(cfg.keep_checkpoints, 1)]:
        shutil.rmtree(old, ignore_errors=True)
    dist.barrier()
    return final


def _checkpoint_ok(ckpt: Path) -> str | None:
    """None when ``ckpt`` is complete and readable, else what is wrong with it."""
    from safetensors import SafetensorError, safe_open

    try:
        state = json.loads((ckpt / "state.json").read_text())
        if not isinstance(state, dict) or isinstance(state.get("step"), bool) or not isinstance(state.get("step"), int):
            return "state.json has no step"
        files = sorted(ckpt.glob("*.safetensors"))
        if not files:
            return "no weights"
        for f in files:
            with safe_open(str(f), "pt"):            # checks the header against the file: a truncated one fails
                pass
    except (OSError, ValueError, SafetensorError) as e:
        return str(e)[:200]
    return None


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete, readable checkpoint; a damaged newer one is skipped (and said), not fatal."""
    root = out / CHECKPOINTS
    done = sorted(p for p in root.glob("step_*") if (p / "state.json").exists()) if root.exists() else []
    for ckpt in reversed(done):
        problem = _checkpoint_ok(ckpt)
        if problem is None:
            return ckpt
        warnings.warn(f"checkpoint {ckpt} is damaged ({problem}); resuming from an older one", stacklevel=2)
    return None


def clean_partial_writes(out: Path) -> list[Path]:
    """Remove what a kill mid-write leaves: unfinished checkpoint folders and deployable-weights temp files."""
    gone = [*(out / CHECKPOINTS).glob(".tmp_step_*"), *out.glob("*.safetensors.*.tmp")] if out.exists() else []
    for p in gone:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return gone


def trim_log(path: Path, start: int) -> None:
    """Keep the log lines of steps before ``start`` (a resumed run writes the later ones again)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            step = json.loads(line).get("step")
        except (ValueError, AttributeError):
            continue                                  # a line cut by a kill
        if isinstance(step, int) and step < start:
            kept.append(line)
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, path)


def load_weights_before_wrap(ckpt: Path, parts: list[Part]) -> None:
    from safetensors.torch import load_file

    for part in parts:
        sd = load_file(str(ckpt / f"{part.name}.safetensors"))
        missing, unexpected = part.network.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise ValueError(f"checkpoint {ckpt} does not match {part.name}: missing {missing[:3]}, unexpected {unexpected[:3]}")


def load_optim_after_wrap(ckpt: Path, parts: list[Part]) -> None:
    from safetensors import safe_open
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_optimizer_state_dict,
    )

    for part in parts:
        path = ckpt / f"{part.name}.optim.safetensors"
        with safe_open(str(path), "pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
            groups = f.metadata()["param_groups"]
        set_optimizer_state_dict(part.network, part.optimizer, optim_state_dict=_unflatten_optim(tensors, groups),
                                 options=StateDictOptions(full_state_dict=True))
        ema_path = ckpt / f"{part.name}.ema.safetensors"
        if part.ema is not None and ema_path.exists():
            from safetensors.torch import load_file

            saved = load_file(str(ema_path))
            for k, v in part.ema.items():
                src = saved[k]
                if hasattr(v, "full_tensor"):  # FSDP2 shard: take this rank's slice via distribute_tensor
                    from torch.distributed.tensor import distribute_tensor

                    src = distribute_tensor(src.to(v.dtype), v.device_mesh, v.placements)
                v.copy_(src)


# --- the loop -------------------------------------------------------------------------------------------------
def _lr(spec: OptimSpec, step: int, total: int) -> float:
    """Linear warm-up, then constant or cosine to ``min_lr_ratio·lr`` at the last step (a function of the step
    alone, so a resumed run follows the same curve)."""
    if spec.warmup_steps and step < spec.warmup_steps:
        return spec.lr * (step + 1) / spec.warmup_steps
    if spec.schedule == "cosine":
        span = max(total - 1 - spec.warmup_steps, 1)
        done = min(max(step - spec.warmup_steps, 0) / span, 1.0)
        return spec.lr * (spec.min_lr_ratio + (1 - spec.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done)))
    return spec.lr


def lr_groups(named: list[tuple[str, nn.Parameter]], scales: dict[str, float], part: str) -> list[dict]:
    """The optimiser's parameter groups: one per learning-rate multiplier of ``optim.lr_scale`` (each parameter
    takes the multiplier of the longest prefix of its name, else 1), each group carrying its ``lr_scale``."""
    if not named:
        raise ValueError(f"{part}: no trainable parameters")
    by_scale: dict[float, list[nn.Parameter]] = {}
    used = set()
    for name, p in named:
        prefix = max((k for k in scales if name.startswith(k)), key=len, default=None)
        used.add(prefix)
        by_scale.setdefault(float(scales[prefix]) if prefix is not None else 1.0, []).append(p)
    unused = sorted(set(scales) - used)
    if unused:
        raise ValueError(f"optim.lr_scale: no trainable parameter of {part} starts with {unused} (e.g. "
                         f"{named[0][0]!r}); check the prefix and model.trainable")
    return [{"params": ps, "lr_scale": s} for s, ps in sorted(by_scale.items())]


def _ema_init(part: Part) -> None:
    if part.ema_decay is not None:
        part.ema = {n: p.detach().clone() for n, p in part.network.named_parameters()}


@torch.no_grad()
def _ema_update(part: Part, step: int) -> None:
    if part.ema is None:
        return
    decay = part.ema_decay if step >= part.ema_start else 0.0
    for n, p in part.network.named_parameters():
        part.ema[n].lerp_(p.detach(), 1.0 - decay)


def _mean_over_processes(values: dict[str, float], d: Dist) -> dict[str, float]:
    if d.world == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / d.world for k, v in zip(keys, t)}


def run(cfg: TrainConfig, build: Callable[[TrainConfig, Dist], Stage], *, until: int | None = None,
        progress: bool = True) -> list[dict]:
    """Train to step ``cfg.steps``, or stop after step ``until`` with a checkpoint there.

    ``until`` leaves the run unchanged: the learning-rate schedule still spans ``cfg.steps`` and a later call
    without it resumes at ``until``, so the weights saved there are the snapshot of the full run at that step
    (a matched baseline for an ablation trained ``until`` steps on the same schedule). Returns the log records
    of this invocation (also appended to ``out/log.jsonl`` by rank 0).
    """
    if until is not None and (isinstance(until, bool) or not isinstance(until, int) or not 1 <= until <= cfg.steps):
        raise ValueError(f"until={until!r}: give a step in [1, {cfg.steps}] (the run's steps) to stop after")
    end = cfg.steps if until is None else until
    d = init_distributed("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)  # identical initial weights on every process
    stage = build(cfg, d)
    resume = latest_checkpoint(out)
    if resume is not None:
        load_weights_before_wrap(resume, stage.parts)
    state = json.loads((resume / "state.json").read_text()) if resume is not None else {"step": 0}
    start = state["step"]
    saved_scales = state.get("config", {}).get("optim", {}).get("lr_scale", {})
    if resume is not None and saved_scales != cfg.optim.lr_scale:   # the optimiser's groups would not match its state
        raise ValueError(f"optim.lr_scale={cfg.optim.lr_scale!r}, but {out} was trained with {saved_scales!r}: resume "
                         "it with the same multipliers, or start a new --out (e.g. from its weights as model.init)")
    if until is not None and until < start:  # its weights would be those of step `start`, not a snapshot at `until`
        raise ValueError(f"until={until}: {out} is already at step {start}; the snapshot at step {until} is "
                         f"{out / CHECKPOINTS / f'step_{until:07d}'} if it was kept (keep_checkpoints)")
    for part in stage.parts:
        part.network.activation_checkpointing = cfg.activation_checkpointing
        _wrap(part, cfg, d)
        groups = lr_groups(part.trainable(), part.optim.lr_scale, part.name)
        part.optimizer = torch.optim.AdamW(groups, lr=part.optim.lr, betas=tuple(part.optim.betas),
                                           eps=part.optim.eps, weight_decay=part.optim.weight_decay)
        _ema_init(part)
    if resume is not None:
        load_optim_after_wrap(resume, stage.parts)
    writer = None
    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        clean_partial_writes(out)
        trim_log(out / "log.jsonl", start)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
        if cfg.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                writer = SummaryWriter(str(out / "tensorboard"))
            except ImportError:
                print("tensorboard is not installed; logging to log.jsonl only")
        if progress:
            where = (f"resuming at step {start} from {resume}" if resume is not None
                     else f"step 0 from {cfg.model.init}" if cfg.model.init else "step 0 from random weights")
            print(f"[{cfg.stage}] {stage.describe} | {d.world} process(es), {d.device}, "
                  f"{getattr(stage.parts[0].wrapped, 'parallel_mode', 'none')} | {where}", flush=True)
    autocast = torch.autocast(d.device.type, dtype=torch.bfloat16, enabled=cfg.bf16)
    history: list[dict] = []
    log = open(out / "log.jsonl", "a") if d.main else None
    t_last = time.perf_counter()
    try:
        for step in range(start, end):
            record: dict = {"step": step}
            for pi, part in enumerate(stage.parts):
                if step % part.every:
                    continue
                lr = _lr(part.optim, step, cfg.steps)
                for g in part.optimizer.param_groups:
                    g["lr"] = lr * g.get("lr_scale", 1.0)
                part.optimizer.zero_grad(set_to_none=True)
                total = 0.0
                metrics: dict[str, float] = {}
                for micro in range(cfg.grad_accum):
                    idx, epoch = batch_indices(stage.size, seed=cfg.seed, step=step, micro=micro, accum=cfg.grad_accum,
                                               rank=d.rank, world=d.world, batch=cfg.batch_size,
                                               overfit_batches=cfg.overfit_batches)
                    gen = step_generator(cfg.seed, step, micro, d.rank, pi)
                    shared = step_generator(cfg.seed, step, micro, pi)  # alike on every process (e.g. DMD's exit step)
                    batch = stage.batch(idx, gen)
                    with _no_sync(part, micro == cfg.grad_accum - 1), autocast:
                        loss, m = part.wrapped(batch, gen, shared)
                        if not torch.isfinite(loss):
                            raise FloatingPointError(f"{part.name}: loss is {float(loss.detach())} at step {step}; lower "
                                                     "optim.lr or check the data")
                        (loss / cfg.grad_accum).backward()
                    total += float(loss.detach()) / cfg.grad_accum
                    for k, v in m.items():
                        metrics[k] = metrics.get(k, 0.0) + v / cfg.grad_accum
                gnorm = torch.nn.utils.clip_grad_norm_([p for _, p in part.trainable()], part.optim.grad_clip)
                part.optimizer.step()
                _ema_update(part, step)
                metrics = _mean_over_processes({f"{part.name}/loss": total, "epoch": float(epoch),
                                                **{f"{part.name}/{k}": v for k, v in metrics.items()}}, d)
                metrics[f"{part.name}/grad_norm"] = float(_full_tensor(gnorm)) if isinstance(gnorm, torch.Tensor) else float(gnorm)
                metrics[f"{part.name}/lr"] = lr
                record.update(metrics)
            now = time.perf_counter()
            record["step_time_s"] = round(now - t_last, 4)
            t_last = now
            history.append(record)
            if d.main:
                log.write(json.dumps(record) + "\n")
                log.flush()
                if writer is not None:
                    for k, v in record.items():
                        if k != "step" and isinstance(v, float) and math.isfinite(v):
                            writer.add_scalar(k, v, step)
                if progress and (step % cfg.log_every == 0 or step == cfg.steps - 1):
                    losses = " ".join(f"{k}={v:.4g}" for k, v in record.items() if k.endswith("loss"))
                    print(f"[{cfg.stage}] step {step + 1}/{cfg.steps} {losses} ({record['step_time_s']:.2f} s)", flush=True)
            if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == end:
                save_checkpoint(out, step + 1, stage.parts, cfg, d, history)
    finally:
        if log is not None:
            log.close()
        if writer is not None:
            writer.close()
    return history
