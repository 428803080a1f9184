"""Where along its sampling path the teacher loses the picture, and whether its reprojection input could stand in
for the early steps (docs/results.md, "What limits the tiny model"). On the held-out benchmark's 1x cases
(``realcam.demo.FAMILIES``, the weights' own world and amplitude, the source's path known) it scores, per family:

- **one-step estimates**: the truth's latents noised to σ with fixed noise, and the teacher's estimate of the clean
  latents from them, ``x − σ·v``, decoded. What the model recovers when the picture is given up to that noise level;
  at σ = 1 it is given nothing of the target, only the source and the cameras.
- **the teacher's sample**: its checkpoint's own settings (as ``python -m realcam eval``), and the same model
  integrated with Euler on that grid (the baseline of the next rows).
- **started from the guide**: sampling that starts at σ0 instead of pure noise, from the 4 m plane's reprojection of
  the source latents through the plane nearest 4 m (``conditioning.source_warp``'s input) noised to σ0, then Euler down the same grid
  (SDEdit-style; ``--start``).
- **the guide itself**: the source latents reprojected through each plane and decoded, and the same reprojection
  done on the pixels, through the plane at 4 m (what resampling latents costs against resampling pixels).

Each row: the benchmark's clip PSNR (``realcam.metrics.psnr``), motion error (px) and the share of frames that
register for the camera error (every 2nd frame, as ``python -m realcam eval``); the paired difference of chosen
rows against the teacher's Euler sample, case by case over all families, with a 95 % bootstrap interval.

    python scripts/noise_probe.py [--weights realcam/assets/world_v2] [--scenes 5] [--out noise_probe.json]
"""
from __future__ import annotations

import argparse
import json
import statistics

import torch

from realcam.camera.rays import reproject, warp_latents
from realcam.guide import PixelGuide
from realcam.demo import (ASSETS, FAMILIES, VAE_CEILING, bootstrap_interval, load_tiny, make_case, run_teacher,
                          vae_round_trip)
from realcam.metrics import camera_error, motion_error, psnr
from realcam.pipeline import decode_video, encode_video, text_context
from realcam.sampling.schedules import sigma_grid

SIGMAS = (0.1, 0.3, 0.6, 0.9, 1.0)
EULER = "teacher, Euler"
GUIDE_DEPTH = 4.0


def euler_from(teacher, source, pos, pose12, source_pose12, start: torch.Tensor, sigma0: float, noise: torch.Tensor,
               pixel_guide: torch.Tensor | None = None):
    """Euler on the teacher's own grid (its sigmas and the timesteps it is given there), from ``start`` noised to
    ``sigma0``: the grid's points above ``sigma0`` are skipped and ``sigma0`` is stepped from first. At or above the
    grid's first σ the start is the noise alone and this is ``sample_teacher`` with ``solver='euler'``.
    ``pixel_guide``: the guide a teacher with ``pixel_guide_depth`` reads (:mod:`realcam.guide`)."""
    points = sigma_grid(teacher.sampling.steps, teacher.sampling.shift, teacher.sampling.grid)
    grid = [(float(s), float(t)) for s, t in zip(points.sigmas, points.timesteps)]   # (σ, timestep), σ falling
    if sigma0 >= grid[0][0]:    # pure noise stands at the grid's first σ, as in sample_teacher (0.999 on Wan's)
        sigma0, x = grid[0][0], noise.clone()
    else:
        x = (1 - sigma0) * start + sigma0 * noise
    on_grid = [(s, t) for s, t in grid if s == sigma0]
    path = (on_grid or [(sigma0, 1000.0 * sigma0)]) + [(s, t) for s, t in grid if s < sigma0]
    sigmas = [s for s, _ in path] + [0.0]
    for (a, t), b in zip(path, sigmas[1:]):
        v = teacher.velocity(source, x.to(teacher.dtype), torch.full((1,), t), pos, pose12, source_pose12=source_pose12,
                             pixel_guide=pixel_guide)
        x = x + (b - a) * v.float()
    return x


def decoded(vae, frames: int, latents: torch.Tensor) -> torch.Tensor:
    return decode_video(vae, latents)[:frames].clamp(0, 1)


