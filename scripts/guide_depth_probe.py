"""How much the pixel guide gains from the depth the source's motion shows (docs/results.md, "World v2: the guide's
depth from the source's motion"). On the held-out benchmark's 1x cases (``realcam.demo.FAMILIES``, the weights' own
world and amplitude, the source's path known) it reports, per family, PSNR and picture-motion error
(``realcam.metrics.motion_error``, px) of

- the guide alone, on pixels (before the VAE): the source's first frame reprojected into every target camera through
  the one plane (``pixel_guide_depth``), through the depth the plane sweep finds from the source's motion
  (``pixel_guide_sweep``: :func:`realcam.camera.rays.plane_sweep_depth`, then
  :func:`realcam.camera.rays.layered_reproject`), and through the renderer's true depth of that frame, rounded to the
  nearest swept plane (what a perfect sweep would give);
- the student reading each of those three guides (the weights unchanged: the guide is made at render time), or with
  ``--teacher`` the teacher (its own sampling settings); ``--read`` picks the guides it reads;

and the share of the first frame's pixels the sweep decides (the rest keep the plane). A depth network the weights
carry (``pixel_guide_depth_net``) is set aside: ``scripts/depth_net_probe.py`` weighs it. Each figure is the mean over the
family's cases with a 95 % bootstrap interval, and a second table pairs each reading with the same model's reading of
``--against`` (the swept depth unless given), case by case. ``--table FILE`` prints both from an ``--out`` file;
``--table FILE --versus OTHER`` instead pairs each row of FILE case by case with the same row of OTHER (another
model's probe on the same cases).

With ``--oracles`` it adds four guides no renderer of ours can make, to bound what a better guide could give:
the source's first frame sampled where each target pixel's true 3D point lands in it (*first frame
(exact geometry)*: the reprojection a perfect depth would give, not cut into planes), the true target frame wherever the
source's first frame sees that point (*truth the first frame sees*; both elsewhere the one-plane guide), the same
wherever any source frame sees it (*truth the source sees*: a guide drawn from all the source's frames),
and the true target frame everywhere (*truth*: what the model makes of the answer itself).
Visibility is decided on the renderer's depth (the point, projected into the source camera, lands in its frame at
the depth the source sees there, within 5 %). The model reads each as the pixel guide does: one view per latent
frame (its first video frame's), held for the frames that latent covers.

    python scripts/guide_depth_probe.py [--weights realcam/assets/world_v2] [--scenes 5] [--guides-only] [--oracles]
        [--teacher] [--read GUIDES] [--out probe.json]

The planes swept are the weights' own ``pixel_guide_sweep``, or with ``--planes`` (comma-separated metres) these; the
sweep's costs are aggregated semi-globally with the weights' own ``pixel_guide_sweep_smooth``, or with ``--smooth P1,P2``
(``none``: each pixel decided alone). ``--first`` starts at another held-out scene than the benchmark's first (settings are
chosen on scenes the benchmark does not score: ``--first 5``).

``--as-rendered`` keeps the guide the model renders with (the nearer source frame, the strength where the two views
agree) instead of the first frame's alone, and reads it twice: through the depths the sweep finds (*swept depth*, the
render itself) and through the renderer's true depth of the first frame and of every source frame a latent frame
starts at, rounded to the swept planes (*true depth*): what a perfect depth would give the model as it renders
(docs/results.md, "World v2: the bars on scenes no choice has seen"). Guides alone and ``--oracles`` are not drawn then.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics

import torch
import torch.nn.functional as F

from realcam import guide as guide_module
from realcam import pipeline
from realcam.camera.rays import layered_reproject, nearest_plane, plane_sweep_depth, reproject
from realcam.data.synth import render
from realcam.guide import TIME_STRIDE, PixelGuide
from realcam.demo import ASSETS, FAMILIES, benchmark_cases, load_tiny, run_student, run_teacher, summarise
from realcam.metrics import motion_error, psnr

GUIDES = ("one plane", "swept depth", "true depth")
ORACLES = ("first frame (exact geometry)", "truth the first frame sees", "truth the source sees", "truth")


class _GivenViews(PixelGuide):
    """A pixel guide whose views ``[1, 3, f, H, W]`` (one per latent frame) are given, not reprojected."""

    def __init__(self, like: PixelGuide, views: torch.Tensor) -> None:
        super().__init__(like.vae, like.first_frame, fov_deg=like.fov_deg, depth=like.depth)
        self.views = views.to(like.vae.device, like.vae.dtype)

    def video(self, target_pose12: torch.Tensor, start: int = 0) -> torch.Tensor:
        views = self.views[:, :, start:start + target_pose12.shape[1]]
        if views.shape[2] != target_pose12.shape[1]:
            raise ValueError(f"the given guide holds {self.views.shape[2]} views; asked for {start}..+{target_pose12.shape[1]}")
        repeats = torch.full((views.shape[2],), TIME_STRIDE, device=views.device)
        if start == 0 and not self.vae.tiny:
            repeats[0] = 1
        return views.repeat_interleave(repeats, dim=2)


@contextlib.contextmanager
def guide_through(depth: torch.Tensor | None = None, views: torch.Tensor | None = None):
    """Within the block the pipeline makes the pixel guide through ``depth`` ``[H, W]``, or serves the given
    ``views`` ``[F, H, W, 3]`` (video frames; latent frame ``k`` reads frame ``4k``); neither: as the model says."""
    made = pipeline._pixel_guide

    def through(model, source, source_camera):
        guide = made(model, source, None)              # the one-plane guide, then given the depth or the views
        if views is not None:
            return _GivenViews(guide, views[::TIME_STRIDE].permute(3, 0, 1, 2)[None])
        if not bool((depth == guide.depth).all()):     # as PixelGuide: a map that decided nothing is the one plane
            guide.depth_map = depth[None].to(guide.first_frame.device, torch.float64)
        return guide
    pipeline._pixel_guide = made if depth is None and views is None else through
    try:
        yield
    finally:
        pipeline._pixel_guide = made


@contextlib.contextmanager
def true_depths(source_depth: torch.Tensor, planes: tuple[float, ...]):
    """Within the block every depth the pipeline's guide is drawn through — the first frame's
    (:func:`realcam.guide.guide_depth`) and each later key frame's (:func:`realcam.guide.key_depths`) — is the
    renderer's own depth of that source frame (``source_depth`` ``[F, H, W]``, along the optical axis), rounded to the
    nearest of ``planes`` in inverse depth as the sweep decides."""
    plane_t = torch.tensor(planes, dtype=torch.float64)

    def rounded(frames: list[int], size: tuple[int, int]) -> torch.Tensor:
        d = source_depth[frames].to(torch.float64).clamp(max=1e4)
        d = plane_t[nearest_plane(d, plane_t)]
        return F.interpolate(d[:, None], size=size, mode="nearest")[:, 0]

    def first(frames, source_pose12, *, size, **_):
        return rounded([0], size)

    def keys(frames, source_pose12, starts, *, size, **_):
        return rounded(list(starts), size)

    saved = guide_module.guide_depth, guide_module.key_depths
    guide_module.guide_depth, guide_module.key_depths = first, keys
    try:
        yield
    finally:
        guide_module.guide_depth, guide_module.key_depths = saved


def seen_by(target_depth: torch.Tensor, target_c2w: torch.Tensor, source_depth: torch.Tensor, source_c2w: torch.Tensor,
            K: torch.Tensor, *, tolerance: float = 0.05, sky: float = 1e3) -> tuple[torch.Tensor, torch.Tensor]:
    """``[F, H, W]`` bool: which pixels of the target frames (depth ``[F, H, W]`` along the optical axis, cameras
    ``[F, 4, 4]``, OpenCV camera-to-world) some source camera of ``source_c2w`` ``[S, 4, 4]`` sees, with the source's
    depth ``[S, H, W]``: the point lands inside that source frame at the depth it sees there (within ``tolerance``,
    relative), or both see sky (depth ≥ ``sky``); and ``[F, H, W, 2]``, where each point lands in the first source
    frame (pixels, corner convention)."""
    f, h, w = target_depth.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64) + 0.5, torch.arange(w, dtype=torch.float64) + 0.5,
                            indexing="ij")
    rays = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ torch.linalg.inv(K).T               # [H, W, 3], z = 1
    far = target_depth >= sky
    z = target_depth.to(torch.float64).clamp(max=sky)
    points = torch.einsum("fij,fhwj->fhwi", target_c2w[:, :3, :3], rays * z[..., None]) + target_c2w[:, None, None, :3, 3]
    seen = torch.zeros(f, h, w, dtype=torch.bool)
    first = None
    for s in range(source_c2w.shape[0]):
        w2c = torch.linalg.inv(source_c2w[s])
        cam = points @ w2c[:3, :3].T + w2c[:3, 3]
        uv = cam @ K.T
        zs = cam[..., 2]
        u, v = uv[..., 0] / zs.clamp(min=1e-9), uv[..., 1] / zs.clamp(min=1e-9)
        inside = (zs > 1e-6) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        ui, vi = u.clamp(0, w - 1).long(), v.clamp(0, h - 1).long()
        there = source_depth[s].to(torch.float64)[vi, ui]
        same = torch.where(far, there >= sky, (there - zs).abs() <= tolerance * zs)
        seen |= inside & same
        first = torch.stack([u, v], -1) if first is None else first
    return seen, first


def probe(weights: str, scenes: int, planes: tuple[float, ...] | None, guides_only: bool, oracles: bool = False,
          read: tuple[str, ...] | None = None, teacher: bool = False, smooth: tuple[float, ...] | None = None,
          first_scene: int = 0, as_rendered: bool = False) -> dict:
    models = load_tiny(weights, teacher=teacher)
    model = models.teacher if teacher else models.student            # the model that reads the guides
    reader, run = ("teacher", run_teacher) if teacher else ("student", run_student)
    # the probe weighs the sweep's depth against others: a depth network the weights carry (pixel_guide_depth_net)
    # is set aside, so each reading is the one its name says (scripts/depth_net_probe.py weighs the network)
    model.depth_net = None
    model.conditioning = cond = model.conditioning.replace(pixel_guide_depth_net=0, pixel_guide_depth_net_size=64)
    planes = planes or cond.pixel_guide_sweep
    smooth = cond.pixel_guide_sweep_smooth if smooth is None else smooth
    if not cond.pixel_guide_depth or not planes:
        raise SystemExit(f"{weights}: the {reader} reads no pixel guide, or no planes to sweep (give --planes)")
    if as_rendered:
        return _probe_as_rendered(models, model, reader, run, weights, scenes, planes, first_scene)
    # the one-plane guide unless a depth is given (the aggregation, the nearer-frame views and the comparison of the
    # two views go with the planes they need)
    model.conditioning = cond.replace(pixel_guide_sweep=(), pixel_guide_sweep_smooth=(), pixel_guide_views="first",
                                      pixel_guide_agreement=0.0)
    fallback, plane_t = cond.pixel_guide_depth, torch.tensor(planes, dtype=torch.float64)
    out: dict = {"weights": weights, "planes": list(planes), "smooth": list(smooth), "fallback": fallback,
                 "first_scene": first_scene, "families": {}}
    for family, i, case, (scene, c2w, K) in benchmark_cases(scenes, first_scene, amplitude=models.amplitude,
                                                             world=models.world, families=FAMILIES):
        rows = out["families"].setdefault(family, {})
        true0 = render(scene, c2w[0], K, case.source.shape[1:3], 0)[1].to(torch.float64).clamp(max=1e4)
        rel_source = torch.linalg.inv(case.source_c2w[0]) @ case.source_c2w
        rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
        frames = (case.source.permute(0, 3, 1, 2) * 255).round() / 255          # as the pipeline keeps them
        swept = plane_sweep_depth(frames, rel_source, K, planes, fallback=fallback, smooth=tuple(smooth))
        depths = {"one plane": torch.full_like(swept, fallback), "swept depth": swept,
                  "true depth": plane_t[nearest_plane(true0, plane_t)]}
        rows.setdefault("decided", {}).setdefault("share", []).append(float((swept != fallback).double().mean()))
        first = case.source[:1].permute(0, 3, 1, 2)
        for name, depth in depths.items():
            if name == "one plane" or bool((depth == fallback).all()):      # as PixelGuide draws it
                alone = reproject(case.source[:1].expand_as(case.source), torch.eye(4, dtype=torch.float64).expand(
                    len(rel_target), 4, 4), rel_target, K, fallback)
            else:
                alone = layered_reproject(first, depth[None], rel_target[None], K, fallback=fallback)[0].permute(1, 2, 3, 0)
            row = rows.setdefault(f"guide alone, {name}", {})
            row.setdefault("psnr", []).append(psnr(alone, case.target))
            row.setdefault("motion_px", []).append(motion_error(alone, case.target))
            if guides_only or (read is not None and name not in read):
                continue
            with guide_through(None if name == "one plane" else depth):
                frames_out = run(models, case).frames
            row = rows.setdefault(f"{reader}, {name}", {})
            row.setdefault("psnr", []).append(psnr(frames_out, case.target))
            row.setdefault("motion_px", []).append(motion_error(frames_out, case.target))
        if oracles:
            views = _oracle_views(case, scene, c2w, K, fallback, rows)
            for name, view in views.items():
                row = rows.setdefault(f"guide alone, {name}", {})
                row.setdefault("psnr", []).append(psnr(view, case.target))
                row.setdefault("motion_px", []).append(motion_error(view, case.target))
                if guides_only or (read is not None and name not in read):
                    continue
                with guide_through(views=view):
                    frames_out = run(models, case).frames
                row = rows.setdefault(f"{reader}, {name}", {})
                row.setdefault("psnr", []).append(psnr(frames_out, case.target))
                row.setdefault("motion_px", []).append(motion_error(frames_out, case.target))
        print(f"{family} {i + 1 - first_scene}/{scenes}", flush=True)
    return out


def _probe_as_rendered(models, model, reader: str, run, weights: str, scenes: int, planes: tuple[float, ...],
                       first_scene: int) -> dict:
    """``--as-rendered``: the model reads the guide it renders with, through the swept depths and through the true
    ones (:func:`true_depths`), on the same cases."""
    if model.conditioning.pixel_guide_sweep != tuple(planes):
        raise SystemExit("--as-rendered reads the guide as the weights draw it: drop --planes (the weights sweep "
                         f"{list(model.conditioning.pixel_guide_sweep)})")
    out: dict = {"weights": weights, "planes": list(planes), "smooth": list(model.conditioning.pixel_guide_sweep_smooth),
                 "fallback": model.conditioning.pixel_guide_depth, "first_scene": first_scene, "as_rendered": True,
                 "families": {}}
    for family, i, case, (scene, c2w, K) in benchmark_cases(scenes, first_scene, amplitude=models.amplitude,
                                                             world=models.world, families=FAMILIES):
        rows = out["families"].setdefault(family, {})
        source_depth = render(scene, c2w, K, case.source.shape[1:3], torch.arange(case.source.shape[0]))[1]
        for name in ("swept depth", "true depth"):
            with true_depths(source_depth, planes) if name == "true depth" else contextlib.nullcontext():
                frames_out = run(models, case).frames
            row = rows.setdefault(f"{reader}, {name}", {})
            row.setdefault("psnr", []).append(psnr(frames_out, case.target))
            row.setdefault("motion_px", []).append(motion_error(frames_out, case.target))
        print(f"{family} {i + 1 - first_scene}/{scenes}", flush=True)
    return out


def _oracle_views(case, scene, source_c2w: torch.Tensor, K: torch.Tensor, fallback: float, rows: dict) -> dict:
    """The oracle guides of ``--oracles`` as video frames ``[F, H, W, 3]``, and the share of target pixels each
    visibility keeps (``rows["seen"]``)."""
    n = case.source.shape[0]
    source_depth = render(scene, source_c2w, K, case.source.shape[1:3], torch.arange(n))[1]
    rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
    plane = reproject(case.source[:1].expand_as(case.source), torch.eye(4, dtype=torch.float64).expand(n, 4, 4),
                      rel_target, K, fallback)
    out = {}
    for name, cams in (("truth the first frame sees", slice(0, 1)), ("truth the source sees", slice(0, n))):
        seen, at = seen_by(case.target_depth, case.target_c2w, source_depth[cams], source_c2w[cams], K)
        rows.setdefault("seen", {}).setdefault(name, []).append(float(seen.double().mean()))
        out[name] = torch.where(seen[..., None], case.target, plane)
        if cams.stop == 1:                           # the first frame sampled where the points land in it
            h, w = case.source.shape[1:3]
            grid = torch.stack([at[..., 0] / w * 2 - 1, at[..., 1] / h * 2 - 1], -1).float()
            drawn = F.grid_sample(case.source[:1].permute(0, 3, 1, 2).expand(n, -1, -1, -1).float(), grid,
                                  mode="bilinear", padding_mode="border", align_corners=False).permute(0, 2, 3, 1)
            out["first frame (exact geometry)"] = torch.where(seen[..., None], drawn.to(plane.dtype), plane)
    out["truth"] = case.target
    return {name: out[name] for name in ORACLES}


def _cell(values: list[float], fmt: str) -> str:
    """``mean [lo, hi]`` of ``values`` (95 % bootstrap interval), each number formatted with ``fmt``."""
    d = summarise(values)
    return f"{fmt.format(d['mean'])} [{fmt.format(d['lo'])}, {fmt.format(d['hi'])}]"


def print_tables(result: dict, against: str) -> None:
    """The probe's figures per family (mean [95 % bootstrap interval] over the family's cases), then each model's
    rows paired with its own row reading ``against``: the difference case by case, mean [95 % bootstrap interval]."""
    print("| family | method | PSNR | motion err (px) |\n| --- | --- | --- | --- |")
    for family, rows in result["families"].items():
        for name, metrics in rows.items():
            if name == "decided":
                print(f"| {family} | pixels the sweep decides | {100 * statistics.mean(metrics['share']):.0f} % | |")
                continue
            if name == "seen":
                for kind, shares in metrics.items():
                    print(f"| {family} | target pixels seen: {kind} | {100 * statistics.mean(shares):.0f} % | |")
                continue
            print(f"| {family} | {name} | {_cell(metrics['psnr'], '{:.2f}')} | {_cell(metrics['motion_px'], '{:.3f}')} |")
    print(f"\n| family | method − the same reading {against} | Δ PSNR dB | Δ motion err px |\n| --- | --- | --- | --- |")
    for family, rows in result["families"].items():
        for name, metrics in rows.items():
            reader, _, guide = name.partition(", ")
            base = rows.get(f"{reader}, {against}")
            if reader == "guide alone" or guide == against or base is None or "psnr" not in metrics:
                continue
            diff = {key: [x - y for x, y in zip(metrics[key], base[key], strict=True)] for key in ("psnr", "motion_px")}
            print(f"| {family} | {name} | {_cell(diff['psnr'], '{:+.2f}')} | {_cell(diff['motion_px'], '{:+.3f}')} |")


def print_versus(result: dict, other: dict) -> None:
    """Each row of ``result`` paired case by case with the same row of ``other`` (another model's probe on the same
    cases, e.g. the embedded weights'): the difference, mean [95 % bootstrap interval], per family and over all."""
    if (result.get("first_scene", 0), len(result["families"])) != (other.get("first_scene", 0), len(other["families"])):
        raise SystemExit("--versus: the two probes ran on different cases (their first scene or families differ)")
    print(f"| family | reading | Δ PSNR dB (− {other['weights']}) | Δ motion err px |\n| --- | --- | --- | --- |")
    pooled: dict[str, dict[str, list[float]]] = {}
    for family, rows in result["families"].items():
        for name, metrics in rows.items():
            base = other["families"].get(family, {}).get(name)
            if base is None or "psnr" not in metrics:
                continue
            diff = {key: [x - y for x, y in zip(metrics[key], base[key], strict=True)] for key in ("psnr", "motion_px")}
            for key, values in diff.items():
                pooled.setdefault(name, {}).setdefault(key, []).extend(values)
            print(f"| {family} | {name} | {_cell(diff['psnr'], '{:+.2f}')} | {_cell(diff['motion_px'], '{:+.3f}')} |")
    for name, diff in pooled.items():
        print(f"| all | {name} | {_cell(diff['psnr'], '{:+.2f}')} | {_cell(diff['motion_px'], '{:+.3f}')} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ASSETS))
    p.add_argument("--scenes", type=int, default=5)
    p.add_argument("--planes", default=None, help="comma-separated plane depths in metres (default: the weights')")
    p.add_argument("--smooth", default=None, help="the sweep's penalties p1,p2, or none (default: the weights')")
    p.add_argument("--first", type=int, default=0, help="the first held-out scene (default 0, the benchmark's)")
    p.add_argument("--guides-only", action="store_true", help="the guides alone, not the student (a minute)")
    p.add_argument("--oracles", action="store_true", help="add the guides drawn from the truth (see above)")
    p.add_argument("--read", default=None,
                   help="the guides the model reads, comma-separated names as in the table (default: all)")
    p.add_argument("--teacher", action="store_true",
                   help="the teacher reads the guides instead of the student (its own sampling settings)")
    p.add_argument("--against", default="swept depth", help="the guide the paired table compares each reading with")
    p.add_argument("--table", default=None, metavar="JSON", help="print the tables of a probe's --out file; run nothing")
    p.add_argument("--versus", default=None, metavar="JSON",
                   help="with --table: pair each row case by case with the same row of this probe's --out file instead")
    p.add_argument("--as-rendered", action="store_true",
                   help="the guide as the model renders it (nearer frame, agreement), through the swept and the true "
                        "depths (see above)")
    p.add_argument("--out", default=None, help="write the per-case figures as JSON")
    a = p.parse_args()
    if a.table:
        with open(a.table) as f:
            result = json.load(f)
        if a.versus:
            with open(a.versus) as f:
                print_versus(result, json.load(f))
        else:
            print_tables(result, a.against)
        return
    planes = tuple(float(d) for d in a.planes.split(",")) if a.planes else None
    read = None if a.read is None else tuple(n.strip() for n in a.read.split(","))
    made = GUIDES + (ORACLES if a.oracles else ())
    if read is not None and not set(read) <= set(made):
        p.error(f"--read: {sorted(set(read) - set(made))} not among the guides made; choose from {', '.join(made)}")
    smooth = None if a.smooth is None else () if a.smooth.strip().lower() == "none" else tuple(
        float(x) for x in a.smooth.split(","))
    if a.as_rendered and (a.oracles or a.guides_only or read is not None or a.smooth is not None):
        p.error("--as-rendered reads the weights' own guide through the swept and the true depths: drop --oracles, "
                "--guides-only, --read and --smooth")
    result = probe(a.weights, a.scenes, planes, a.guides_only, a.oracles, read, a.teacher, smooth, a.first, a.as_rendered)
    print_tables(result, a.against)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
