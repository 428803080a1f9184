"""How the plane sweep's settings change the pixel guide alone (docs/results.md, "World v2: a smoother depth from the
source's motion"): on held-out cases of every preset family (``realcam.demo.FAMILIES``; world v2, amplitude 1, the
source's path known) the source's first frame is reprojected into the target cameras through the depth the sweep finds
(:func:`realcam.camera.rays.plane_sweep_depth`, then :func:`realcam.camera.rays.layered_reproject`) under each setting:

- the planes: the embedded model's 13 until 2026-12-05 (``P13``), or 25 evenly spaced in inverse depth from 1 m to the
  horizon (``P25``);
- the box the costs are averaged over (3 or 5 pixels);
- the semi-global aggregation's penalties ``p1, p2`` (:func:`realcam.camera.rays.semi_global_costs`), or none.

It reports, per family, the guide's PSNR and picture-motion error (``realcam.metrics.motion_error``, px) against the
truth, mean with a 95 % bootstrap interval. Settings are chosen on scenes the benchmark does not score: its cases are
the first five of each family (``--first 0``); the default here starts at the sixth.

    python scripts/sweep_settings_probe.py [--first 5] [--scenes 10] [--out probe.json]

``--variants`` instead scores the guide under remedies for the sweep's misses (docs/results.md, "World v2: the guide
drawn from the nearer source frame"), all over the embedded model's 25 planes with its semi-global aggregation
(penalties 0.02 / 0.08) and fallback (4 m); two variants (same-time frame, nearer frame) also draw from later source
frames, the others reproject the first frame through the depth they find:

- ``embedded``: :func:`realcam.camera.rays.plane_sweep_depth` as the pipeline runs it (each pixel's mean difference
  over the later frames that see it, averaged over a 5 × 5 box);
- ``best half of the views``: each later frame's difference averaged over the box on its own, then only the better
  half of the frames that see the pixel kept (a point that a nearer object hides in some frames is judged by the
  frames that see it: Kang, Szeliski and Chai's temporal selection);
- ``far prior``: a cost of 0.03 / depth (per metre⁻¹) added to every plane before the aggregation, so that a pixel
  the frames cannot tell takes the farther plane (the fallback still decided on the costs without it);
- ``ground planes``: besides the fronto-parallel planes, level ground planes 0.5–1.7 m below the first camera, which
  may pitch down by −4° to 15° (no roll), each pixel's cost on one folded into the plane nearest the depth it gives
  there (a slanted surface, which a fronto-parallel box matches badly);
- ``guided filter``: the per-pixel costs filtered by a guided filter on the first frame (He et al., radius 2, ε 10⁻³,
  :func:`kornia.filters.guided_blur`) instead of the box, so the support follows the picture's edges;
- ``same-time frame``: the guide of target frame ``t`` drawn from source frame ``4⌊t/4⌋`` (the time its latent frame
  starts) through that frame's own swept depth (:func:`realcam.guide.key_depths`: from the source frames within 8 of
  it), the embedded guide wherever that frame does not reach;
- ``nearer frame`` (adopted: ``pixel_guide_views: nearest``): of the first frame and that same-time frame, the one
  filmed nearer the target camera, the other's layers under it (:func:`realcam.guide.nearest_views`);
- ``true depth``: the renderer's depth of the first frame rounded to the planes (what a perfect sweep gives).

The table then adds each variant's motion error minus the embedded sweep's, case by case.

    python scripts/sweep_settings_probe.py --variants [--first 5] [--scenes 10] [--out probe.json]

``--timing`` instead times the sweep as the pipeline runs it (:func:`realcam.guide.guide_depth` on
:func:`realcam.guide.motion_frames`) under the settings the embedded model has used, on a 33-frame 64-px held-out
source and on 81 random frames of 480 × 832 (mean of three runs after one warm-up; set ``OMP_NUM_THREADS``), and
what ``pixel_guide_views: nearest`` adds: the later frames' sweeps and the guide drawn for every latent frame against
the first frame's guide alone (one run each, after the sweeps' warm-up).
"""
from __future__ import annotations

import argparse
import json
import math

import torch
import torch.nn.functional as F

