"""Two training runs' losses, step by step: runs started with the same seed on the same data draw the same batches and
noise at every step, so their losses pair step for step whatever the model. Prints, for each window of steps, each
run's mean and the mean of the differences (A - B) with a 95 % bootstrap interval over the window's steps (resampled
as independent draws; the batches differ from step to step). A step that one run has not reached yet is left out.

    python scripts/paired_losses.py runs/wide_causal runs/deep_causal --window 200
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realcam.demo import bootstrap_interval  # noqa: E402

MAX_LOG_BYTES = 256 * 2**20


def read_losses(path: str, keys: list[str]) -> dict[int, dict[str, float]]:
    """``{step: {key: value}}`` of a run folder's ``log.jsonl`` (or that file), the rows that hold every key."""
    p = Path(path)
    p = p / "log.jsonl" if p.is_dir() else p
    if not p.is_file():
        raise SystemExit(f"{path}: no log.jsonl there (give a run folder of train-teacher/train-causal/distill or its "
                         "log.jsonl)")
    if p.stat().st_size > MAX_LOG_BYTES:
        raise SystemExit(f"{p}: {p.stat().st_size / 2**20:.0f} MiB, over the {MAX_LOG_BYTES // 2**20} MiB a training "
                         "log of this project reaches; is it the right file?")
    rows: dict[int, dict[str, float]] = {}
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise SystemExit(f"{p}, line {n}: not JSON ({line[:60]!r}); a log line is one JSON object") from None
            if not isinstance(row, dict):
                raise SystemExit(f"{p}, line {n}: a JSON {type(row).__name__}; a log line is one JSON object")
            step = row.get("step")
            values = {k: row.get(k) for k in keys}
            if (isinstance(step, int) and not isinstance(step, bool) and step >= 0
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                            for v in values.values())):
                rows[step] = values            # a resumed run logs its steps again: the last one counts
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="run A: a run folder or its log.jsonl")
    ap.add_argument("b", help="run B, the same seed and data")
    ap.add_argument("--key", action="append", default=None,
                    help="a logged value to compare (repeatable; default student/loss)")
    ap.add_argument("--window", type=int, default=200, help="steps per window (default 200)")
    ap.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    args = ap.parse_args(argv)
    keys = args.key or ["student/loss"]
    if not 1 <= args.window <= 10**7:
        raise SystemExit(f"--window {args.window}: give a number of steps from 1 up")
    if not 100 <= args.resamples <= 10**6:
        raise SystemExit(f"--resamples {args.resamples}: give 100 to 1,000,000")
    a, b = read_losses(args.a, keys), read_losses(args.b, keys)
    steps = sorted(set(a) & set(b))
    if not steps:
        raise SystemExit(f"no step is logged in both runs with {', '.join(keys)} (A: {len(a)} steps, B: {len(b)})")
    print(f"A = {args.a}\nB = {args.b}\n{len(steps)} steps in both, {steps[0]} to {steps[-1]}")
    windows: dict[int, list[int]] = {}
    for s in steps:
        windows.setdefault(s // args.window, []).append(s)
    for key in keys:
        print(f"\n{key}: window | A | B | A - B [95 % interval]")
        for win in windows.values():
            diff = [a[s][key] - b[s][key] for s in win]
            lo, hi = bootstrap_interval(diff, resamples=args.resamples)
            mean_a, mean_b = (sum(r[s][key] for s in win) / len(win) for r in (a, b))
            print(f"  {win[0]}-{win[-1]} ({len(win)}) | {mean_a:.4f} | {mean_b:.4f} | "
                  f"{sum(diff) / len(diff):+.4f} [{lo:+.4f}, {hi:+.4f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
