"""The device benchmark behind ``scripts/gpu_bench.sh``: one run that measures the real-size student.

On one GPU (an H100/H200, about 8 minutes) it measures and writes a markdown report:

- **streaming** Wan2.1-1.3B at 480×832 and Wan2.2-5B at 704×1280 (chunk 3, sink 1, window 5, 3 steps,
  512 text tokens): first-chunk latency (DiT + tiny decoder, warm kernels), steady ms per chunk, video
  frames per second with the full VAE and with the tiny decoder, peak memory, achieved TFLOP/s and MFU;
- **one real-size training step per stage** (teacher, causal init, DMD critic + generator step) at 81
  frames with bf16 autocast and activation checkpointing, with its time and peak memory; a stage whose
  planned memory (``realcam.plan``) exceeds the device is skipped and says why;
- **bf16 vs fp32 drift** of one streamed chunk, same weights.

Weights are random (speed does not depend on their values). ``--smoke`` runs the same code end to end at
tiny size on CPU in a minute (CI does), so the script is known to work before a GPU ever sees it. Figures
from ``--smoke`` are not GPU figures and the report says so.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .bench import forward_flops
from .config import StreamingConfig, WanConfig, get_config
from .model import RealCamDiT

GiB = 2**30
REPORT = "gpu_bench"          # --out gets the table as markdown and the figures as JSON, both named so


@dataclass(frozen=True)
class Case:
    config: str
    height: int
    width: int


REAL = (Case("wan2.1-t2v-1.3b", 480, 832), Case("wan2.2-ti2v-5b", 704, 1280))
SMOKE = (Case("tiny", 64, 64), Case("tiny-2.2", 64, 64))
STREAMING = StreamingConfig(chunk_latent_frames=3, sink_chunks=1, window_chunks=5,
                            denoising_steps=(1000.0, 750.0, 500.0), shift=5.0)


class _Device:
    def __init__(self, name: str) -> None:
        self.device = torch.device(name)
        self.cuda = self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_gib(self) -> float | None:
        return torch.cuda.max_memory_allocated(self.device) / GiB if self.cuda else None

    def total_bytes(self) -> int:
        if self.cuda:
            return torch.cuda.get_device_properties(self.device).total_memory
        import os

        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    def timed(self, fn):
        self.sync()
        t0 = time.perf_counter()
        out = fn()
        self.sync()
        return out, time.perf_counter() - t0


def random_dit(cfg: WanConfig, device: torch.device, dtype: torch.dtype) -> RealCamDiT:
    """A DiT with random weights everywhere, built on the meta device and materialised on ``device``."""
    with torch.device("meta"):
        model = RealCamDiT(cfg)
    model = model.to_empty(device=device)
    model.init_weights()
    with torch.no_grad():
        model.head.head.weight.normal_(0, 0.02)       # init zeroes the head: the outputs would be constant
    return model.to(dtype)


def _decoders(cfg: WanConfig, device: torch.device, dtype: torch.dtype, smoke: bool):
    from .vae import TinyVAE, VideoVAE, Wan21VAEConfig, Wan22VAEConfig, WanVAE21, WanVAE22

    wan22 = cfg.in_dim == 48
    if wan22:
        full = WanVAE22(Wan22VAEConfig(dim=8, dec_dim=8) if smoke else Wan22VAEConfig())
    else:
        full = WanVAE21(Wan21VAEConfig(dim=8) if smoke else Wan21VAEConfig())
    tiny = TinyVAE(cfg.in_dim, with_encoder=False, **({"decoder_widths": (16, 8, 8, 8)} if smoke else {}))
    family = "wan2.2" if wan22 else "wan2.1"
    return {"full VAE": VideoVAE(full.to(device, dtype).eval(), family),
            "tiny decoder": VideoVAE(tiny.to(device, dtype).eval(), f"taehv-{family}")}


def stream_case(case: Case, dev: _Device, dtype: torch.dtype, *, chunks: int, text_tokens: int, smoke: bool,
                peak_tflops: float | None) -> dict:
    from .sampling import StreamingSession

    cfg = get_config(case.config)
    _, sh, sw = cfg.vae_stride
    h, w = case.height // sh, case.width // sw
    c = STREAMING.chunk_latent_frames
    g = torch.Generator().manual_seed(0)
    model = random_dit(cfg, dev.device, dtype).eval()
    source = torch.randn(1, cfg.in_dim, chunks * c, h, w, generator=g).to(dev.device, dtype)
    context = torch.randn(1, text_tokens, cfg.text_dim, generator=g).to(dev.device, dtype)
    path = torch.eye(4).repeat(chunks * c, 1, 1)
    path[:, 2, 3] = torch.linspace(0, 1, chunks * c)
    decoders = _decoders(cfg, dev.device, dtype, smoke)
    with torch.no_grad():
        warm = StreamingSession(model, context, config=STREAMING, source=source, camera=path, seed=1)
        first = warm.step().latents
        for vae in decoders.values():               # warm kernels (and cuDNN's autotuning) before timing
            vae.decode_stream().push(first)
        dev.reset_peak()
        session = StreamingSession(model, context, config=STREAMING, source=source, camera=path, seed=0)
        latents, times = [], []
        for _ in range(chunks):
            r, t = dev.timed(session.step)
            latents.append(r.latents)
            times.append(t)
        decode = {}
        for name, vae in decoders.items():
            stream = vae.decode_stream()
            decode[name] = [dev.timed(lambda x=x, s=stream: s.push(x))[1] for x in latents]
    half = len(times) // 2               # steady state: the second half of the chunks (the cache is full by then)
    steady = times[half:]
    chunk_tokens = 2 * c * (h // cfg.patch_size[1]) * (w // cfg.patch_size[2])
    kv = chunk_tokens * (1 + STREAMING.sink_chunks + STREAMING.window_chunks)
    flops = (len(STREAMING.denoising_steps) + 1) * forward_flops(cfg, chunk_tokens, kv, text_tokens).total
    ms = statistics.mean(steady)
    frames = 4 * c
    out = {"model": cfg.name, "size": f"{case.height}x{case.width}", "dtype": str(dtype).replace("torch.", ""),
           "first_chunk_ms": 1000 * (times[0] + decode["tiny decoder"][0]),
           "steady_ms_per_chunk": 1000 * ms,
           "fps_full_vae": frames / (ms + statistics.mean(decode["full VAE"][half:])),
           "fps_tiny_decoder": frames / (ms + statistics.mean(decode["tiny decoder"][half:])),
           "peak_gib": dev.peak_gib(), "tflops": flops / ms / 1e12}
    out["mfu"] = out["tflops"] / peak_tflops if peak_tflops else None
    del model, decoders
    return out


def _batch(cfg: WanConfig, latent: tuple[int, int, int], device: torch.device, text_tokens: int) -> dict:
    g = torch.Generator().manual_seed(0)
    f, h, w = latent
    return {"source": torch.randn(1, cfg.in_dim, f, h, w, generator=g).to(device),
            "target": torch.randn(1, cfg.in_dim, f, h, w, generator=g).to(device),
            "context": torch.randn(1, text_tokens, cfg.text_dim, generator=g).to(device),
            "pose12": (0.1 * torch.randn(1, f, 12, generator=g)).to(device)}


def train_case(case: Case, stage: str, dev: _Device, *, latent: tuple[int, int, int], text_tokens: int) -> dict:
    """One optimiser step of ``stage`` at full width (bf16 autocast on GPU, activation checkpointing), beside
    the memory ``realcam.plan`` planned for it; skipped when the plan says it cannot fit, a note when it runs out."""
    cfg = get_config(case.config)
    row = {"model": cfg.name, "stage": stage, "latents": "x".join(map(str, latent))}
    total = dev.total_bytes()
    if total:                     # skip, with the reason, what the plan says cannot fit this device
        from .plan import plan_stage
        from .train.config import TrainConfig

        tc = TrainConfig(stage=stage, data="-", bf16=True, activation_checkpointing=True)
        tc.model.config = case.config
        tc.model.trainable = "camera_self_attn" if stage == "teacher" else "all"
        plan = plan_stage(tc, ((latent[0] - 1) * 4 + 1, latent[1] * cfg.vae_stride[1], latent[2] * cfg.vae_stride[2]))
        need = plan.per_gpu_bytes("ddp", 1, True)
        row["planned_gib"] = need / GiB
        if need > 0.92 * total:
            row["note"] = f"skipped: the plan needs {need / GiB:.0f} GiB on one device (train it with FSDP over several)"
            return row
    try:
        row.update(_train_step(cfg, stage, dev, latent=latent, text_tokens=text_tokens))
    except torch.cuda.OutOfMemoryError as e:       # a figure, not a crash: the row says so, beside the plan's figure
        row["note"] = f"out of memory: {str(e).splitlines()[0][:80]}"
    if dev.cuda:
        torch.cuda.empty_cache()
    return row


def _train_step(cfg: WanConfig, stage: str, dev: _Device, *, latent: tuple[int, int, int], text_tokens: int) -> dict:
    from .train.config import CausalSpec, DistillSpec, TeacherSpec
    from .train.losses import CriticLoss, DMDGeneratorLoss, FlowMatchingLoss
    from .train.stages import set_trainable

    row = {}
    dev.reset_peak()

    def net(trainable: str) -> RealCamDiT:
        m = random_dit(cfg, dev.device, torch.float32).train()
        m.activation_checkpointing = True
        set_trainable(m, trainable)
        return m
    autocast = torch.autocast(dev.device.type, dtype=torch.bfloat16, enabled=dev.cuda)
    batch = _batch(cfg, latent, dev.device, text_tokens)
    gen = torch.Generator().manual_seed(0)

    def step(loss_module, params) -> float:
        opt = torch.optim.AdamW(params, lr=1e-5)
        with autocast:
            loss, _ = loss_module(batch, gen)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())
    if stage in ("teacher", "causal"):
        model = net("camera_self_attn" if stage == "teacher" else "all")
        spec = {"teacher": TeacherSpec()} if stage == "teacher" else {"causal": CausalSpec(chunk=3, sink_choices=[1],
                                                                                             window_choices=[5])}
        loss_module = FlowMatchingLoss(model, **spec)
        params = [p for p in model.parameters() if p.requires_grad]
        _, t = dev.timed(lambda: step(loss_module, params))
    else:
        generator, critic = net("all"), net("all")
        real = random_dit(cfg, dev.device, torch.float32).eval().requires_grad_(False)
        generator.streaming = STREAMING
        dmd = DMDGeneratorLoss(generator, real, critic, DistillSpec(teacher="-", guidance_scale=1.0))
        _, t_critic = dev.timed(lambda: step(CriticLoss(critic, dmd), list(critic.parameters())))
        _, t_gen = dev.timed(lambda: step(dmd, list(generator.parameters())))
        t = t_critic + t_gen
        row["note"] = f"critic {t_critic:.2f} s + generator {t_gen:.2f} s"
    row.update({"step_s": t, "peak_gib": dev.peak_gib()})
    return row


def drift_case(case: Case, dev: _Device, *, text_tokens: int) -> dict:
    """The same weights streaming one chunk in fp32 and in bf16: how far bf16 moves the output."""
    from .sampling import StreamingSession

    cfg = get_config(case.config)
    _, sh, sw = cfg.vae_stride
    g = torch.Generator().manual_seed(0)
    model = random_dit(cfg, dev.device, torch.float32).eval()
    source = torch.randn(1, cfg.in_dim, 3, case.height // sh, case.width // sw, generator=g).to(dev.device)
    context = torch.randn(1, text_tokens, cfg.text_dim, generator=g).to(dev.device)
    outs = {}
    with torch.no_grad():
        for dtype in (torch.float32, torch.bfloat16):
            model = model.to(dtype)
            session = StreamingSession(model, context.to(dtype), config=STREAMING, source=source.to(dtype), seed=0)
            outs[dtype] = session.step().latents.float()
    ref, low = outs[torch.float32], outs[torch.bfloat16]
    return {"model": cfg.name, "size": f"{case.height}x{case.width}",
            "rel_l2": float((low - ref).norm() / ref.norm()), "max_abs": float((low - ref).abs().max())}


def _fmt(v, spec: str = ".1f") -> str:
    return "n/a" if v is None else format(v, spec)


def report(results: dict, meta: dict) -> str:
    lines = [f"# RealCam device benchmark — {meta['device']}", "",
             f"{meta['date']}, torch {meta['torch']}, `{meta['command']}`."]
    if meta["smoke"]:
        lines += ["", "**Smoke run** (tiny models on CPU): checks the script end to end; these are not GPU figures."]
    lines += ["", "## Streaming (chunk 3 = 12 video frames, sink 1, window 5, 3 steps, random weights)", "",
              "| model | size | dtype | first chunk ms | steady ms/chunk | FPS full VAE | FPS tiny decoder | peak GiB | TFLOP/s | MFU |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results["streaming"]:
        lines.append(f"| {r['model']} | {r['size']} | {r['dtype']} | {r['first_chunk_ms']:.0f} | {r['steady_ms_per_chunk']:.0f} | "
                     f"{r['fps_full_vae']:.1f} | {r['fps_tiny_decoder']:.1f} | {_fmt(r['peak_gib'])} | "
                     f"{r['tflops']:.3g} | {_fmt(r['mfu'], '.0%')} |")
    lines += ["", "## One training step per stage (batch 1, bf16 autocast on GPU, activation checkpointing)", "",
              "| model | stage | latents | step s | peak GiB | planned GiB | note |", "| --- | --- | --- | ---: | ---: | ---: | --- |"]
    for r in results["training"]:
        lines.append(f"| {r['model']} | {r['stage']} | {r['latents']} | {_fmt(r.get('step_s'), '.2f')} | "
                     f"{_fmt(r.get('peak_gib'))} | {_fmt(r.get('planned_gib'), '.2f')} | {r.get('note', '')} |")
    lines += ["", "## bf16 vs fp32 (one streamed chunk, same weights)", "", "| model | size | relative L2 | max abs |",
              "| --- | --- | ---: | ---: |"]
    for r in results["drift"]:
        lines.append(f"| {r['model']} | {r['size']} | {r['rel_l2']:.2e} | {r['max_abs']:.2e} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> dict:
    smoke = args.smoke
    dev = _Device(args.device or ("cpu" if smoke or not torch.cuda.is_available() else "cuda"))
    if not smoke and not dev.cuda:
        raise ValueError("the device benchmark needs a CUDA GPU; --smoke runs it at tiny size on CPU")
    cases = SMOKE if smoke else REAL
    dtype = torch.float32 if not dev.cuda else torch.bfloat16
    text_tokens = 16 if smoke else 512
    peak = args.peak_tflops
    if peak is None and dev.cuda:
        name = torch.cuda.get_device_name(dev.device).lower()
        peak = 989.0 if ("h100" in name or "h200" in name) else None
    results = {"streaming": [], "training": [], "drift": []}
    say = (lambda m: print(m, flush=True)) if not args.quiet else (lambda m: None)
    meta = {"device": torch.cuda.get_device_name(dev.device) if dev.cuda else f"CPU ({platform.processor() or 'cpu'})",
            "date": datetime.date.today().isoformat(), "torch": torch.__version__, "smoke": smoke,
            "command": "scripts/gpu_bench.sh" + (" --smoke" if smoke else "")}
    started = time.perf_counter()

    def save(row: dict) -> None:   # after every row, so a run stopped at its time limit keeps what it measured
        say(f"  {time.perf_counter() - started:.0f} s: {json.dumps(row)}")
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{REPORT}.md").write_text(report(results, meta))
            (out / f"{REPORT}.json").write_text(json.dumps({"meta": meta, **results}, indent=1))
    for case in cases:
        say(f"streaming {case.config} at {case.height}x{case.width} …")
        results["streaming"].append(stream_case(case, dev, dtype, chunks=4 if smoke else 10, text_tokens=text_tokens,
                                                smoke=smoke, peak_tflops=peak))
        save(results["streaming"][-1])
    for case in cases:
        cfg = get_config(case.config)
        latent = (6, 4, 4) if smoke else (21, 480 // cfg.vae_stride[1], 832 // cfg.vae_stride[2])
        for stage in ("teacher", "causal", "distill"):
            say(f"training step: {case.config} {stage} …")
            results["training"].append(train_case(case, stage, dev, latent=latent, text_tokens=text_tokens))
            save(results["training"][-1])
    say("bf16 vs fp32 drift …")
    results["drift"].append(drift_case(cases[0], dev, text_tokens=text_tokens))
    save(results["drift"][-1])
    print(report(results, meta))
    return results


def add_parser(sub) -> None:
    p = sub.add_parser("gpu-bench", help="the device benchmark (scripts/gpu_bench.sh): streaming, training steps, bf16 "
                       "drift at real size on a GPU; --smoke at tiny size on CPU")
    p.add_argument("--smoke", action="store_true", help="tiny models on CPU: checks the script end to end (CI)")
    p.add_argument("--out", default=None, help="folder for the markdown report and its figures as JSON")
    p.add_argument("--device", default=None, help="default: cuda, or cpu with --smoke")
    p.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s for MFU (default: 989 on "
                   "H100/H200, else no MFU)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=lambda a: (run(a), 0)[1])

