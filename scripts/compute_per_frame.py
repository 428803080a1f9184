"""DiT compute per generated frame: the streaming student against the bidirectional teacher, each sampled with the
settings its checkpoint carries, counted with PyTorch's FLOP counter (``torch.utils.flop_counter``: matmuls,
convolutions and attention; the VAE is left out, it is the same for both — for a model with a pixel guide
(``pixel_guide_depth``) that includes the guide's encoding, counted on its own and subtracted: both encode the same
guide video once, the student chunk by chunk) on held-out benchmark cases. This is the
compute side of the paper's claim "the student stays near the teacher at ≥ 50× less compute per frame"
(docs/results.md, "Which claims held at this scale"); the PSNR side is the benchmark's student − teacher row.

    python scripts/compute_per_frame.py [--weights FOLDER] [--cases 3]

FLOPs do not depend on the machine; the wall times printed beside them are this machine's (one run each).
"""
from __future__ import annotations

import argparse
import functools
import time

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from realcam.demo import ASSETS, load_tiny, make_case
from realcam.guide import PixelGuide
from realcam.pipeline import encode_video, render_stream, render_teacher, text_context


def _cpu_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


# PyTorch counts SDPA's CUDA kernels but not its CPU one: without this, attention would count as free here
CPU_ATTENTION = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops}


def counted(fn) -> tuple[float, float]:
    """(FLOPs, seconds) of one call (attention counted dense: a masked-out block costs as much as a kept one)."""
    counter = FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION)
    t0 = time.perf_counter()
    with counter, torch.no_grad():
        fn()
    return float(counter.get_total_flops()), time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ASSETS), help="weights folder (default: the embedded model)")
    p.add_argument("--cases", type=int, default=3, help="held-out cases (scene i along pan_left, then arc_left, …)")
    args = p.parse_args()
    if args.cases < 1:
        p.error("--cases must be at least 1")
    models = load_tiny(args.weights, teacher=True)
    presets = ("pan_left", "arc_left", "tilt_up", "zoom_in", "translate_up")
    rows = []
    for i in range(args.cases):
        case = make_case(i, presets[i % len(presets)], world=models.world, amplitude=models.amplitude)
        frames = case.source.shape[0]
        source = encode_video(models.vae, case.source)
        src_cam = case.source_trajectory
        s_flops, s_time = counted(functools.partial(render_stream, models.student, source, case.trajectory,
                                                    text_context(models.student), source_camera=src_cam))
        t_flops, t_time = counted(functools.partial(render_teacher, models.teacher, source, case.trajectory,
                                                    text_context(models.teacher), source_camera=src_cam))
        path = case.trajectory.at_length(frames).pose12("first")[None]
        for name, model in (("student", models.student), ("teacher", models.teacher)):
            guide = PixelGuide.for_model(model, source.vae, source.first_frame)
            if guide is not None:      # the guide's VAE encoding, inside the call: left out like the VAE
                g_flops, _ = counted(functools.partial(guide.encode, path))
                s_flops, t_flops = (s_flops - g_flops, t_flops) if name == "student" else (s_flops, t_flops - g_flops)
                print(f"{case.name}: the {name}'s pixel guide encoding, {g_flops / frames / 1e9:.3f} GFLOP/frame, "
                      "left out")
        rows.append((case.name, frames, s_flops, t_flops, s_time, t_time))
        print(f"{case.name}: {frames} frames | student {s_flops / frames / 1e9:.3f} GFLOP/frame "
              f"({s_time:.2f} s) | teacher {t_flops / frames / 1e9:.3f} GFLOP/frame ({t_time:.2f} s) | "
              f"teacher / student {t_flops / s_flops:.1f}×")
    steps = (len(models.student.streaming.denoising_steps), models.teacher.sampling.steps,
             models.teacher.sampling.guidance)
    ratio = sum(r[3] for r in rows) / sum(r[2] for r in rows)
    print(f"student: {steps[0]} steps per chunk of {models.student.streaming.chunk_latent_frames} latent frames, KV "
          f"cache; teacher: {steps[1]} steps, guidance {steps[2]:g} (1: one forward per step)")
    print(f"compute per frame, teacher / student, over {len(rows)} cases: {ratio:.1f}×")


if __name__ == "__main__":
    main()
