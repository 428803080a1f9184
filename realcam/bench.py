"""Streaming benchmark: per-chunk latency, throughput and an estimated FLOP count for any config.

Random weights (speed does not depend on their values). Run on a GPU with
``python -m realcam bench --config wan2.1-t2v-1.3b --height 480 --width 832 --device cuda --dtype bf16``.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch

from .config import StreamingConfig, WanConfig, get_config
from .model import RealCamDiT


@dataclass(frozen=True)
class ForwardFlops:
    linear: float
    attention: float

    @property
    def total(self) -> float:
        return self.linear + self.attention


def forward_flops(cfg: WanConfig, q_tokens: int, kv_tokens: int, text_tokens: int, camera_layers: bool = True) -> ForwardFlops:
    """Multiply-adds ×2 of one DiT forward over ``q_tokens`` attending to ``kv_tokens`` (text K/V cached)."""
    d, f = cfg.dim, cfg.ffn_dim
    per_token = 4 * d * d + 2 * d * f + 2 * d * d + (d * d if camera_layers else 0)  # self qkvo, ffn, cross q/o, projector
    linear = 2.0 * cfg.num_layers * q_tokens * per_token
    linear += 2.0 * q_tokens * (cfg.in_dim * 4 * d + d * cfg.out_dim * 4)            # patch embed + head
    attention = 2.0 * cfg.num_layers * 2 * q_tokens * d * (kv_tokens + text_tokens)     # QKᵀ and AV, self + cross
    return ForwardFlops(linear, attention)


def run_benchmark(cfg: WanConfig, *, height: int, width: int, chunks: int, streaming: StreamingConfig,
                  device: str = "cpu", dtype: torch.dtype = torch.float32, text_tokens: int = 512,
                  seed: int = 0, warmup: int = 1, print_fn=print, compile: bool = False, cuda_graphs: bool = False) -> dict:
    from .sampling import StreamingSession

    _, sh, sw = cfg.vae_stride
    if height % (sh * cfg.patch_size[1]) or width % (sw * cfg.patch_size[2]):
        raise ValueError(f"height and width must be multiples of {sh * cfg.patch_size[1]} for {cfg.name}")
    h, w = height // sh, width // sw
    c = streaming.chunk_latent_frames
    torch.manual_seed(seed)
    with torch.device("meta"):
        model = RealCamDiT(cfg)
    model = model.to_empty(device=device)
    model.init_weights()  # sets every parameter: to_empty leaves uninitialised memory
    with torch.no_grad():  # random weights everywhere (init zeroes the head)
        model.head.head.weight.normal_(0, 0.02)
    model = model.to(dtype).eval()
    latent_frames = (chunks + warmup) * c
    source = torch.randn(1, cfg.in_dim, latent_frames, h, w, device=device, dtype=dtype)
    context = torch.randn(1, text_tokens, cfg.text_dim, device=device, dtype=dtype)
    path = torch.eye(4).repeat(latent_frames, 1, 1)
    path[:, 2, 3] = torch.linspace(0, 1, latent_frames)  # a slow push-in
    session = StreamingSession(model, context, config=streaming, source=source, camera=path, seed=seed,
                               compile=compile, cuda_graphs=cuda_graphs)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(warmup):
        session.step()
    times = []
    chunk_tokens = 2 * c * (h // cfg.patch_size[1]) * (w // cfg.patch_size[2])
    print_fn(f"{cfg.name} | {height}x{width} px, latent {h}x{w}, chunk {c} latent frames ({chunk_tokens} tokens), "
             f"sink {streaming.sink_chunks}, window {streaming.window_chunks}, {len(streaming.denoising_steps)} steps, "
             f"rope {streaming.rope_mode}, {device}, {str(dtype).replace('torch.', '')}"
             + (", CUDA graphs" if cuda_graphs else ", compiled" if compile else ""))
    print_fn(f"{'chunk':>5} {'latency ms':>11} {'cache chunks':>12} {'GFLOP':>8} {'max |out|':>10}")
    flops = []
    for _ in range(chunks):
        sync()
        r = session.step()
        sync()
        peak = r.latents.abs().max().item()
        if not math.isfinite(peak):
            raise RuntimeError(f"chunk {r.index} of the benchmark produced non-finite latents: the model is not "
                               "initialised (a timing of NaN arithmetic would be meaningless)")
        kv = chunk_tokens * (1 + len(r.cache_chunks))
        fl = (len(streaming.denoising_steps) + 1) * forward_flops(cfg, chunk_tokens, kv, text_tokens).total
        times.append(r.wall_time_s)
        flops.append(fl)
        print_fn(f"{r.index:>5} {1000 * r.wall_time_s:>11.1f} {len(r.cache_chunks):>12} {fl / 1e9:>8.1f} {peak:>10.3g}")
    steady = times[len(times) // 2:]
    video_frames_per_chunk = 4 * c
    mean = statistics.mean(steady)
    result = {"mean_latency_s": mean, "median_latency_s": statistics.median(steady),
              "fps": video_frames_per_chunk / mean, "gflop_per_chunk": statistics.mean(flops[len(flops) // 2:]) / 1e9,
              "tflops_achieved": statistics.mean(flops[len(flops) // 2:]) / mean / 1e12,
              "cache_mib": session.cache.nbytes / 2**20}
    print_fn(f"steady state (last {len(steady)} chunks): {1000 * mean:.1f} ms/chunk (median "
             f"{1000 * result['median_latency_s']:.1f}), {result['fps']:.1f} video frames/s, "
             f"{result['gflop_per_chunk']:.1f} GFLOP/chunk, {result['tflops_achieved']:.3f} TFLOP/s achieved, "
             f"KV cache {result['cache_mib']:.1f} MiB")
    if device.startswith("cuda"):
        result["peak_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
        print_fn(f"peak GPU memory {result['peak_mem_gib']:.2f} GiB")
    return result


def main_args(args) -> int:
    from .weights import DTYPES

    cfg = get_config(args.config)
    steps = tuple(float(s) for s in args.steps.split(","))
    streaming = StreamingConfig(chunk_latent_frames=args.chunk, sink_chunks=args.sink, window_chunks=args.window,
                                denoising_steps=steps, rope_mode=args.rope_mode)
    run_benchmark(cfg, height=args.height, width=args.width, chunks=args.chunks, streaming=streaming,
                  device=args.device, dtype=DTYPES[args.dtype], text_tokens=args.text_tokens,
                  compile=args.compile, cuda_graphs=args.cuda_graphs)
    return 0
