"""What the render could still tell the guide gate (docs/results.md, "World v2: what the render can tell the gate"). The
oracle gate of scripts/gate_oracle_probe.py gains 1.0–2.7 dB per family by taking, at every step, the share of the pixel
guide that brings the student's estimate nearest the truth. Could a gate that reads what the render knows — where the
guide's two views agree, how far apart they are, which of them reaches a pixel, the noise level, how far the guide lies
from the model's own estimate — take a good part of that without the truth?

The student of a weights folder (default the embedded one) streams world-v2 cases of a scene seed that neither training
(1, 2) nor the benchmark (``realcam.demo.HELD_OUT_SEED``) uses (``--seed``, default 7), at 1× with the source's path
known, exactly as the checkpoint renders. At every denoising step above ``RealCamDiT.GATE_MIN_SIGMA``, for every target
latent frame drawn through the swept depth, it records the student's estimate ``x0`` before the gate, the guide, the
true target latents (the truth through the folder's VAE), the gate as trained, the share the checkpoint took (its
``pixel_guide_strength`` and ``pixel_guide_agreement`` applied) and, per latent cell, what the render knows of the
guide's two views (:data:`VIEW_FEATURES`). The first half of the scenes teaches a small network the share per latent
value from those observables (:class:`Calibration`: a two-layer MLP on :data:`INPUTS`, fitted on the blend's own
squared error); the second half scores, per case, the mean squared error of the blended estimate
``x0 + s·(guide − x0)`` against the truth for

- the model alone (``s = 0``), the gate as trained, the share the checkpoint takes (``embedded``);
- ``learned``: the network on every input; ``learned, no views``: the same without the views' features (the gate, the
  noise level and the guide's distance from ``x0`` alone), to show what the views add;
- ``oracle``: the least-squares share per latent position from the truth (``gate_target`` of kind ``share``), the
  gate probe's oracle;

per family, mean [95 % bootstrap interval] over its test cases, and the share of the gap between the checkpoint's
share and the oracle that the learned one closes. This measures one step of the blend, on the estimates the student
reaches with its own share, not a render; a render of the learned share is worth running only if it closes a good part
of the gap.

    python scripts/gate_calibration_probe.py [--weights DIR] [--seed 7] [--scenes 20] --out calibration.json
    python scripts/gate_calibration_probe.py --table calibration.json
"""
from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from realcam.demo import ASSETS, FAMILIES, load_tiny, make_case, run_student, summarise
from realcam.model import RealCamDiT
from realcam.pipeline import encode_video
from realcam.sampling.streaming import StreamingSession
from realcam.train.losses import gate_target

# per latent cell of a latent frame with a second view, the share of its pixels that: both views reach and agree
# (view_agreement), both reach, only the first frame reaches, only the same-time frame reaches, neither reaches (the
# one-plane guide shows); and the two views' mean absolute RGB difference where both reach
VIEW_FEATURES = ("agree", "both reach", "first only", "same-time only", "neither", "views apart")
INPUTS = ("gate", "sigma", "|guide - x0|", "mean over channels", "second view") + VIEW_FEATURES
ROWS = ("model alone", "gate as trained", "embedded", "learned, no views", "learned", "oracle")


