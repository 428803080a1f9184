"""A depth learned from single frames of the procedural world, read by the render as it is (docs/results.md, "World
v2: a depth learned from single frames"). The plane sweep finds depth only where the source's own motion shows it; a
small network that sees one frame can guess it everywhere, as a monocular depth model does for a real video. The
network is :class:`realcam.model.depth_net.DepthNet`; a checkpoint carries one with ``conditioning.pixel_guide_depth_net``
(``python -m realcam set-guide-depth-net`` attaches what ``train`` writes).

    python scripts/depth_net_probe.py train --out depth_net.safetensors [--scenes 1500 --steps 2500 --seed 11]
    python scripts/depth_net_probe.py probe [--net depth_net.safetensors] [--weights DIR] [--first 0] [--out probe.json]
    python scripts/depth_net_probe.py table --probe probe.json [more.json] [--eval EVAL.json [MORE.json]]
    python scripts/depth_net_probe.py score --net A.safetensors [B.safetensors ...] [--first 0] [--out score.json]

``train`` renders ``--scenes`` clips of world v2 (scene seed ``--seed``: neither training's 1 and 2 nor the held-out
benchmark's), keeps ``--frames`` frames of each with the renderer's depth, and fits a small U-Net that classifies each
pixel into the embedded model's swept planes (nearest in inverse depth, as the sweep decides). ``probe`` streams the
student of ``--weights`` (default: the embedded one) on the benchmark's 1× cases (``--first 10``: the scenes no
choice has seen; ``--first 5``: those the settings are chosen on) with its guide drawn through the sweep's depths, any
network it carries set aside (*swept depth*), through the network's (``--net``, default the one the student carries)
depth of the first frame and of every key frame (*net depth*), and through the network's where the sweep decided
nothing and the sweep's elsewhere (*sweep, else net*); and it scores each depth map of the first frame against the
renderer's (share of pixels on the right plane). ``--unknown`` withholds the source's path, as for a user's video: the
guide is then the first frame through one plane (*one plane*) or through the network's depth of that frame (*net
depth*). Each reading: PSNR and motion error per case; ``table`` pools probes of disjoint scenes, each reading
against the first (the sweep, or the one plane), and adds the motion bar from the ``eval`` run of the same scenes.
``score`` runs no model: it compares networks' depths with the renderer's on the benchmark's source clips (``--table``
pools score files of disjoint scenes).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import time

import torch
import torch.nn.functional as F

from realcam import guide as guide_module
from realcam.camera.poses import pose12 as flat_poses
from realcam.camera.rays import nearest_plane
from realcam.data.synth import WORLD_MAX_AMPLITUDE, camera_paths, intrinsics, random_scene, render
from realcam.demo import ASSETS, FAMILIES, HELD_OUT_SEED, TinyModels, benchmark_cases, load_tiny, run_student, weights_info
from realcam.metrics import motion_error, psnr
from realcam.model.depth_net import DepthNet
from realcam.weights import WeightsError, read_depth_net


def plane_class(depth: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """The plane each pixel of ``depth`` is on (:func:`realcam.camera.rays.nearest_plane`; the sky: the farthest)."""
    return nearest_plane(depth.to(torch.float64).clamp(max=1e4), planes)


def make_data(scenes: int, frames: int, seed: int, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """``scenes`` clips of world v2 along random paths (scene seed ``seed``), ``frames`` of each: pictures as bytes
    ``[N, 3, H, W]`` (as the pipeline keeps a source) and the renderer's depth ``[N, H, W]``."""
    pics, depths = [], []
    K = intrinsics((size, size))
    for i in range(scenes):
        g = torch.Generator().manual_seed(seed * 1_000_003 + i)
        scene = random_scene(g, "v2")
        c2w = camera_paths(g, 1, 33, "random", max_amplitude=WORLD_MAX_AMPLITUDE["v2"])[0]
        pick = torch.randperm(33, generator=g)[:frames].sort().values
        rgb, depth = render(scene, c2w[pick], K, (size, size), pick)[:2]
        pics.append((rgb.permute(0, 3, 1, 2).clamp(0, 1) * 255).round().to(torch.uint8))
        depths.append(depth.float())
        if (i + 1) % 250 == 0:
            print(f"rendered {i + 1}/{scenes} scenes", flush=True)
    return torch.cat(pics), torch.cat(depths)