from realcam.camera import pose12
from realcam.camera.poses import as_c2w
from realcam.camera.rays import (layered_reproject, nearest_plane, plane_sweep_depth, reproject_layers, semi_global_costs,
                                 sweep_differences)
from realcam.data.synth import render
from realcam.demo import FAMILIES, HELD_OUT_SEED, _held_out_source, make_case, summarise
from realcam.guide import SourceKeys, key_depths, latent_starts, nearest_views
from realcam.metrics import motion_error, psnr

P13 = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.5, 8.5, 12.0, 20.0, 1e4)
P25 = (1.0, 1.04, 1.09, 1.14, 1.2, 1.26, 1.33, 1.41, 1.5, 1.6, 1.71, 1.85, 2.0, 2.18, 2.4, 2.67, 3.0, 3.43, 4.0, 4.8, 6.0,
       8.0, 12.0, 24.0, 1e4)
FALLBACK = 4.0      # the embedded model's pixel_guide_depth
SETTINGS = {        # name: (planes, box, penalties)
    "P13, box 5 (before)": (P13, 5, ()),
    "P25, box 5": (P25, 5, ()),
    **{f"{p}, box {w}, smooth {s[0]:g}/{s[1]:g}": (planes, w, s) for p, planes in (("P13", P13), ("P25", P25))
       for w in (3, 5) for s in ((0.02, 0.08), (0.03, 0.3))},
}


def probe(first: int, scenes: int) -> dict:
    out: dict = {"first_scene": first, "scenes": scenes, "fallback": FALLBACK, "families": {}}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        rows: dict[str, dict[str, list[float]]] = {}
        for i in range(first, first + scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=1.0, world="v2")
            rel_source = torch.linalg.inv(case.source_c2w[0]) @ case.source_c2w
            rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
            frames = (case.source.permute(0, 3, 1, 2) * 255).round() / 255          # as the pipeline keeps them
            first_frame = case.source[:1].permute(0, 3, 1, 2)
            for name, (planes, box, smooth) in SETTINGS.items():
                depth = plane_sweep_depth(frames, rel_source, case.K, planes, fallback=FALLBACK, window=box, smooth=smooth)
                guide = layered_reproject(first_frame, depth[None], rel_target[None], case.K,
                                          fallback=FALLBACK)[0].permute(1, 2, 3, 0)
                row = rows.setdefault(name, {"psnr": [], "motion_px": []})
                row["psnr"].append(psnr(guide, case.target))
                row["motion_px"].append(motion_error(guide, case.target))
            print(f"{family} {i + 1 - first}/{scenes}", flush=True)
        out["families"][family] = rows
    return out


SMOOTH = (0.02, 0.08)
WINDOW, MIN_SPREAD = 5, 0.02            # plane_sweep_depth's defaults
FAR_PRIOR = 0.03
GROUND_PITCH = (-4.0, 0.0, 3.0, 6.0, 9.0, 12.0, 15.0)
GROUND_DROP = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7)
VARIANTS = ("embedded", "best half of the views", "far prior", "ground planes", "guided filter", "same-time frame",
            "nearer frame", "true depth")
FOV = 60.0


def _planes() -> torch.Tensor:
    return torch.tensor(P25, dtype=torch.float64)


def _decide(costs: torch.Tensor, spread_of: torch.Tensor | None = None) -> torch.Tensor:
    """The aggregated costs' cheapest plane; the fallback where the costs (or ``spread_of``) do not tell."""
    agg = semi_global_costs(costs, *SMOOTH)
    told = semi_global_costs(spread_of, *SMOOTH) if spread_of is not None else agg
    depth = _planes()[agg.argmin(0)]
    return torch.where(told.max(0).values - told.min(0).values > MIN_SPREAD, depth, torch.full_like(depth, FALLBACK))


