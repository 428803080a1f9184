"""The tiny RealCam's acceptance bars, checked on one or more held-out benchmark runs (docs/results.md, "World v2:
the bars on scenes no choice has seen"):

    python scripts/bar_check.py EVAL.json [MORE.json ...] [--method student] [--out BARS.json]

EVAL.json is written by ``python -m realcam eval``; several runs over disjoint scenes of the same benchmark (same
world, amplitude, source camera and student steps; e.g. ``--first-scene 0`` and ``--first-scene 10``) are pooled
case by case. Per preset family, at the training length (1×), each figure is the mean over the pooled cases with
its 95 % bootstrap interval, and each bar is judged on the mean:

- PSNR: the method minus the frozen first frame and minus copying the source, paired case by case: ≥ 1.5 dB.
- Motion error (px): closer to the VAE ceiling's than to the frozen frame's, i.e. under the point halfway between
  them; the margin (that point minus the method's error, case by case) must be > 0 on average (how many cases are
  under their own point is printed beside it).
- Registered frames: the method's share ≥ 80 % (beside it the true frames' own share, what a perfect picture gets,
  and the truth through the VAE's, what a perfect model decoded by that VAE gets; on the embedded model's zooms it is
  under the bar).
- Median rotation error below the frozen frame's (paired over the cases where both registered), in the families
  whose target paths turn (≥ 1° on average; a zoom does not).

A run written before ``eval`` kept per-case camera figures is refused with what to do.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from realcam.demo import FROZEN, GROUND_TRUTH, VAE_CEILING, summarise

COPY = "copy source"
PSNR_BAR_DB = 1.5
REGISTERED_BAR = 0.8
TURNS_DEG = 1.0                 # a family whose paths turn less than this on average has no rotation bar
SAME = ("world", "amplitude", "source_camera", "student_steps")     # what every pooled run must share
PER_CASE = ("psnr_1x", "motion_px_1x", "registered_1x", "rot_deg_1x", "turn_deg")


def load_runs(paths: list[str | Path], method: str) -> list[dict]:
    """The pooled cases of ``paths``, refused with the field and what to do when the runs cannot be pooled."""
    if not paths:
        raise ValueError("give at least one JSON written by `python -m realcam eval`")
    runs = []
    for path in paths:
        try:
            run = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable JSON file ({exc})") from exc
        if not isinstance(run, dict) or not isinstance(run.get("cases"), list) or not run["cases"]:
            raise ValueError(f"{path}: no 'cases' list: give a JSON written by `python -m realcam eval`")
        runs.append((str(path), run))
    first_path, first = runs[0]
    for path, run in runs[1:]:
        for key in SAME:
            if run.get(key) != first.get(key):
                raise ValueError(f"{path}: '{key}' is {run.get(key)!r} where {first_path} has {first.get(key)!r}: "
                                 "only runs of the same benchmark settings can be pooled")
    cases, seen = [], {}
    for path, run in runs:
        for i, case in enumerate(run["cases"]):
            missing = [k for k in PER_CASE if k not in case]
            if missing:
                raise ValueError(f"{path}: case {i} has no {', '.join(missing)}: it was written before `eval` kept "
                                 "per-case camera figures (or with --no-camera); re-run `python -m realcam eval`")
            if method not in case["psnr_1x"]:
                raise ValueError(f"{path}: case {i} has no method {method!r} (it has {sorted(case['psnr_1x'])}): "
                                 "pass --method with one of those")
            key = (case.get("family"), case.get("scene"))
            if key in seen:
                raise ValueError(f"{path}: {key[0]} scene {key[1]} is also in {seen[key]}: pool runs over disjoint scenes "
                                 "(eval --first-scene)")
            seen[key] = path
            cases.append(case)
    return cases


def _finite(*values) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def check(cases: list[dict], method: str = "student") -> dict:
    """Per family: each bar's figures (mean, lo, hi, n) and whether it is met (None: not applicable or not measured)."""
    families: dict[str, list[dict]] = {}
    for case in cases:
        families.setdefault(case["family"], []).append(case)
    out = {}
    for family, fc in families.items():
        psnr, motion, registered = ([c[k] for c in fc] for k in ("psnr_1x", "motion_px_1x", "registered_1x"))
        vs_frozen = summarise([p[method] - p[FROZEN] for p in psnr])
        vs_copy = summarise([p[method] - p[COPY] for p in psnr])
        bar = [(m[FROZEN] + m[VAE_CEILING]) / 2 for m in motion]
        margins = [b - m[method] for b, m in zip(bar, motion)]
        margin = summarise(margins)
        mine = summarise([r[method] for r in registered])
        truth = summarise([r[GROUND_TRUTH] for r in registered if GROUND_TRUTH in r])
        ceiling = [r[VAE_CEILING] for r in registered if _finite(r.get(VAE_CEILING))]
        turn = sum(c["turn_deg"] for c in fc) / len(fc)
        pairs = [c["rot_deg_1x"].get(method) - c["rot_deg_1x"].get(FROZEN) for c in fc
                 if _finite(c["rot_deg_1x"].get(method), c["rot_deg_1x"].get(FROZEN))]
        rotation = summarise(pairs) if pairs else None
        out[family] = {
            "cases": len(fc),
            "psnr_vs_frozen": {**vs_frozen, "met": vs_frozen["mean"] >= PSNR_BAR_DB},
            "psnr_vs_copy": {**vs_copy, "met": vs_copy["mean"] >= PSNR_BAR_DB},
            "motion": {"method": summarise([m[method] for m in motion]), "bar": sum(bar) / len(bar),
                       "margin": margin, "cases_under": sum(x > 0 for x in margins), "met": margin["mean"] > 0},
            "registered": {**mine, "ground_truth": truth, "vae_ceiling": summarise(ceiling) if ceiling else None,
                           "met": mine["mean"] >= REGISTERED_BAR},
            "rotation": {"turn_deg": turn, "vs_frozen": rotation,
                         "met": None if turn < TURNS_DEG or rotation is None else rotation["mean"] < 0},
        }
    return out