def train(out: str, scenes: int, frames: int, steps: int, seed: int, batch: int = 32, lr: float = 2e-3,
          size: int = 64) -> None:
    from safetensors.torch import save_file

    planes = tuple(load_tiny(ASSETS, teacher=False).student.conditioning.pixel_guide_sweep)
    pics, depths = make_data(scenes, frames, seed, size)
    plane_t = torch.tensor(planes, dtype=torch.float64)     # a thousand frames at a time: all at once takes a
    labels = torch.cat([plane_class(d, plane_t) for d in depths.split(1024)])  # [N, H, W, P] float64, 13 GB at 2,000 clips
    n_val = min(max(64, len(pics) // 20), len(pics) // 2)      # held-out frames, never more than half
    val_x, val_y, pics, labels = pics[:n_val], labels[:n_val], pics[n_val:], labels[n_val:]
    torch.manual_seed(seed)
    net = DepthNet(planes, side=size)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(pics), (batch,))
        x, y = pics[idx].float() / 255, labels[idx]
        if torch.rand(()) < 0.5:                                  # the world is left-right symmetric
            x, y = x.flip(-1), y.flip(-1)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 250 == 0 or step + 1 == steps:
            with torch.no_grad():
                acc = (net(val_x.float() / 255).argmax(1) == val_y).double().mean().item()
            print(f"step {step + 1}/{steps} loss {loss.item():.3f} held-out plane accuracy {acc:.3f} "
                  f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, out,
              metadata={"planes": json.dumps(list(planes)), "size": str(size), "scenes": str(scenes), "seed": str(seed)})


def load_net(path: str) -> DepthNet:
    """The network of ``path`` (:func:`realcam.weights.read_depth_net`), or exit saying what it is not."""
    try:
        tensors, planes, width, side = read_depth_net(path)
    except WeightsError as exc:
        raise SystemExit(str(exc)) from None
    net = DepthNet(planes, width, side)
    net.load_state_dict(tensors)
    return net.eval()


@contextlib.contextmanager
def depths_from(model, net: DepthNet | None, keep_swept: bool = False):
    """Within the block ``model`` draws its guide through ``net``'s depths (``None``: the sweep's, or with the path
    unknown the one plane), as ``pixel_guide_depth_net`` does; with ``keep_swept`` through the sweep's where it decided
    something and the network's elsewhere (its fallback plane)."""
    made_first, made_keys, own = guide_module.guide_depth, guide_module.key_depths, model.depth_net

    def first(frames, source_pose12, *, size, fallback, **kw):
        swept = made_first(frames, source_pose12, size=size, fallback=fallback, **kw).to(torch.float64)
        return torch.where(swept == fallback, net.depth(frames[:1], size), swept)

    def keys(frames, source_pose12, starts, *, size, fallback, **kw):
        swept = made_keys(frames, source_pose12, starts, size=size, fallback=fallback, **kw).to(torch.float64)
        return torch.where(swept == fallback, net.depth(frames[list(starts)], size), swept)

    if keep_swept:
        guide_module.guide_depth, guide_module.key_depths, model.depth_net = first, keys, None
    else:
        model.depth_net = net
    try:
        yield
    finally:
        guide_module.guide_depth, guide_module.key_depths, model.depth_net = made_first, made_keys, own


def probe(net_path: str | None, scenes: int, first_scene: int, weights: str = str(ASSETS), unknown: bool = False) -> dict:
    models = load_tiny(weights, teacher=False)
    student = models.student
    net = load_net(net_path) if net_path is not None else student.depth_net
    if net is None:
        raise SystemExit(f"the student of {weights} carries no depth network (pixel_guide_depth_net): give one with --net")
    cond = student.conditioning
    if tuple(cond.pixel_guide_sweep) != net.planes:
        raise SystemExit(f"{net_path}: its planes differ from the sweep of {weights}")
    planes = torch.tensor(net.planes, dtype=torch.float64)
    out: dict = {"weights": weights, "net": net_path or f"{weights} (its own)", "first_scene": first_scene,
                 "as_rendered": True, "source_camera": "unknown" if unknown else "known", "families": {}}
    for family, i, case, (scene, c2w, K) in benchmark_cases(scenes, first_scene, amplitude=models.amplitude,
                                                             world=models.world, families=FAMILIES):
        rows = out["families"].setdefault(family, {})
        true0 = render(scene, c2w[:1], K, case.source.shape[1:3], torch.arange(1))[1]
        pic0 = (case.source[:1].permute(0, 3, 1, 2) * 255).round().to(torch.uint8)
        pose = case.source_trajectory.c2w
        swept = guide_module.guide_depth((case.source.permute(0, 3, 1, 2) * 255).round().to(torch.uint8),
                                         flat_poses(pose), fov_deg=cond.ray_fov_deg, planes=cond.pixel_guide_sweep,
                                         fallback=cond.pixel_guide_depth, size=tuple(pic0.shape[-2:]),
                                         smooth=cond.pixel_guide_sweep_smooth)
        truth = plane_class(true0, planes)
        for name, depth in (("swept depth", swept), ("net depth", net.depth(pic0))):
            right = (plane_class(depth, planes) == truth).double().mean().item()
            rows.setdefault(f"first frame on the right plane, {name}", {}).setdefault("share", []).append(right)
        for name in (("one plane", "net depth") if unknown else ("swept depth", "net depth", "sweep, else net")):
            with depths_from(student, None if name in ("one plane", "swept depth") else net, name == "sweep, else net"):
                frames_out = run_student(models, case, source_camera=not unknown).frames
            row = rows.setdefault(f"student, {name}", {})
            row.setdefault("psnr", []).append(psnr(frames_out, case.target))
            row.setdefault("motion_px", []).append(motion_error(frames_out, case.target))
        print(f"{family} {i + 1 - first_scene}/{scenes}", flush=True)
    return out


def score(nets: list[str], scenes: int, first_scene: int) -> dict:
    """How well each network of ``nets`` reads depth on the benchmark's 1× source clips (scenes ``first_scene ..
    first_scene + scenes − 1`` of every family), against the renderer's: per case, the share of the first frame's pixels
    it puts on the right plane, and of every source frame's pixels on the right plane and within one plane of it (a
    neighbouring plane draws the guide a little off; a far one draws it where another object is). No model runs."""
    loaded = [load_net(path) for path in nets]
    if any(net.planes != loaded[0].planes for net in loaded):
        raise SystemExit("the networks classify into different planes: score networks of one sweep together")
    planes = torch.tensor(loaded[0].planes, dtype=torch.float64)
    models = TinyModels(vae=None, student=None, info=weights_info(ASSETS))     # the benchmark's world and amplitude
    out: dict = {"nets": list(nets), "first_scene": first_scene, "scenes": scenes, "families": {}}
    for family, i, case, (scene, c2w, K) in benchmark_cases(scenes, first_scene, amplitude=models.amplitude,
                                                             world=models.world, families=FAMILIES):
        frames = case.source.shape[0]
        truth = plane_class(render(scene, c2w, K, case.source.shape[1:3], torch.arange(frames))[1], planes)
        pics = (case.source.permute(0, 3, 1, 2) * 255).round().to(torch.uint8)
        rows = out["families"].setdefault(family, {})
        for path, net in zip(nets, loaded):
            got = plane_class(net.depth(pics), planes)
            row = rows.setdefault(path, {})
            row.setdefault("first frame, right plane", []).append((got[0] == truth[0]).double().mean().item())
            row.setdefault("every frame, right plane", []).append((got == truth).double().mean().item())
            row.setdefault("every frame, within one plane", []).append(((got - truth).abs() <= 1).double().mean().item())
        print(f"{family} {i + 1 - first_scene}/{scenes}", flush=True)
    return out


def score_table(scores: list[dict]) -> list[str]:
    """Per family, pooled over ``scores`` (disjoint scenes, the same networks): each network's shares, mean [95 %
    bootstrap interval], and its paired difference from the first network's, case by case."""
    from realcam.demo import summarise

    nets = scores[0]["nets"]
    if any(s["nets"] != nets for s in scores):
        raise SystemExit("pool scores of the same networks, given in the same order")
    spans = []
    for result in scores:          # files written before they kept "scenes": the cases of a family
        count = result.get("scenes") or len(next(iter(next(iter(result["families"].values())).values()))["first frame, right plane"])
        lo, hi = result["first_scene"], result["first_scene"] + count
        if any(lo < b and a < hi for a, b in spans):
            raise SystemExit(f"scenes {lo}..{hi - 1} of one score file overlap another's: pool scores of disjoint scenes "
                             "(--first)")
        spans.append((lo, hi))
    pooled: dict[str, dict[str, dict[str, list[float]]]] = {}
    for result in scores:
        for family, rows in result["families"].items():
            for net, metrics in rows.items():
                for name, values in metrics.items():
                    pooled.setdefault(family, {}).setdefault(net, {}).setdefault(name, []).extend(values)

    def ci(values: list[float], sign: str = "") -> str:
        d = summarise([100 * v for v in values])
        return f"{d['mean']:{sign}.1f} [{d['lo']:{sign}.1f}, {d['hi']:{sign}.1f}]"

    names = ("first frame, right plane", "every frame, right plane", "every frame, within one plane")
    lines = ["| family | network | " + " | ".join(f"{n} %" for n in names) + " | "
             + " | ".join(f"Δ {n}, points" for n in names) + " |", "|" + " --- |" * (2 + 2 * len(names))]
    for family, rows in list(pooled.items()) + [("all", {
            net: {n: [v for f in pooled.values() for v in f[net][n]] for n in names} for net in nets})]:
        for net in nets:
            deltas = [ci([x - y for x, y in zip(rows[net][n], rows[nets[0]][n], strict=True)], "+") if net != nets[0]
                      else "—" for n in names]
            lines.append(f"| {family} | {net} | " + " | ".join(ci(rows[net][n]) for n in names) + " | "
                         + " | ".join(deltas) + " |")
    return lines


READINGS = ("swept depth", "one plane", "net depth", "sweep, else net")   # the first present is the render itself


def _readings(rows: dict) -> list[str]:
    return [r for r in READINGS if f"student, {r}" in rows]


def table(probes: list[dict], evals: list[dict] | None = None) -> list[str]:
    """Per family, pooled over ``probes`` (each with the ``eval`` run of the same scenes in ``evals``): the share of
    the first frame's pixels on the right plane, and each reading's PSNR, its paired difference from the render
    itself (*swept depth*) and the motion bar's margin (the point halfway between the VAE ceiling's and the frozen
    frame's motion error minus the student's, case by case), mean [95 % bootstrap interval], cases under the bar."""
    from realcam.demo import FROZEN, VAE_CEILING, summarise

    def ci(values: list[float], fmt: str) -> str:
        d = summarise(values)
        return f"{fmt.format(d['mean'])} [{fmt.format(d['lo'])}, {fmt.format(d['hi'])}]"

    pooled: dict[str, dict[str, list[float]]] = {}
    for result, run in zip(probes, evals or [None] * len(probes), strict=True):
        if run is None:         # no eval run given: no motion bar
            run = {"first_scene": result["first_scene"], "source_camera": result.get("source_camera", "known"),
                   "cases": []}
        if run.get("first_scene", 0) != result["first_scene"]:
            raise SystemExit("each probe needs the eval run of its own scenes (--first-scene)")
        if run.get("source_camera", "known") != result.get("source_camera", "known"):
            raise SystemExit("each probe needs the eval run with the same source camera (--source-camera)")
        for family, rows in result["families"].items():
            cases = [c for c in run["cases"] if c["family"] == family]
            bars = [(c["motion_px_1x"][FROZEN] + c["motion_px_1x"][VAE_CEILING]) / 2 for c in cases]
            if evals is not None and len(bars) != len(rows[f"student, {_readings(rows)[0]}"]["psnr"]):
                raise SystemExit(f"{family}: the eval run holds {len(bars)} cases where the probe holds "
                                 f"{len(rows[f'student, {_readings(rows)[0]}']['psnr'])}: give the run of the same scenes")
            base = rows[f"student, {_readings(rows)[0]}"]["psnr"]
            for name, metrics in rows.items():
                into = pooled.setdefault(family, {})
                if "share" in metrics:
                    into.setdefault(name, []).extend(metrics["share"])
                    continue
                into.setdefault(f"{name}: PSNR", []).extend(metrics["psnr"])
                into.setdefault(f"{name}: Δ PSNR", []).extend(x - y for x, y in zip(metrics["psnr"], base, strict=True))
                into.setdefault(f"{name}: Δ motion", []).extend(
                    x - y for x, y in zip(metrics["motion_px"], rows[f"student, {_readings(rows)[0]}"]["motion_px"], strict=True))
                if bars:
                    into.setdefault(f"{name}: margin", []).extend(b - m for b, m in zip(bars, metrics["motion_px"], strict=True))
    lines = ["| family | right plane: sweep / net | reading | PSNR dB | − the render itself, dB | − the render itself, "
             "motion px | motion margin px (cases under) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for family, rows in pooled.items():
        right = " / ".join(f"{100 * sum(rows[k]) / len(rows[k]):.0f} %" for k in
                           ("first frame on the right plane, swept depth", "first frame on the right plane, net depth"))
        for name in [r for r in READINGS if f"student, {r}: PSNR" in rows]:
            margin = rows.get(f"student, {name}: margin")
            bar = f"{ci(margin, '{:+.2f}')} ({sum(x > 0 for x in margin)}/{len(margin)})" if margin else "—"
            lines.append(f"| {family} | {right} | {name} | {ci(rows[f'student, {name}: PSNR'], '{:.2f}')} | "
                         f"{ci(rows[f'student, {name}: Δ PSNR'], '{:+.2f}')} | "
                         f"{ci(rows[f'student, {name}: Δ motion'], '{:+.3f}')} | {bar} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--scenes", type=int, default=1500)
    t.add_argument("--frames", type=int, default=8)
    t.add_argument("--steps", type=int, default=2500)
    t.add_argument("--seed", type=int, default=11)
    q = sub.add_parser("probe")
    q.add_argument("--net", default=None, help="a network written by `train` (default: the one the student carries)")
    q.add_argument("--weights", default=str(ASSETS), help="the weights folder whose student reads the guide")
    q.add_argument("--scenes", type=int, default=5)
    q.add_argument("--first", type=int, default=0)
    q.add_argument("--unknown", action="store_true",
                   help="withhold the source's path (a user's video): the one-plane guide against the first frame "
                        "drawn through the network's depth")
    q.add_argument("--out", default=None)
    r = sub.add_parser("table", help="the probes' figures, pooled, with the motion bar of each one's eval run")
    r.add_argument("--probe", nargs="+", required=True, help="JSONs written by `probe --out`")
    r.add_argument("--eval", nargs="+", default=None,
                   help="the `python -m realcam eval` JSON of each probe's scenes (without: no motion bar)")
    c = sub.add_parser("score", help="each network's depth on the benchmark's source clips against the renderer's")
    c.add_argument("--net", nargs="+", default=None, help="networks written by `train` (or checkpoints carrying one); "
                                                          "the differences are against the first")
    c.add_argument("--scenes", type=int, default=5)
    c.add_argument("--first", type=int, default=0)
    c.add_argument("--out", default=None)
    c.add_argument("--table", nargs="+", default=None, metavar="SCORE.json",
                   help="print the pooled table of these `score --out` files (of disjoint scenes) instead of scoring")
    a = p.parse_args()
    if a.cmd == "score":
        if a.table:
            print("\n".join(score_table([json.loads(open(x).read()) for x in a.table])))
            return
        if not a.net:
            p.error("score: give --net (the networks to score) or --table (score files to pool)")
        result = score(a.net, a.scenes, a.first)
        print("\n".join(score_table([result])))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(result, f, indent=1)
        return
    if a.cmd == "table":
        load = lambda path: json.loads(open(path).read())  # noqa: E731
        print("\n".join(table([load(x) for x in a.probe], None if a.eval is None else [load(x) for x in a.eval])))
        return
    if a.cmd == "train":
        if a.steps < 40 or a.scenes < 1 or a.frames < 1 or a.scenes * a.frames < 4:
            p.error("--steps must be at least 40 (the learning rate warms up over the first 5 %), and --scenes × --frames "
                    "at least 4 (a quarter to a half of them are held out)")
        if a.seed in (1, 2, HELD_OUT_SEED):
            p.error(f"--seed {a.seed} is a seed the chain or the benchmark uses: pick another")
        train(a.out, a.scenes, a.frames, a.steps, a.seed)
        return
    result = probe(a.net, a.scenes, a.first, a.weights, a.unknown)
    for family, rows in result["families"].items():
        for name, metrics in rows.items():
            figs = ", ".join(f"{k} {sum(v) / len(v):.3f}" for k, v in metrics.items() if all(map(math.isfinite, v)))
            print(f"{family} | {name} | {figs}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
