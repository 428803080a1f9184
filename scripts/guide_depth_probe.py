"""How much the pixel guide gains from the depth the source's motion shows (docs/results.md, "World v2: the guide's
depth from the source's motion"). On the held-out benchmark's 1x cases (``realcam.demo.FAMILIES``, the weights' own
world and amplitude, the source's path known) it reports, per family, PSNR and picture-motion error
(``realcam.metrics.motion_error``, px) of

- the guide alone, on pixels (before the VAE): the source's first frame reprojected into every target camera through
  the one plane (``pixel_guide_depth``), through the depth the plane sweep finds from the source's motion
  (``pixel_guide_sweep``: :func:`realcam.camera.rays.plane_sweep_depth`, then
  :func:`realcam.camera.rays.layered_reproject`), and through the renderer's true depth of that frame, rounded to the
  nearest swept plane (what a perfect sweep would give);
- the student reading each of those three guides (the weights unchanged: the guide is made at render time);

and the share of the first frame's pixels the sweep decides (the rest keep the plane).

    python scripts/guide_depth_probe.py [--weights realcam/assets/world_v2] [--scenes 5] [--guides-only] [--out probe.json]

The planes swept are the weights' own ``pixel_guide_sweep``, or with ``--planes`` (comma-separated metres) these.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics

import torch

from realcam import pipeline
from realcam.camera.rays import layered_reproject, plane_sweep_depth, reproject
from realcam.data.synth import render
from realcam.demo import ASSETS, FAMILIES, HELD_OUT_SEED, _held_out_source, load_tiny, make_case, run_student
from realcam.metrics import motion_error, psnr

GUIDES = ("one plane", "swept depth", "true depth")


@contextlib.contextmanager
def guide_through(depth: torch.Tensor | None):
    """Within the block the pipeline makes the pixel guide through ``depth`` ``[H, W]`` (None: as the model says)."""
    made = pipeline._pixel_guide

    def through(model, source, source_camera):
        guide = made(model, source, None)              # the one-plane guide, then given the depth
        guide.depth_map = depth[None].to(guide.first_frame.device, torch.float64)
        return guide
    pipeline._pixel_guide = made if depth is None else through
    try:
        yield
    finally:
        pipeline._pixel_guide = made


def probe(weights: str, scenes: int, planes: tuple[float, ...] | None, guides_only: bool) -> dict:
    models = load_tiny(weights, teacher=False)
    student = models.student
    cond = student.conditioning
    planes = planes or cond.pixel_guide_sweep
    if not cond.pixel_guide_depth or not planes:
        raise SystemExit(f"{weights}: the student reads no pixel guide, or no planes to sweep (give --planes)")
    student.conditioning = cond.replace(pixel_guide_sweep=())          # the one-plane guide unless a depth is given
    fallback, plane_t = cond.pixel_guide_depth, torch.tensor(planes, dtype=torch.float64)
    out: dict = {"weights": weights, "planes": list(planes), "fallback": fallback, "families": {}}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        rows: dict[str, dict[str, list[float]]] = {}
        for i in range(scenes):
            index = k * 1000 + i
            case = make_case(index, presets[i % len(presets)], amplitude=models.amplitude, world=models.world)
            scene, c2w, K, _ = _held_out_source(index, case.source.shape[0], case.source.shape[1], models.world,
                                                 HELD_OUT_SEED)
            true0 = render(scene, c2w[0], K, case.source.shape[1:3], 0)[1].to(torch.float64).clamp(max=1e4)
            rel_source = torch.linalg.inv(case.source_c2w[0]) @ case.source_c2w
            rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
            frames = (case.source.permute(0, 3, 1, 2) * 255).round() / 255          # as the pipeline keeps them
            swept = plane_sweep_depth(frames, rel_source, K, planes, fallback=fallback)
            depths = {"one plane": torch.full_like(swept, fallback), "swept depth": swept,
                      "true depth": plane_t[(1 / true0[..., None] - 1 / plane_t).abs().argmin(-1)]}
            rows.setdefault("decided", {}).setdefault("share", []).append(float((swept != fallback).double().mean()))
            first = case.source[:1].permute(0, 3, 1, 2)
            for name, depth in depths.items():
                if name == "one plane":
                    alone = reproject(case.source[:1].expand_as(case.source), torch.eye(4, dtype=torch.float64).expand(
                        len(rel_target), 4, 4), rel_target, K, fallback)
                else:
                    alone = layered_reproject(first, depth[None], rel_target[None], K, fallback=fallback)[0].permute(1, 2, 3, 0)
                row = rows.setdefault(f"guide alone, {name}", {})
                row.setdefault("psnr", []).append(psnr(alone, case.target))
                row.setdefault("motion_px", []).append(motion_error(alone, case.target))
                if guides_only:
                    continue
                with guide_through(None if name == "one plane" else depth):
                    frames_out = run_student(models, case).frames
                row = rows.setdefault(f"student, {name}", {})
                row.setdefault("psnr", []).append(psnr(frames_out, case.target))
                row.setdefault("motion_px", []).append(motion_error(frames_out, case.target))
            print(f"{family} {i + 1}/{scenes}", flush=True)
        out["families"][family] = rows
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ASSETS))
    p.add_argument("--scenes", type=int, default=5)
    p.add_argument("--planes", default=None, help="comma-separated plane depths in metres (default: the weights')")
    p.add_argument("--guides-only", action="store_true", help="the guides alone, not the student (a minute)")
    p.add_argument("--out", default=None, help="write the per-case figures as JSON")
    a = p.parse_args()
    planes = tuple(float(d) for d in a.planes.split(",")) if a.planes else None
    result = probe(a.weights, a.scenes, planes, a.guides_only)
    print("| family | method | PSNR | motion err (px) |\n| --- | --- | --- | --- |")
    for family, rows in result["families"].items():
        for name, metrics in rows.items():
            if name == "decided":
                print(f"| {family} | pixels the sweep decides | {100 * statistics.mean(metrics['share']):.0f} % | |")
                continue
            print(f"| {family} | {name} | {statistics.mean(metrics['psnr']):.2f} | {statistics.mean(metrics['motion_px']):.3f} |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
