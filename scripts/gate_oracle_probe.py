"""What a gate that knew the truth would give (docs/results.md, "World v2: the gate taught the share, and a gate that knows
the truth"): the student of a weights folder (default the embedded one) streams held-out world-v2 cases at 1× with the
source's path known, as ``eval`` runs them, its gate either as trained (``--gate trained``) or replaced, at every
denoising step, by the share of the pixel guide that brings the model's own estimate nearest the true target latents
(``--gate share``: :func:`realcam.train.losses.gate_target` of kind ``share``, the truth encoded by the folder's VAE) or
by the 0/1 choice of the nearer of the two (``--gate better``). The strength the checkpoint carries is not applied to
an oracle gate. Each case is scored like the benchmark (clip PSNR, motion error in px, share of frames registered), with
the frozen first frame and the truth through the VAE for the motion bar; ``--table`` pairs two runs case by case.

    python scripts/gate_oracle_probe.py --gate trained --out trained.json [--first 0] [--scenes 5] [--weights DIR]
    python scripts/gate_oracle_probe.py --gate share --out share.json
    python scripts/gate_oracle_probe.py --table share.json --against trained.json
    python scripts/gate_oracle_probe.py --table share.json share_10.json --against trained.json trained_10.json

``--table`` pools runs over disjoint scenes (``--first 0`` and ``--first 10``, say) case by case, as
scripts/bar_check.py pools `eval` runs; ``--against`` then takes the same scenes, in the same order.

``--agreement`` instead asks what could tell a gate where the guide is right, without the truth: on the same cases, for
every target frame after the first latent frame, each pixel of the guide the pipeline draws (``pixel_guide_views:
nearest``, the embedded sweep; scripts/sweep_settings_probe.py) falls in one class — the first frame and the source
frame that latent frame starts at both reproject onto it and agree (mean absolute RGB difference < 0.05), both reach it
and disagree, or at most one reaches it — and, apart, whether any source frame a latent frame starts at reaches it. Per
family: each class's share of the pixels and the guide's mean absolute error there, averaged over a case's frames, then
over its cases.

    python scripts/gate_oracle_probe.py --agreement --first 5 --out agreement.json

``--views every`` draws each latent frame's guide from the first frame and every source frame a latent frame starts at up
to that one (never a later one: a stream has not seen it), nearest camera first, each through its own swept depth, the
one plane under all (:class:`EveryView`), instead of from the nearer of the first frame and the same-time frame alone
(``pixel_guide_views: nearest``); the agreement the strength reads is the same two views'.

    python scripts/gate_oracle_probe.py --gate trained --views every --first 5 --out every.json

An oracle is not a model: the truth it reads is what the benchmark scores against. It bounds what any gate could
take from the guide the pipeline draws, with every other weight as it is.
"""
from __future__ import annotations

import argparse
import contextlib
import json

import torch

from realcam.demo import ASSETS, FAMILIES, frozen, load_tiny, make_case, run_student, summarise, vae_round_trip
from realcam.metrics import camera_error, motion_error, psnr
from realcam.model import RealCamDiT
from realcam.pipeline import encode_video
from realcam.sampling.streaming import StreamingSession
from realcam.train.losses import gate_target

METRICS = ("psnr", "motion_px", "registered")


class OracleGate:
    """Replaces ``RealCamDiT.take_from_guide`` while active: the gate becomes the oracle share of ``kind`` against
    ``truth`` (``[1, C, F, h, w]`` target latents), the stream's chunk start read from ``denoise_chunk``."""

    def __init__(self, kind: str) -> None:
        self.kind, self.truth, self.start = kind, None, 0
        self._take, self._denoise = RealCamDiT.take_from_guide, StreamingSession.denoise_chunk

    def __enter__(self) -> OracleGate:
        probe = self

        def denoise_chunk(session, i, source, **kwargs):
            probe.start = i * session.chunk
            return probe._denoise(session, i, source, **kwargs)

        def take_from_guide(model, x, v, t, pixels, gate):
            sigma = (t.to(v.device, torch.float32) / 1000).reshape(t.shape[0], 1, -1, 1, 1)
            frames = (pixels[0].abs().sum(dim=(0, 2, 3)) > 0).nonzero().flatten()   # the target frames (guide ≠ 0)
            if float(sigma.max()) == 0 or len(frames) == 0:                          # the clean cache pass
                return probe._take(model, x, v, t, pixels, gate)
            truth = torch.zeros_like(x, dtype=torch.float32)
            truth[:, :, frames] = probe.truth[:, :, probe.start:probe.start + len(frames)].float()
            x0 = x.float() - sigma * v.float()
            return probe._take(model, x, v, t, pixels, gate_target(x0, pixels.float(), truth, probe.kind).expand_as(gate))

        RealCamDiT.take_from_guide, StreamingSession.denoise_chunk = take_from_guide, denoise_chunk
        return self

    def __exit__(self, *exc) -> None:
        RealCamDiT.take_from_guide, StreamingSession.denoise_chunk = self._take, self._denoise