class _Recorder:
    """While active, records every gated step of a student stream (see the module's docstring) into ``steps``."""

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.truth: torch.Tensor | None = None
        self.views: dict[int, torch.Tensor] = {}
        self.start, self.raw, self.swept = 0, None, False

    def __enter__(self) -> _Recorder:
        import realcam.guide as guide_module
        from realcam.camera.rays import reproject_layers

        rec = self
        self._saved = (guide_module.nearest_views, StreamingSession.denoise_chunk, RealCamDiT.take_from_guide,
                       RealCamDiT.__dict__["guide_share"])
        nearest, denoise, take, share = self._saved

        def nearest_views(first, depth, keys, target_c2w, start, K, *, fallback, agreement=False):
            views, agree, second = nearest(first, depth, keys, target_c2w, start, K, fallback=fallback, agreement=True)
            layers, cover = reproject_layers(first, depth, target_c2w, K)
            last = keys.c2w.shape[1] - 1
            for j in second.nonzero().flatten().tolist():           # the same key nearest_views compares with
                k = min(start + j, last)
                rel = torch.linalg.solve(keys.c2w[:, k], target_c2w[:, j])
                own, own_cover = reproject_layers(keys.pictures[:, k], keys.depths[:, k], rel[:, None], K)
                a, b = (cover[:, 0, j] > 0.5).float(), (own_cover[:, 0, 0] > 0.5).float()
                apart = (layers[:, :, j] - own[:, :, 0]).abs().mean(1) * a * b
                rec.views[start + j] = torch.stack([agree[:, j], a * b, a * (1 - b), (1 - a) * b, (1 - a) * (1 - b),
                                                    apart], 1)
            return (views, agree, second) if agreement else views

        def denoise_chunk(session, i, source, **kwargs):
            rec.start = i * session.chunk
            rec.swept = bool(getattr(session._pixel_guide, "swept", False))     # a guide through the swept depth
            return denoise(session, i, source, **kwargs)

        def guide_share(gate, strength=1.0):
            rec.raw = gate
            return share(gate, strength)

        def take_from_guide(model, x, v, t, pixels, gate):
            sigma = (t.to(v.device, torch.float32) / 1000).reshape(t.shape[0], 1, -1, 1, 1)
            frames = (pixels[0].abs().sum(dim=(0, 2, 3)) > 0).nonzero().flatten()
            if float(sigma.max()) > 0 and len(frames) and rec.swept:
                rec.record(x, v, sigma, pixels, gate, frames)
            return take(model, x, v, t, pixels, gate)

        guide_module.nearest_views = nearest_views
        StreamingSession.denoise_chunk, RealCamDiT.take_from_guide = denoise_chunk, take_from_guide
        RealCamDiT.guide_share = staticmethod(guide_share)
        return self

    def record(self, x, v, sigma, pixels, taken, frames) -> None:
        x0 = x.float() - sigma * v.float()
        for n, f in enumerate(frames.tolist()):
            s = float(sigma[0, 0, f if sigma.shape[2] > 1 else 0])
            if s <= RealCamDiT.GATE_MIN_SIGMA:
                continue
            size = taken.shape[-2:]
            views = self.views.get(self.start + n)
            cells = (torch.zeros(len(VIEW_FEATURES), *size) if views is None
                     else F.adaptive_avg_pool2d(views.float(), size)[0])
            self.steps.append({"x0": x0[0, :, f], "guide": pixels[0, :, f].float(),
                               "truth": self.truth[0, :, self.start + n].float(), "gate": self.raw[0, :, f].float(),
                               "taken": taken[0, :, f].float(), "sigma": s, "second": views is not None,
                               "views": cells})

    def __exit__(self, *exc) -> None:
        import realcam.guide as guide_module

        (guide_module.nearest_views, StreamingSession.denoise_chunk, RealCamDiT.take_from_guide,
         guide) = self._saved
        RealCamDiT.guide_share = guide


def collect(folder: str, seed: int, scenes: int) -> list[dict]:
    """One record per case that draws a swept guide: its family, scene and the stacked steps (see the docstring)."""
    models = load_tiny(folder)
    if not models.student.conditioning.pixel_guide_skip:
        raise SystemExit(f"{folder}: the student has no guide gate (conditioning.pixel_guide_skip)")
    cases = []
    for k, (family, presets) in enumerate(FAMILIES.items()):
        for i in range(scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=models.amplitude, world=models.world,
                             seed=seed)
            rec = _Recorder()
            rec.truth = encode_video(models.vae, case.target).latents.float()
            with torch.no_grad(), rec:
                run_student(models, case)
            print(f"{family} {i + 1}/{scenes}: {len(rec.steps)} gated frames", flush=True)
            if rec.steps:
                stacked = {key: torch.stack([torch.as_tensor(s[key]) for s in rec.steps]) for key in rec.steps[0]}
                cases.append({"family": family, "scene": i, **stacked})
    return cases


def inputs(case: dict, views: bool = True) -> torch.Tensor:
    """The calibration's inputs per latent value, ``[N, C, h, w, len(INPUTS)]`` (without the views' features: the
    first four)."""
    g, x0, guide = case["gate"], case["x0"], case["guide"]
    apart = (guide - x0).abs()
    per_value = lambda t: t.reshape(-1, *([1] * (g.ndim - 1))).expand_as(g).float()    # noqa: E731
    cols = [g, per_value(case["sigma"]), apart, apart.mean(1, keepdim=True).expand_as(g)]
    if views:
        cols.append(per_value(case["second"]))
        cols += [case["views"][:, j:j + 1].expand_as(g) for j in range(len(VIEW_FEATURES))]
    return torch.stack(cols, -1)