def _box(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, WINDOW, 1, WINDOW // 2, count_include_pad=False)


def _mean_cost(diff: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Each pixel's mean difference over the frames that see it (3 where none does), ``[H, W]``."""
    seen = valid.sum(0)[0]
    return torch.where(seen > 0, (diff * valid).sum(0)[0] / seen.clamp(min=1), torch.full_like(seen, 3.0))


def best_half(frames, c2w, K) -> torch.Tensor:
    costs = []
    for d in P25:
        diff, valid = sweep_differences(frames, c2w, K, d)
        per_frame = _box(diff * valid) / _box(valid).clamp(min=1e-6)                 # [L, 1, H, W]
        seen = valid.bool()[:, 0]
        ranked = torch.where(seen, per_frame[:, 0], torch.full_like(per_frame[:, 0], math.inf)).sort(0).values
        keep = (seen.sum(0).float() / 2).ceil().clamp(min=1)
        taken = (torch.arange(len(ranked))[:, None, None] < keep) & seen.sort(0, descending=True).values
        total = torch.where(taken, ranked, torch.zeros_like(ranked)).sum(0)
        costs.append(torch.where(seen.any(0), total / taken.sum(0).clamp(min=1), torch.full_like(total, 3.0)))
    return _decide(torch.stack(costs))


def _box_costs(frames, c2w, K, depths) -> torch.Tensor:
    """plane_sweep_depth's costs (before aggregation) through each depth of ``depths`` (planes or per-pixel maps)."""
    return torch.stack([_box(_mean_cost(*sweep_differences(frames, c2w, K, d))[None, None])[0, 0] for d in depths])


def far_prior(frames, c2w, K) -> torch.Tensor:
    costs = _box_costs(frames, c2w, K, P25)
    return _decide(costs + (FAR_PRIOR / _planes()).float()[:, None, None], spread_of=costs)


def ground_planes(frames, c2w, K) -> torch.Tensor:
    h, w = frames.shape[-2:]
    costs = _box_costs(frames, c2w, K, P25)
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5, torch.arange(w, dtype=torch.float64) + 0.5,
                          indexing="ij")
    rays = torch.stack([u, v, torch.ones_like(u)], -1) @ torch.linalg.inv(K.to(torch.float64)).T           # z = 1
    for pitch in GROUND_PITCH:
        t = math.radians(pitch)
        down = rays @ torch.tensor([0.0, math.cos(t), math.sin(t)], dtype=torch.float64)   # the camera's world-down
        for drop in GROUND_DROP:
            z = torch.where(down > 1e-6, drop / down.clamp(min=1e-6), torch.full_like(down, 1e4)).clamp(max=1e4)
            cost = _box_costs(frames, c2w, K, [z])[0]
            near = nearest_plane(z, _planes())
            meets = (z >= P25[0] * 0.9) & (z <= P25[-2] * 1.5)
            cur = costs.gather(0, near[None])[0]
            costs.scatter_(0, near[None], torch.where(meets, torch.minimum(cur, cost.float()), cur)[None])
    return _decide(costs)


def guided_filter(frames, c2w, K) -> torch.Tensor:
    from kornia.filters import guided_blur

    raw = torch.stack([_mean_cost(*sweep_differences(frames, c2w, K, d)) for d in P25])
    return _decide(guided_blur(frames[:1].float(), raw[None], 5, 1e-3)[0])


def source_keys(case, frames, pictures, first_depth) -> SourceKeys:
    """The source frames latent frames start at (every 4th) with their swept depths, as the pipeline holds them."""
    starts = latent_starts(frames.shape[0], tiny=True)
    path = pose12(torch.linalg.inv(case.source_c2w[0]) @ case.source_c2w)
    moving = (frames * 255).round().to(torch.uint8)
    later = key_depths(moving, path, starts[1:], fov_deg=FOV, planes=P25, fallback=FALLBACK, size=frames.shape[-2:],
                       smooth=SMOOTH)
    return SourceKeys(pictures[starts][None], torch.cat([first_depth[None], later])[None], as_c2w(path[starts].reshape(
        -1, 3, 4))[None])


def same_time_guide(case, keys: SourceKeys, embedded_guide) -> torch.Tensor:
    """``[F, H, W, 3]``: target frame t from source frame 4⌊t/4⌋ through that frame's swept depth, over the embedded guide."""
    out = embedded_guide.clone()
    rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
    for k in range(1, keys.c2w.shape[1]):          # key 0 is the embedded guide's own source
        times = list(range(4 * k, min(len(out), 4 * k + 4)))
        target = torch.linalg.solve(keys.c2w[0, k], rel_target[times])
        layers, cover = reproject_layers(keys.pictures[:, k], keys.depths[:, k], target[None], case.K)
        layers, cover = layers[0].permute(1, 2, 3, 0), cover[0].permute(1, 2, 3, 0)        # [t, H, W, 3], [t, H, W, 1]
        out[times] = layers + (1 - cover) * out[times]
    return out


def nearer_frame_guide(case, keys: SourceKeys, pictures, first_depth) -> torch.Tensor:
    """``[F, H, W, 3]``: target frame t drawn as ``pixel_guide_views: nearest`` draws the latent frame it lies in
    (:func:`realcam.guide.nearest_views`), frame by frame."""
    rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
    views = [nearest_views(pictures[:1], first_depth[None], keys, rel_target[None, t:t + 1], t // 4, case.K,
                           fallback=FALLBACK)[0, :, 0] for t in range(len(rel_target))]
    return torch.stack(views).permute(0, 2, 3, 1)


def probe_variants(first: int, scenes: int) -> dict:
    out: dict = {"variants": True, "first_scene": first, "scenes": scenes, "planes": list(P25), "smooth": list(SMOOTH),
                 "fallback": FALLBACK, "families": {}}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        rows: dict[str, dict[str, list[float]]] = {}
        for i in range(first, first + scenes):
            index = k * 1000 + i
            case = make_case(index, presets[i % len(presets)], amplitude=1.0, world="v2")
            scene, c2w, K, _ = _held_out_source(index, case.source.shape[0], case.source.shape[1], "v2", HELD_OUT_SEED)
            true0 = render(scene, c2w[0], K, case.source.shape[1:3], 0)[1].to(torch.float64).clamp(max=1e4)
            rel_source = torch.linalg.inv(case.source_c2w[0]) @ case.source_c2w
            rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
            frames = (case.source.permute(0, 3, 1, 2) * 255).round() / 255                  # as the pipeline keeps them
            args = (frames, rel_source, case.K)
            depths = {"embedded": plane_sweep_depth(*args, P25, fallback=FALLBACK, smooth=SMOOTH),
                      "best half of the views": best_half(*args), "far prior": far_prior(*args),
                      "ground planes": ground_planes(*args), "guided filter": guided_filter(*args),
                      "true depth": _planes()[nearest_plane(true0, _planes())]}
            pictures = case.source.permute(0, 3, 1, 2)                                      # as the VAE gets them
            guides = {name: layered_reproject(pictures[:1], d[None], rel_target[None], case.K,
                                              fallback=FALLBACK)[0].permute(1, 2, 3, 0) for name, d in depths.items()}
            keys = source_keys(case, frames, pictures, depths["embedded"])
            guides["same-time frame"] = same_time_guide(case, keys, guides["embedded"])
            guides["nearer frame"] = nearer_frame_guide(case, keys, pictures, depths["embedded"])
            for name in VARIANTS:
                row = rows.setdefault(name, {"psnr": [], "motion_px": []})
                row["psnr"].append(psnr(guides[name], case.target))
                row["motion_px"].append(motion_error(guides[name], case.target))
            print(f"{family} {i + 1 - first}/{scenes}", flush=True)
        out["families"][family] = rows
    return out


def timing() -> None:
    import time

    from realcam.camera import pose12, relative_poses
    from realcam.camera.poses import as_c2w
    from realcam.camera.rays import latent_intrinsics
    from realcam.guide import SourceKeys, guide_depth, key_depths, latent_starts, motion_frames, nearest_views

    case = make_case(2000, "arc_left", amplitude=1.0, world="v2")
    small = (motion_frames(case.source.permute(3, 0, 1, 2)[None]), pose12(relative_poses(case.source_c2w, "first")))
    path = torch.eye(3, 4, dtype=torch.float64).flatten().repeat(81, 1)
    path[:, 3] = torch.linspace(0, 0.5, 81, dtype=torch.float64)                  # 0.5 m to the right
    large = (motion_frames(torch.rand(1, 3, 81, 480, 832, generator=torch.Generator().manual_seed(0))), path)
    print("| source (as swept) | setting | seconds per sweep |\n| --- | --- | --- |")
    for label, (frames, poses) in (("33 × 64 × 64", small), ("81 × 480 × 832", large)):
        for name in ("P13, box 5 (before)", "P25, box 5", "P25, box 5, smooth 0.02/0.08"):
            planes, _, smooth = SETTINGS[name]
            kwargs = dict(fov_deg=60.0, planes=planes, fallback=FALLBACK, size=(64, 64), smooth=smooth)
            guide_depth(frames, poses, **kwargs)
            t = time.perf_counter()
            for _ in range(3):
                guide_depth(frames, poses, **kwargs)
            print(f"| {label} ({tuple(frames.shape[-2:])}) | {name} | {(time.perf_counter() - t) / 3:.3f} |")
    # pixel_guide_views nearest: the later frames' sweeps (key_depths) and the guide drawn for every latent frame
    # (nearest_views) against the first frame's guide alone (layered_reproject), at the picture's own size
    print("\n| source | step | seconds |\n| --- | --- | --- |")
    def timed(fn, *args, **kwargs):
        t = time.perf_counter()
        return fn(*args, **kwargs), time.perf_counter() - t

    for label, (frames, poses), size in (("33 × 64 × 64", small, (64, 64)), ("81 × 480 × 832", large, (480, 832))):
        kwargs = dict(fov_deg=60.0, planes=P25, fallback=FALLBACK, size=size, smooth=(0.02, 0.08))
        starts = latent_starts(poses.shape[0], tiny=True)
        depth = guide_depth(frames, poses, **kwargs)
        later, swept = timed(key_depths, frames, poses, starts[1:], **kwargs)
        c2w = as_c2w(poses.reshape(-1, 3, 4))
        keys = SourceKeys(torch.rand(1, len(starts), 3, *size), torch.cat([depth, later])[None], c2w[starts][None])
        picture, targets, K = keys.pictures[:, 0], c2w[starts][None], latent_intrinsics(*size, 60.0)
        _, first = timed(layered_reproject, picture, depth, targets, K, fallback=FALLBACK)
        _, nearest = timed(nearest_views, picture, depth, keys, targets, 0, K, fallback=FALLBACK)
        for name, seconds in (("later frames' depths (key_depths)", swept),
                              ("first frame's guide, every latent frame (layered_reproject)", first),
                              ("nearest-view guide, every latent frame (nearest_views)", nearest)):
            print(f"| {label} ({len(starts)} latent frames) | {name} | {seconds:.3f} |")


def print_table(result: dict) -> None:
    """Per family and setting (or variant): PSNR and motion error with their intervals; for ``--variants``, also each
    variant's motion error minus the embedded sweep's, case by case."""
    def cell(values: list[float], fmt: str) -> str:
        d = summarise(values)
        return f"{fmt.format(d['mean'])} [{fmt.format(d['lo'])}, {fmt.format(d['hi'])}]"

    paired = bool(result.get("variants"))
    print("| family | setting | PSNR | motion err (px) |" + (" Δ motion err vs embedded (px) |" if paired else "")
          + "\n| --- | --- | --- | --- |" + (" --- |" if paired else ""))
    for family, rows in result["families"].items():
        for name, m in rows.items():
            line = f"| {family} | {name} | {cell(m['psnr'], '{:.2f}')} | {cell(m['motion_px'], '{:.3f}')} |"
            if paired:
                base = rows["embedded"]["motion_px"]
                line += (" — |" if name == "embedded" else
                         f" {cell([a - b for a, b in zip(m['motion_px'], base)], '{:+.3f}')} |")
            print(line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--first", type=int, default=5, help="the first held-out scene (the benchmark scores 0-4)")
    p.add_argument("--scenes", type=int, default=10)
    p.add_argument("--table", default=None, metavar="JSON", help="print the table of an --out file; run nothing")
    p.add_argument("--out", default=None, help="write the per-case figures as JSON")
    p.add_argument("--timing", action="store_true", help="time the sweep under the embedded settings; score nothing")
    p.add_argument("--variants", action="store_true", help="score the remedies for the sweep's misses instead of the "
                                                           "settings")
    a = p.parse_args()
    if a.timing:
        timing()
        return
    if a.table:
        with open(a.table) as f:
            print_table(json.load(f))
        return
    result = (probe_variants if a.variants else probe)(a.first, a.scenes)
    print_table(result)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