class AgreementStrength:
    """Replaces the strength the checkpoint carries while active (``--gate agree:A,D``): where the guide is drawn through
    the swept depth, the gate's share is taken ``s`` times as :meth:`RealCamDiT.guide_share` takes it, ``s`` going from
    ``D`` where no pixel of a latent cell agrees to ``A`` where all do (the first frame's and the same-time frame's
    reprojections, as ``--agreement`` classes them; latent frame 0, drawn from the first frame alone, at the strength
    the checkpoint carries)."""

    def __init__(self, spec: str) -> None:
        try:
            self.agree_s, self.disagree_s = (float(v) for v in spec.split(","))
        except ValueError:
            raise SystemExit(f"--gate agree:{spec}: give two strengths, e.g. agree:2,1") from None
        self.maps: dict[int, torch.Tensor] = {}
        self.start, self.base = 0, 1.0
        self._take, self._denoise, self._share = (RealCamDiT.take_from_guide, StreamingSession.denoise_chunk,
                                                  RealCamDiT.__dict__["guide_share"])

    def __enter__(self) -> AgreementStrength:
        import realcam.guide as guide_module

        probe, nearest = self, guide_module.nearest_views
        self._nearest = nearest

        def nearest_views(first, depth, keys, target_c2w, start, K, *, fallback, agreement=False):
            views, agree, second = nearest(first, depth, keys, target_c2w, start, K, fallback=fallback, agreement=True)
            for j in second.nonzero().flatten().tolist():
                probe.maps[start + j] = agree[:, j]
            return (views, agree, second) if agreement else views

        def denoise_chunk(session, i, source, **kwargs):
            probe.start, probe.base = i * session.chunk, session._guide_strength
            return probe._denoise(session, i, source, **kwargs)

        def take_from_guide(model, x, v, t, pixels, gate):
            frames = (pixels[0].abs().sum(dim=(0, 2, 3)) > 0).nonzero().flatten()
            s = torch.ones_like(gate[:, :1], dtype=torch.float32)
            for n, f in enumerate(frames.tolist()):
                a = probe.maps.get(probe.start + n)
                if probe.base == 1.0:           # a guide through the one plane: the gate as trained
                    continue
                if a is None:
                    s[:, :, f] = probe.base
                    continue
                cell = torch.nn.functional.adaptive_avg_pool2d(a[:, None], gate.shape[-2:])    # [B, 1, h, w]
                s[:, :, f] = probe.disagree_s + (probe.agree_s - probe.disagree_s) * cell
            g = gate.float()
            return probe._take(model, x, v, t, pixels, torch.minimum(g * s, g.clamp_min(1.0)))

        guide_module.nearest_views = nearest_views
        RealCamDiT.take_from_guide, StreamingSession.denoise_chunk = take_from_guide, denoise_chunk
        RealCamDiT.guide_share = staticmethod(lambda gate, strength=1.0: gate)       # scaled in take_from_guide
        return self

    def __exit__(self, *exc) -> None:
        import realcam.guide as guide_module

        guide_module.nearest_views = self._nearest
        RealCamDiT.take_from_guide, StreamingSession.denoise_chunk = self._take, self._denoise
        RealCamDiT.guide_share = self._share


