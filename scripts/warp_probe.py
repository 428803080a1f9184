"""Where in the clip the tiny model loses the picture, and how far plain geometry would get (docs/results.md,
"What limits the tiny model"). On the held-out benchmark's 1x cases (``realcam.demo.FAMILIES``, the weights'
own world and amplitude) it prints PSNR per video frame, averaged per family, for

- the student and the teacher (the path of the source known, as in ``python -m realcam eval``);
- the references of the benchmark: copy the source, the frozen first frame, the truth through the VAE;
- geometry alone: each source frame reprojected into the target camera of the same time
  (``realcam.camera.rays.reproject``) through a plane at each of the teacher's RoPE depths, and through the
  renderer's true depth of the target view (what knowing the scene's geometry exactly would give; what the
  source frame does not see comes back wrong);
- the same from the source's *first* frame into every target camera (the target path starts at the source's first
  camera, so that frame's camera is known even when the source's path is not): what
  ``ConditioningConfig.source_warp_first`` adds to the model's guide;
- both reprojections through the 4 m plane, then encoded and decoded by the tiny VAE: how much of the pixels'
  detail a guide made from reprojected pixels (rather than from resampled latents) would still carry as latents.

Beside the per-frame PSNR table it prints, per family and method, the benchmark's picture-motion error
(``realcam.metrics.motion_error``, px) and the share of frames that register for the camera error
(``realcam.metrics.camera_error``, every 2nd frame as in ``python -m realcam eval``): how near geometry alone comes
to the truth's motion and how sharp its frames are for SIFT.

    python scripts/warp_probe.py [--weights realcam/assets/world_v2] [--scenes 5] [--every 4] [--geometry-only]
                                 [--out probe.json]

``--geometry-only`` leaves out the student and the teacher (the references and the reprojections only: minutes).
"""
from __future__ import annotations

import argparse
import json
import statistics

import torch

from realcam.camera.rays import reproject
from realcam.demo import (ASSETS, FAMILIES, FROZEN, VAE_CEILING, frozen, load_tiny, make_case, run_student, run_teacher,
                          vae_round_trip)
from realcam.metrics import camera_error, motion_error

TRUE_DEPTH = "reprojected, true depth"
FIRST = "first frame reprojected"
GUIDE_DEPTH = 4.0   # the plane whose pixel reprojection is also passed through the VAE (the presets look at 4 m)


def per_frame_psnr(frames: torch.Tensor, truth: torch.Tensor) -> list[float]:
    """PSNR of every frame (peak 1); a frame equal to the truth scores 100 dB rather than infinity."""
    mse = ((frames.clamp(0, 1) - truth) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return (-10 * torch.log10(mse)).tolist()


def probe(weights: str, scenes: int, geometry_only: bool = False) -> dict[str, dict[str, dict[str, list]]]:
    """family → method → {"psnr": one list of per-frame PSNRs per case, "motion_px": one per case,
    "registered": one share per case}."""
    models = load_tiny(weights, teacher=True)
    depths = models.teacher.conditioning.rope_depths
    result: dict[str, dict[str, dict[str, list]]] = {}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        for i in range(scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=models.amplitude, world=models.world)
            outs = {} if geometry_only else {"student": run_student(models, case).frames,
                                             "teacher": run_teacher(models, case).frames}
            outs.update({"copy source": case.source, FROZEN: frozen(case), VAE_CEILING: vae_round_trip(models, case.target)})
            n = case.source.shape[0]
            first, first_c2w = case.source[:1].expand(n, -1, -1, -1), case.source_c2w[:1].expand(n, -1, -1)
            for d in depths:
                outs[f"reprojected, plane at {d:g} m"] = reproject(case.source, case.source_c2w, case.target_c2w, case.K, d)
            outs[TRUE_DEPTH] = reproject(case.source, case.source_c2w, case.target_c2w, case.K, case.target_depth)
            for d in depths:
                outs[f"{FIRST}, plane at {d:g} m"] = reproject(first, first_c2w, case.target_c2w, case.K, d)
            outs[f"{FIRST}, true depth"] = reproject(first, first_c2w, case.target_c2w, case.K, case.target_depth)
            if GUIDE_DEPTH in depths:   # the pixels reprojected, then through the VAE: a pixel-detail guide's latents
                for name in (f"reprojected, plane at {GUIDE_DEPTH:g} m", f"{FIRST}, plane at {GUIDE_DEPTH:g} m"):
                    outs[f"{name}, through the VAE"] = vae_round_trip(models, outs[name])
            for name, frames in outs.items():
                rec = result.setdefault(family, {}).setdefault(name, {"psnr": [], "motion_px": [], "registered": []})
                rec["psnr"].append(per_frame_psnr(frames, case.target))
                rec["motion_px"].append(motion_error(frames, case.target))
                rec["registered"].append(camera_error(frames, case.target_c2w, case.target, case.target_depth, case.K,
                                                      every=2).success_rate)
            print(f"{family} {i + 1}/{scenes} ({case.name})", flush=True)
    return result


def table(result: dict[str, dict[str, dict[str, list]]], every: int) -> str:
    """Per family: one row per method, the mean over cases of frames 0, every, 2·every, … and of the whole clip
    (the mean of per-frame PSNRs; frame 0 is excluded from it, since copying the source is exact there), then
    the mean motion error and registered share."""
    lines = []
    for family, methods in result.items():
        frames = len(next(iter(methods.values()))["psnr"][0])
        cols = list(range(0, frames, every))
        lines += [f"\n{family}", "| method | " + " | ".join(f"f{c}" for c in cols) + " | frames 1+ | motion px | registered |",
                  "| --- " * (len(cols) + 4) + "|"]
        for name, rec in methods.items():
            cases = rec["psnr"]
            means = [statistics.mean(case[c] for case in cases) for c in cols]
            whole = statistics.mean(statistics.mean(case[1:]) for case in cases)
            lines.append(f"| {name} | " + " | ".join(f"{m:.1f}" for m in means) + f" | {whole:.2f} | "
                         f"{statistics.mean(rec['motion_px']):.2f} | {100 * statistics.mean(rec['registered']):.0f} % |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=str(ASSETS), help="weights folder (vae, student, teacher; default: the embedded model)")
    ap.add_argument("--scenes", type=int, default=5, help="held-out scenes per family (the benchmark uses 5)")
    ap.add_argument("--every", type=int, default=4, help="print every N-th frame (default 4: the latent frames' first frames)")
    ap.add_argument("--geometry-only", action="store_true", help="leave out the student and the teacher")
    ap.add_argument("--out", help="also write every case's per-frame PSNRs, motion error and registered share here (JSON)")
    args = ap.parse_args(argv)
    if args.scenes < 1 or args.every < 1:
        ap.error("--scenes and --every must be at least 1")
    result = probe(args.weights, args.scenes, args.geometry_only)
    print(table(result, args.every))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
