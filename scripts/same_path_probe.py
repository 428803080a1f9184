"""Re-rendering along the source's own path: the trivial case of camera-controlled video-to-video.

The 25 held-out sources of the benchmark (`python -m realcam eval`: five per preset family, amplitude 1.0), each
re-rendered with the target path set to the path the source was filmed on. The truth is then the source itself, so
copying the source scores best (it is the truth) and the VAE ceiling bounds every DiT row. With the source's path
known, every ``source_warp`` plane reprojects each source frame onto itself: the model's guide is the answer.
Prints, per model, the clip PSNR against the source over the 25 cases (mean, 95 % bootstrap interval), per family,
and each variant minus the folder's model of its kind (teacher or student), case by case.

    python scripts/same_path_probe.py --weights WEIGHTS_FOLDER [--variant NAME=PATH ...] [--out probe.json]
"""
from __future__ import annotations

import argparse
import json

import torch

from realcam.demo import (FAMILIES, Case, bootstrap_interval, load_tiny, load_variant, make_case, run_student,
                          run_teacher, vae_round_trip)
from realcam.metrics import psnr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="a weights folder (vae/teacher/student.safetensors, README.json)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                   help="also these weights (teacher or causal, from their metadata), paired with the folder's own")
    p.add_argument("--scenes", type=int, default=5, help="held-out scenes per preset family")
    p.add_argument("--out", default=None, help="write the per-case scores here (JSON)")
    args = p.parse_args()
    models = load_tiny(args.weights, teacher=True)
    methods = {"student": (models.student, False), "teacher": (models.teacher, True)}
    for spec in args.variant:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--variant {spec!r}: give NAME=PATH")
        methods[name] = load_variant(path)
    cases = []
    for k, (family, presets) in enumerate(FAMILIES.items()):
        for i in range(args.scenes):
            c = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=models.amplitude, world=models.world)
            same = Case(f"scene{k * 1000 + i}-own-path", c.source, c.source, c.source_c2w, c.source_c2w,
                        torch.zeros_like(c.target_depth), c.K, c.source_trajectory)
            scores = {"truth via VAE (ceiling)": float(psnr(vae_round_trip(models, c.source), c.source))}
            for name, (model, is_teacher) in methods.items():
                run = run_teacher if is_teacher else run_student
                scores[name] = float(psnr(run(models, same, model=model).frames, c.source))
            cases.append({"family": family, "scene": k * 1000 + i, "psnr": scores})
            print(f"{family} {i + 1}/{args.scenes}: " + ", ".join(f"{n} {v:.2f}" for n, v in scores.items()), flush=True)

    def line(label: str, values: list[float]) -> str:
        lo, hi = bootstrap_interval(values)
        return f"{label}: {sum(values) / len(values):.2f} [{lo:.2f}, {hi:.2f}] (n={len(values)})"

    for name in cases[0]["psnr"]:
        print(line(f"{name}, all", [c["psnr"][name] for c in cases]))
        for family in FAMILIES:
            print("  " + line(family, [c["psnr"][name] for c in cases if c["family"] == family]))
    for name, (_, is_teacher) in methods.items():
        base = "teacher" if is_teacher else "student"
        if name != base:
            print(line(f"{name} − {base}, all", [c["psnr"][name] - c["psnr"][base] for c in cases]))
            for family in FAMILIES:
                print("  " + line(family, [c["psnr"][name] - c["psnr"][base] for c in cases if c["family"] == family]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"weights": args.weights, "variants": args.variant, "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