class EveryView:
    """While active, ``pixel_guide_views: nearest`` draws latent frame ``k`` from the first frame and every source key
    ``1 .. k`` (the frames latent frames ``1 .. k`` start at), nearest camera first, each one's layers over the
    farther ones', the one plane under all; where the first frame and key ``k`` agree is reported as before."""

    def __enter__(self) -> EveryView:
        import realcam.guide as guide_module
        from realcam.camera.rays import plane_views, reproject_layers

        self._nearest = nearest = guide_module.nearest_views

        def nearest_views(first, depth, keys, target_c2w, start, K, *, fallback, agreement=False):
            views, agree, second = nearest(first, depth, keys, target_c2w, start, K, fallback=fallback, agreement=True)
            layers, cover = reproject_layers(first, depth, target_c2w, K)
            plane = plane_views(first, target_c2w, K, fallback)
            last = keys.c2w.shape[1] - 1
            for j in second.nonzero().flatten().tolist():
                target = target_c2w[:, j]
                drawn = [(float(target[0, :3, 3].norm()), layers[:, :, j], cover[:, :, j])]
                for k in range(1, min(start + j, last) + 1):
                    rel = torch.linalg.solve(keys.c2w[:, k], target)
                    own, own_cover = reproject_layers(keys.pictures[:, k], keys.depths[:, k], rel[:, None], K)
                    drawn.append((float((target[0, :3, 3] - keys.c2w[0, k, :3, 3]).norm()), own[:, :, 0], own_cover[:, :, 0]))
                picture, covered = torch.zeros_like(layers[:, :, j]), torch.zeros_like(cover[:, :, j])
                for _, own, own_cover in sorted(drawn, key=lambda d: d[0]):     # nearest camera first ("over")
                    picture, covered = picture + (1 - covered) * own, covered + (1 - covered) * own_cover
                views[:, :, j] = picture + (1 - covered) * plane[:, :, j]
            return (views, agree, second) if agreement else views

        guide_module.nearest_views = nearest_views
        return self

    def __exit__(self, *exc) -> None:
        import realcam.guide as guide_module

        guide_module.nearest_views = self._nearest


def probe(folder: str, gate: str, first: int, scenes: int, views: str = "nearest") -> dict:
    models = load_tiny(folder)
    if not models.student.conditioning.pixel_guide_skip:
        raise SystemExit(f"{folder}: the student has no guide gate (conditioning.pixel_guide_skip)")
    out: dict = {"weights": str(folder), "gate": gate, "views": views, "first_scene": first, "scenes": scenes,
                 "families": {}}
    oracle = (None if gate == "trained" else AgreementStrength(gate.split(":", 1)[1]) if gate.startswith("agree:")
              else OracleGate(gate))
    for k, (family, presets) in enumerate(FAMILIES.items()):
        rows: dict[str, dict[str, list[float]]] = {}
        for i in range(first, first + scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=models.amplitude, world=models.world)
            with torch.no_grad(), (EveryView() if views == "every" else contextlib.nullcontext()):
                if isinstance(oracle, AgreementStrength):
                    oracle.maps.clear()
                    with oracle:
                        frames = run_student(models, case).frames
                elif oracle is not None:
                    oracle.truth = encode_video(models.vae, case.target).latents
                    with oracle:
                        frames = run_student(models, case).frames
                else:
                    frames = run_student(models, case).frames
                outs = {"student": frames, "frozen frame 0": frozen(case), "truth via VAE": vae_round_trip(models, case.target)}
            for name, video in outs.items():
                row = rows.setdefault(name, {m: [] for m in METRICS})
                row["psnr"].append(psnr(video, case.target))
                row["motion_px"].append(motion_error(video, case.target))
                if name == "student":
                    err = camera_error(video, case.target_c2w, case.target, case.target_depth, case.K, every=2)
                    row["registered"].append(err.success_rate)
            print(f"{family} {i + 1 - first}/{scenes}: " + ", ".join(
                f"{m} {rows['student'][m][-1]:.3f}" for m in METRICS), flush=True)
        out["families"][family] = rows
    return out


AGREE = 0.05         # mean absolute RGB difference under which two reprojections agree
CLASSES = ("agree", "disagree", "one view")