def _ci(s: dict, fmt: str = "{:.2f}", scale: float = 1.0) -> str:
    return f"{fmt.format(s['mean'] * scale)} [{fmt.format(s['lo'] * scale)}, {fmt.format(s['hi'] * scale)}]"


def _verdict(met: bool | None) -> str:
    return "—" if met is None else ("**met**" if met else "not met")


def table(bars: dict) -> list[str]:
    """The bars as Markdown: one row per family, the figures with their intervals and a verdict per bar."""
    lines = ["| family (cases) | − frozen frame (dB) | − copy source (dB) | motion error px (bar) | margin px | "
             "registered (truth's; through the VAE) | rot. error − frozen (°) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    met = total = 0
    for family, b in bars.items():
        cells = [f"{family} ({b['cases']})"]
        for key in ("psnr_vs_frozen", "psnr_vs_copy"):
            cells.append(f"{_ci(b[key])} {_verdict(b[key]['met'])}")
        m = b["motion"]
        cells.append(f"{_ci(m['method'])} ({m['bar']:.2f})")
        cells.append(f"{_ci(m['margin'])}, {m['cases_under']}/{b['cases']} under {_verdict(m['met'])}")
        r = b["registered"]
        ceiling = "—" if r["vae_ceiling"] is None else f"{r['vae_ceiling']['mean'] * 100:.0f} %"
        cells.append(f"{_ci(r, '{:.0f}', 100)} % ({r['ground_truth']['mean'] * 100:.0f} %; {ceiling}) {_verdict(r['met'])}")
        rot = b["rotation"]
        if rot["turn_deg"] < TURNS_DEG:
            cells.append(f"— (turns {rot['turn_deg']:.1f}°)")
        elif rot["vs_frozen"] is None:
            cells.append("not measured (nothing registered)")
        else:
            cells.append(f"{_ci(rot['vs_frozen'], '{:.1f}')} {_verdict(rot['met'])}")
        lines.append("| " + " | ".join(cells) + " |")
        for key in ("psnr_vs_frozen", "psnr_vs_copy", "motion", "registered", "rotation"):
            if b[key]["met"] is not None:
                total += 1
                met += bool(b[key]["met"])
    lines.append("")
    lines.append(f"{met} of {total} bars met (each judged on its mean; the intervals say how sure).")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="JSONs written by `python -m realcam eval`, over disjoint scenes")
    parser.add_argument("--method", default="student", help="the row to check (default: student)")
    parser.add_argument("--out", help="also write the figures and verdicts as JSON")
    args = parser.parse_args(argv)
    try:
        cases = load_runs(args.runs, args.method)
    except ValueError as exc:
        parser.error(str(exc))
    bars = check(cases, args.method)
    print("\n".join(table(bars)))
    if args.out:
        Path(args.out).write_text(json.dumps({"runs": args.runs, "method": args.method, "families": bars}, indent=1))


if __name__ == "__main__":
    main()