class Calibration(torch.nn.Module):
    """The learned share per latent value: a two-layer MLP (SiLU) of its inputs, squashed to [0, 1.25] (the checkpoint's
    share may exceed 1 where the gate does)."""

    def __init__(self, n: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(n, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.SiLU(), torch.nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.25 * torch.sigmoid(self.net(x))[..., 0]


def fit(cases: list[dict], views: bool = True, steps: int = 3000, batch: int = 65536, seed: int = 0) -> Calibration:
    """The calibration fitted on ``cases`` by Adam on the blend's squared error against the truth."""
    torch.manual_seed(seed)
    x = torch.cat([inputs(c, views).reshape(-1, len(INPUTS) if views else 4) for c in cases])
    x0, guide, truth = (torch.cat([c[key].reshape(-1) for c in cases]) for key in ("x0", "guide", "truth"))
    model = Calibration(x.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        pick = torch.randint(0, len(x), (min(batch, len(x)),))
        s = model(x[pick])
        loss = ((x0[pick] + s * (guide[pick] - x0[pick]) - truth[pick]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def blend_error(case: dict, share: torch.Tensor | float) -> float:
    """Mean squared error of ``x0 + s·(guide − x0)`` against the truth over a case's gated frames."""
    return float(((case["x0"] + share * (case["guide"] - case["x0"]) - case["truth"]) ** 2).mean())


def score(test: list[dict], learned: Calibration, plain: Calibration) -> dict:
    """Per family, per row of :data:`ROWS`, one blend error per test case."""
    out: dict = {}
    with torch.no_grad():
        for case in test:
            shares = {"model alone": 0.0, "gate as trained": case["gate"], "embedded": case["taken"],
                      "learned, no views": plain(inputs(case, views=False)), "learned": learned(inputs(case)),
                      "oracle": gate_target(case["x0"], case["guide"], case["truth"], "share")}
            rows = out.setdefault(case["family"], {})
            for name, share in shares.items():
                rows.setdefault(name, []).append(blend_error(case, share))
    return out


def probe(folder: str, seed: int, scenes: int) -> dict:
    cases = collect(folder, seed, scenes)
    half = scenes // 2
    train, test = [c for c in cases if c["scene"] < half], [c for c in cases if c["scene"] >= half]
    if not train or not test:
        raise SystemExit(f"{scenes} scenes gave no swept guide to fit on or to score: give more --scenes")
    families = score(test, fit(train), fit(train, views=False))
    return {"weights": str(folder), "seed": seed, "scenes": scenes, "train_cases": len(train), "test_cases": len(test),
            "families": families}


def print_table(result: dict) -> None:
    half = result["scenes"] // 2
    print(f"seed {result['seed']}: fitted on scenes 0..{half - 1} ({result['train_cases']} cases with a swept guide), "
          f"scored on {half}..{result['scenes'] - 1} ({result['test_cases']}); blend error ×1000, mean [95 % interval]")
    print("| family | " + " | ".join(ROWS) + " | learned − embedded | gap closed |")
    print("|" + " --- |" * (len(ROWS) + 3))
    pooled: dict[str, list[float]] = {}
    for family, rows in list(result["families"].items()) + [("all", None)]:
        rows = rows or pooled
        if family != "all":
            for name, values in rows.items():
                pooled.setdefault(name, []).extend(values)
        cells = []
        for name in ROWS:
            s = summarise([1000 * v for v in rows[name]])
            cells.append(f"{s['mean']:.1f} [{s['lo']:.1f}, {s['hi']:.1f}]")
        mean = {name: summarise(rows[name])["mean"] for name in ROWS}
        gap = mean["embedded"] - mean["oracle"]
        closed = (mean["embedded"] - mean["learned"]) / gap if gap > 0 else float("nan")
        d = summarise([1000 * (a - b) for a, b in zip(rows["learned"], rows["embedded"])])    # paired, case by case
        print(f"| {family} | " + " | ".join(cells) + f" | {d['mean']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}] | {closed:.0%} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(ASSETS), help="a weights folder (default: the embedded model)")
    p.add_argument("--seed", type=int, default=7, help="scene seed (default 7: neither training's nor the benchmark's)")
    p.add_argument("--scenes", type=int, default=20, help="scenes per family: the first half fits, the second scores")
    p.add_argument("--out", help="write the per-case figures here (JSON)")
    p.add_argument("--table", help="print the table of a run written by --out; run nothing")
    a = p.parse_args()
    if a.table:
        print_table(json.loads(open(a.table).read()))
        return
    if a.scenes < 2:
        raise SystemExit("--scenes must be ≥ 2: the first half fits, the second scores")
    result = probe(a.weights, a.seed, a.scenes)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)
    print_table(result)


if __name__ == "__main__":
    main()