def agreement(first: int, scenes: int) -> dict:
    import importlib.util
    from pathlib import Path

    from realcam.camera.rays import reproject_layers

    spec = importlib.util.spec_from_file_location("sweep_settings_probe", Path(__file__).with_name("sweep_settings_probe.py"))
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)          # the embedded sweep and nearer-frame guide, as that probe draws them
    FALLBACK, P25, SMOOTH = sweep.FALLBACK, sweep.P25, sweep.SMOOTH
    nearer_frame_guide, plane_sweep_depth, source_keys = sweep.nearer_frame_guide, sweep.plane_sweep_depth, sweep.source_keys

    out: dict = {"agreement": AGREE, "first_scene": first, "scenes": scenes, "families": {}}
    for k, (family, presets) in enumerate(FAMILIES.items()):
        rows: dict[str, list[float]] = {}
        for i in range(first, first + scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=1.0, world="v2")
            rel_source = torch.linalg.inv(case.source_c2w[0]) @ case.source_c2w
            rel_target = torch.linalg.inv(case.source_c2w[0]) @ case.target_c2w
            frames = (case.source.permute(0, 3, 1, 2) * 255).round() / 255               # as the pipeline keeps them
            pictures = case.source.permute(0, 3, 1, 2)
            depth = plane_sweep_depth(frames, rel_source, case.K, P25, fallback=FALLBACK, smooth=SMOOTH)
            keys = source_keys(case, frames, pictures, depth)
            guide = nearer_frame_guide(case, keys, pictures, depth).permute(0, 3, 1, 2)    # [F, 3, H, W]
            n, per_frame = keys.c2w.shape[1], {}
            for t in range(4, len(rel_target)):
                seen = []
                for key in range(n):
                    rel = torch.linalg.solve(keys.c2w[:, key], rel_target[None, t])
                    view, cover = reproject_layers(keys.pictures[:, key], keys.depths[:, key], rel[:, None], case.K)
                    seen.append((view[0, :, 0], cover[0, 0, 0] > 0.5))
                (v0, c0), (v1, c1) = seen[0], seen[min(t // 4, n - 1)]
                close = (v0 - v1).abs().mean(0) < AGREE
                masks = {"agree": c0 & c1 & close, "disagree": c0 & c1 & ~close, "one view": ~(c0 & c1)}
                err = (guide[t] - case.target[t].permute(2, 0, 1)).abs().mean(0)
                for name, m in masks.items():
                    per_frame.setdefault(f"share {name}", []).append(float(m.float().mean()))
                    if m.any():
                        per_frame.setdefault(f"error {name}", []).append(float(err[m].mean()))
                per_frame.setdefault("share no key frame", []).append(
                    float((~torch.stack([c for _, c in seen]).any(0)).float().mean()))
            for key, values in per_frame.items():                          # one figure per case: its frames' mean
                rows.setdefault(key, []).append(sum(values) / len(values))
            print(f"{family} {i + 1 - first}/{scenes}", flush=True)
        out["families"][family] = rows
    return out


def print_agreement(result: dict) -> None:
    print(f"scenes {result['first_scene']}..{result['first_scene'] + result['scenes'] - 1}: share of the guide's pixels "
          "/ its mean absolute error there")
    print("| family | " + " | ".join(CLASSES) + " | no source frame reaches |")
    print("| --- |" + " --- |" * (len(CLASSES) + 1))
    for family, rows in result["families"].items():
        def mean(key: str, rows: dict = rows) -> float:
            return summarise(rows.get(key, []))["mean"]
        cells = [f"{mean('share ' + c):.0%} / {mean('error ' + c):.3f}" for c in CLASSES]
        print(f"| {family} | " + " | ".join(cells) + f" | {mean('share no key frame'):.0%} |")


def pool(runs: list[dict], names: list[str]) -> dict:
    """Runs of one gate over disjoint scenes as one run: each family's per-case figures concatenated in the order given,
    ``scene_ranges`` the scenes of each. Refused, naming the file, for runs of another gate, views or weights, or
    whose scenes overlap."""
    if not runs:
        raise SystemExit("--table: give at least one run written by --out")
    first, ranges = runs[0], []
    for run, name in zip(runs, names):
        if not isinstance(run, dict) or not isinstance(run.get("families"), dict) or "first_scene" not in run:
            raise SystemExit(f"{name}: not a run written by gate_oracle_probe.py --out")
        for key in ("gate", "views", "weights"):
            if run.get(key) != first.get(key):
                raise SystemExit(f"{name}: '{key}' is {run.get(key)!r} where {names[0]} has {first.get(key)!r}: only "
                                 "runs of the same gate, views and weights pool")
        scenes = range(run["first_scene"], run["first_scene"] + run["scenes"])
        for (lo, hi), other in zip(ranges, names):
            if scenes.start < hi and lo < scenes.stop:
                raise SystemExit(f"{name}: scenes {scenes.start}..{scenes.stop - 1} overlap {other}'s: pool runs over "
                                 "disjoint scenes (--first)")
        ranges.append((scenes.start, scenes.stop))
    families: dict = {}
    for run, name in zip(runs, names):
        if set(run["families"]) != set(first["families"]):
            raise SystemExit(f"{name}: families {sorted(run['families'])} differ from {names[0]}'s")
        for family, rows in run["families"].items():
            for method, metrics in rows.items():
                dest = families.setdefault(family, {}).setdefault(method, {})
                for metric, values in metrics.items():
                    dest.setdefault(metric, []).extend(values)
    return {**{k: first.get(k) for k in ("weights", "gate", "views")}, "scene_ranges": ranges, "families": families}


def _scenes(result: dict) -> str:
    ranges = result.get("scene_ranges") or [(result["first_scene"], result["first_scene"] + result["scenes"])]
    return ", ".join(f"{lo}..{hi - 1}" for lo, hi in ranges)


def print_table(result: dict, against: dict | None) -> None:
    """Per family: the student's PSNR, motion error and registered share (mean [95 % interval]), the motion bar
    (halfway between the frozen frame and the truth through the VAE), and, against another run, the paired differences."""
    def cell(values: list[float], fmt: str) -> str:
        s = summarise(values)
        return f"{s['mean']:{fmt}} [{s['lo']:{fmt}}, {s['hi']:{fmt}}]"

    head = "| family | PSNR dB | motion px (bar) | registered |"
    if against:
        head += f" PSNR − {against['gate']} | motion − {against['gate']} | registered − {against['gate']} |"
    if against is not None and _scenes(against) != _scenes(result):
        raise SystemExit(f"--against covers scenes {_scenes(against)}, the table {_scenes(result)}: pair the same scenes")
    print(f"{result['gate']} gate, {result.get('views', 'nearest')} views, scenes {_scenes(result)}")
    print(head)
    print("|" + " --- |" * head.count(" |"))
    for family, rows in result["families"].items():
        s = rows["student"]
        bar = (summarise(rows["frozen frame 0"]["motion_px"])["mean"] + summarise(rows["truth via VAE"]["motion_px"])["mean"]) / 2
        line = f"| {family} | {cell(s['psnr'], '.2f')} | {cell(s['motion_px'], '.3f')} ({bar:.3f}) | {cell(s['registered'], '.2f')} |"
        if against:
            o = against["families"][family]["student"]
            line += "".join(f" {cell([a - b for a, b in zip(s[m], o[m])], fmt)} |"
                            for m, fmt in (("psnr", "+.2f"), ("motion_px", "+.3f"), ("registered", "+.2f")))
        print(line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ASSETS), help="a weights folder (default: the embedded model)")
    p.add_argument("--gate", default="trained", help="trained, share or better (the oracles), or agree:A,D (the strength "
                   "A where the guide's two views agree, D where they do not)")
    p.add_argument("--first", type=int, default=0, help="first held-out scene (0: the benchmark's; 5: the ones after)")
    p.add_argument("--scenes", type=int, default=5)
    p.add_argument("--out", help="write the per-case figures here (JSON)")
    p.add_argument("--table", nargs="+", help="print the table of runs written by --out (several over disjoint scenes "
                   "pool case by case)")
    p.add_argument("--against", nargs="+", help="with --table: runs of other gates over the same scenes, to pair with "
                   "case by case")
    p.add_argument("--agreement", action="store_true", help="where the guide's two views agree, and its error there")
    p.add_argument("--views", choices=("nearest", "every"), default="nearest",
                   help="every: draw each latent frame from the first frame and every source key up to it (see above)")
    a = p.parse_args()
    if a.gate not in ("trained", "share", "better") and not a.gate.startswith("agree:"):
        raise SystemExit(f"--gate {a.gate!r}: choose trained, share, better or agree:A,D")
    if a.table and a.agreement:
        if len(a.table) != 1:
            raise SystemExit("--agreement --table: give one run")
        print_agreement(json.loads(open(a.table[0]).read()))
        return
    if a.table:
        def read(names: list[str]) -> dict:
            return pool([json.loads(open(n).read()) for n in names], names)
        print_table(read(a.table), read(a.against) if a.against else None)
        return
    if a.first < 0 or a.scenes < 1:
        raise SystemExit("--first must be ≥ 0 and --scenes ≥ 1")
    result = agreement(a.first, a.scenes) if a.agreement else probe(a.weights, a.gate, a.first, a.scenes, a.views)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    (print_agreement(result) if a.agreement else print_table(result, None))


if __name__ == "__main__":
    main()