def probe(weights: str, scenes: int, starts: tuple[float, ...]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """family → row → {"psnr", "motion_px", "registered"}: one value per case."""
    models = load_tiny(weights, teacher=True)
    teacher, vae = models.teacher, models.vae
    cond = teacher.conditioning
    if not cond.source_warp:
        raise SystemExit(f"{weights}: its teacher has no source_warp conditioning; this probe reads its guide")
    pos = teacher.embed_text(text_context(teacher).context)
    result: dict[str, dict[str, dict[str, list[float]]]] = {}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        for i in range(scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=models.amplitude, world=models.world)
            frames = case.source.shape[0]
            gen = torch.Generator().manual_seed(k * 1000 + i)
            with torch.no_grad():
                encoded = encode_video(vae, case.source)
                source = encoded.latents.float()
                truth = encode_video(vae, case.target).latents.float()
                pose12 = case.trajectory.at_length(frames).pose12(cond.pose_reference)[None]
                source_pose12 = case.source_trajectory.at_length(frames).pose12("first")[None]
                noise = torch.randn(truth.shape, generator=gen)
                guide_maker = PixelGuide.for_model(teacher, encoded.vae, encoded.first_frame)
                pixels = None if guide_maker is None else guide_maker.encode(
                    case.trajectory.at_length(frames).pose12("first")[None])
                outs = {VAE_CEILING: vae_round_trip(models, case.target)}
                for s in SIGMAS:
                    x = (1 - s) * truth + s * noise
                    v = teacher.velocity(source, x, torch.full((1,), 1000.0 * s), pos, pose12, source_pose12=source_pose12,
                                         pixel_guide=pixels)
                    outs[f"one step from the truth at σ={s:g}"] = decoded(vae, frames, x - s * v.float())
                outs["teacher, its own sampler"] = run_teacher(models, case).frames
                outs[EULER] = decoded(vae, frames, euler_from(teacher, source, pos, pose12, source_pose12, truth, 1.0, noise,
                                                                   pixel_guide=pixels))
                guides = warp_latents(source, source_pose12, pose12, cond.ray_fov_deg, cond.source_warp)
                planes = guides.chunk(len(cond.source_warp), dim=1)
                near = min(range(len(planes)), key=lambda j: abs(cond.source_warp[j] - GUIDE_DEPTH))
                guide = planes[near]
                for s0 in starts:
                    outs[f"Euler from the {cond.source_warp[near]:g} m guide at σ0={s0:g}"] = decoded(vae, frames,
                        euler_from(teacher, source, pos, pose12, source_pose12, guide, s0, noise, pixel_guide=pixels))
                for d, plane in zip(cond.source_warp, planes):
                    outs[f"guide, plane at {d:g} m, decoded"] = decoded(vae, frames, plane)
                outs["pixels reprojected, plane at 4 m"] = reproject(case.source, case.source_c2w, case.target_c2w,
                                                                      case.K, GUIDE_DEPTH).clamp(0, 1)
            for name, out in outs.items():
                rec = result.setdefault(family, {}).setdefault(name, {"psnr": [], "motion_px": [], "registered": []})
                rec["psnr"].append(float(psnr(out, case.target)))
                rec["motion_px"].append(motion_error(out, case.target))
                rec["registered"].append(camera_error(out, case.target_c2w, case.target, case.target_depth, case.K,
                                                      every=2).success_rate)
            print(f"{family} {i + 1}/{scenes} ({case.name})", flush=True)
    return result


def table(result: dict[str, dict[str, dict[str, list[float]]]]) -> str:
    families = list(result)
    rows = list(result[families[0]])
    lines = ["| row | " + " | ".join(f"{f}: PSNR / motion / reg." for f in families) + " |",
             "| --- " * (len(families) + 1) + "|"]
    for row in rows:
        cells = [f"{statistics.mean(result[f][row]['psnr']):.2f} / {statistics.mean(result[f][row]['motion_px']):.2f} / "
                 f"{100 * statistics.mean(result[f][row]['registered']):.0f} %" for f in families]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += ["", f"paired PSNR against '{EULER}' over all cases (dB, mean [95 % bootstrap interval]):"]
    for row in rows:
        if row == EULER:
            continue
        diff = [a - b for f in families for a, b in zip(result[f][row]["psnr"], result[f][EULER]["psnr"])]
        lo, hi = bootstrap_interval(diff)
        lines.append(f"  {row}: {statistics.mean(diff):+.2f} [{lo:+.2f}, {hi:+.2f}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=str(ASSETS), help="weights folder (vae, teacher; default: the embedded model)")
    ap.add_argument("--scenes", type=int, default=5, help="held-out scenes per family (the benchmark uses 5)")
    ap.add_argument("--start", default="0.8,0.6,0.4", help="σ0 at which sampling starts from the guide (comma list)")
    ap.add_argument("--out", help="also write every case's figures here (JSON)")
    args = ap.parse_args(argv)
    try:
        starts = tuple(float(s) for s in args.start.split(","))
    except ValueError:
        ap.error(f"--start {args.start!r}: give numbers in (0, 1], e.g. 0.8,0.6,0.4")
    if args.scenes < 1 or not all(0 < s <= 1 for s in starts):
        ap.error("--scenes must be at least 1 and every --start value in (0, 1]")
    result = probe(args.weights, args.scenes, starts)
    print(table(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
