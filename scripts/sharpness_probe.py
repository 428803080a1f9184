"""Is the student's registration a matter of sharpness, or of its denoising steps? (docs/results.md, "World v2:
sharper frames and other denoising steps").

Three of the four bars the tiny model misses are the share of the student's frames that register for the camera error
(SIFT points of the true frames matched in the generated ones). Two cheap levers would raise it if the frames were only
soft: a decoder that draws sharper edges, and more (or fewer) of the student's denoising steps. This probe measures
both without training anything. On the held-out scenes the render settings are chosen on (as ``python -m realcam eval
--first-scene 5``: scenes 5-9 of every preset family, 1x, the source's path known) it scores, as the benchmark does
(clip PSNR, picture-motion error in px, share of frames registered, every 2nd frame):

- the student as ``eval`` streams it, and the truth through the VAE (the ceiling);
- both sharpened by an unsharp mask of each ``--amounts`` (frame + amount × (frame − its Gaussian blur, σ = 1 px),
  kornia): what a decoder that sharpens, the edges kept where they are, would register;
- the student streamed with each ``--steps`` list of denoising timesteps instead of its checkpoint's.

    python scripts/sharpness_probe.py [--weights realcam/assets/world_v2] [--first-scene 5] [--scenes 5]
        [--amounts 0.5,1,2] [--steps 1000,750,500,250 --steps 1000,500] [--out probe.json]

Every row is paired case by case with the student's (registered share, PSNR) in the printed table.
"""
from __future__ import annotations

import argparse
import json

import torch

from realcam.demo import ASSETS, FAMILIES, VAE_CEILING, load_tiny, make_case, run_student, summarise, vae_round_trip
from realcam.metrics import camera_error, motion_error, psnr

STUDENT = "student"
METRICS = ("psnr", "motion_px", "registered")


def unsharp(frames: torch.Tensor, amount: float, sigma: float = 1.0) -> torch.Tensor:
    """``frames`` (``[F, H, W, 3]`` in [0, 1]) + ``amount`` × (``frames`` − their Gaussian blur), clamped to [0, 1]."""
    import kornia

    x = frames.permute(0, 3, 1, 2)
    size = 2 * round(3 * sigma) + 1
    sharp = x + amount * (x - kornia.filters.gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="replicate"))
    return sharp.clamp(0, 1).permute(0, 2, 3, 1)


def probe(weights: str, first: int, scenes: int, amounts: list[float], steps: list[tuple[float, ...]]) -> dict:
    """``{"families": family → row → metric → one value per case, "steps": the checkpoint's, ...}``."""
    models = load_tiny(weights)
    families: dict[str, dict[str, dict[str, list[float]]]] = {}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        for i in range(first, first + scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=models.amplitude, world=models.world)
            student, ceiling = run_student(models, case).frames, vae_round_trip(models, case.target)
            outs = {STUDENT: student, VAE_CEILING: ceiling}
            for a in amounts:
                outs[f"{STUDENT}, unsharp {a:g}"] = unsharp(student, a)
                outs[f"{VAE_CEILING}, unsharp {a:g}"] = unsharp(ceiling, a)
            for s in steps:
                name = f"{STUDENT}, steps {','.join(f'{t:g}' for t in s)}"
                outs[name] = run_student(models, case, denoising_steps=s).frames
            for name, frames in outs.items():
                row = families.setdefault(family, {}).setdefault(name, {m: [] for m in METRICS})
                row["psnr"].append(psnr(frames, case.target))
                row["motion_px"].append(motion_error(frames, case.target))
                row["registered"].append(camera_error(frames, case.target_c2w, case.target, case.target_depth, case.K,
                                                      every=2).success_rate)
            print(f"{family} {i - first + 1}/{scenes} ({case.name})", flush=True)
    return {"weights": str(weights), "first_scene": first, "scenes_per_family": scenes, "amounts": amounts,
            "steps": [list(s) for s in steps], "checkpoint_steps": list(models.student.streaming.denoising_steps),
            "families": families}


def table(result: dict) -> str:
    """Per row and family: PSNR / motion px / registered share (means), then the row minus the student's, case by case
    over every family: registered points and PSNR with 95 % bootstrap intervals."""
    fams = list(result["families"])
    rows = list(result["families"][fams[0]])
    lines = ["| row | " + " | ".join(fams) + " | − student: registered (points), all | − student: PSNR (dB), all |",
             "| --- |" + " --- |" * (len(fams) + 2)]

    def paired(row: str, metric: str, scale: float) -> str:
        diffs = [scale * (a - b) for f in fams for a, b in zip(result["families"][f][row][metric],
                                                                result["families"][f][STUDENT][metric])]
        s = summarise(diffs)
        return f"{s['mean']:+.1f} [{s['lo']:+.1f}, {s['hi']:+.1f}]" if scale != 1 else \
            f"{s['mean']:+.2f} [{s['lo']:+.2f}, {s['hi']:+.2f}]"

    for row in rows:
        cells = []
        for f in fams:
            r = result["families"][f][row]
            cells.append(f"{summarise(r['psnr'])['mean']:.2f} / {summarise(r['motion_px'])['mean']:.2f} / "
                         f"{100 * summarise(r['registered'])['mean']:.0f} %")
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {paired(row, 'registered', 100)} | "
                     f"{paired(row, 'psnr', 1)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ASSETS), help="a tiny-model folder (default: the embedded one)")
    p.add_argument("--first-scene", type=int, default=5, help="the first held-out scene of each family (default 5: the "
                                                              "scenes the render settings are chosen on)")
    p.add_argument("--scenes", type=int, default=5, help="scenes per family")
    p.add_argument("--amounts", default="0.5,1,2", help="unsharp-mask amounts, comma-separated")
    p.add_argument("--steps", action="append", default=None, metavar="T1,T2,...",
                   help="a list of denoising timesteps to stream the student with instead of its checkpoint's "
                        "(repeatable; default: 1000,750,500,250 and 1000,500)")
    p.add_argument("--out", default=None, help="write every case's figures to this JSON file")
    args = p.parse_args(argv)
    if args.scenes < 1 or args.first_scene < 0:
        p.error("--scenes must be >= 1 and --first-scene >= 0")
    try:
        amounts = [float(a) for a in args.amounts.split(",") if a.strip()]
        steps = [tuple(float(t) for t in s.split(",")) for s in (args.steps or ["1000,750,500,250", "1000,500"])]
    except ValueError as e:
        p.error(f"--amounts and --steps take comma-separated numbers ({e})")
    if any(a <= 0 for a in amounts) or any(not s or not all(0 < t <= 1000 for t in s) for s in steps):
        p.error("--amounts must be > 0, and every --steps timestep in (0, 1000]")
    result = probe(args.weights, args.first_scene, args.scenes, amounts, steps)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    print(f"scenes {args.first_scene}-{args.first_scene + args.scenes - 1} of every family, 1x; the checkpoint streams "
          f"{result['checkpoint_steps']}; PSNR (dB) / motion error (px) / registered share")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
