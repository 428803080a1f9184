"""The paper's claims as paired differences over the benchmark's cases (docs/results.md, "World v2: camera tokens"):
interleave vs prefix teacher, chunk 3 vs chunk 1 causal initialisation, student vs teacher (PSNR at 1× and 2×
length), and LoopAug vs the same teacher without it (loop closure |last − first frame| on the out-and-back cases,
lower is better, and PSNR on them).

    python scripts/paired_claims.py EVAL.json     (from `python -m realcam eval` with some of the variants
                                                   teacher_step800, prefix_step800, loopaug_step800, causal_chunk3,
                                                   causal_chunk1, rope_prefix, rope_loopaug, teacher_more800, guide3_step800,
                                                   guide10_step800, guide10_step2400, teacher_step2400,
                                                   teacher_step4800, planes4_step1200, planes8_step1200,
                                                   first_step800, more_step800, pixels_more800,
                                                   net_before800; a
                                                   comparison whose methods are missing is skipped; each is
                                                   printed over all cases, then per preset family)

    python scripts/paired_claims.py EVAL.json --against OTHER.json
        the same methods of two benchmark runs (e.g. two chains, or one chain with and without the source's path),
        case by case: PSNR at 1× and 2× and on the clips out and back, and their loop closure |last − first|, of
        this run minus the other's, per family and over all cases

    python scripts/paired_claims.py EVAL.json --against OTHER.json --pair teacher=net_before800
        the same, for one method of this run against a method of another name in the other (here this run's teacher
        against the other's net_before800 variant): e.g. a new teacher against one benchmarked before it as a variant

rope_prefix and rope_loopaug are the RoPE-positions teacher stage of scripts/train_world_v2.sh with the prefix layout
or on LoopAug data: their matched baseline is the weights folder's own teacher (the same stage, same steps).
teacher_more800 is that stage trained 800 more steps without source_warp: the control of the 800-step source_warp
teacher (the teacher of scripts/train_world_v2.sh's weights_warp800 folder). guide3_step800 and guide10_step800 are
that 800-step source_warp stage with the guide embedding's learning rate ×3 or ×10 (optim.lr_scale); their matched
baseline is the 800-step source_warp teacher as the weights folder's teacher; guide10_step2400 is the ×10 run resumed
to 2,400 steps, against the 2,400-step source_warp teacher (weights_warp2400); teacher_step2400 is that teacher as a
variant of the chain whose teacher resumed it to 4,800 steps (weights_warp4800), so "teacher" there is the 4,800-step
one; teacher_step4800 is that 4,800-step teacher as a variant of the chain that resumed it once more, to 7,200 steps.
planes4_step1200 and planes8_step1200 are the 4,800-step teacher trained 1,200 more steps reading the source through
its own 4 source_warp planes or through 8 (the 4 and 4 more), everything else the same; as variants of step 6e's
chain (weights_same15s), whose teacher is the 4-plane run with 15 % of its training pairs a clip paired with itself
(same_camera_share), "teacher" − planes4_step1200 is what that share did. first_step800 and more_step800 are the
embedded teacher trained 800 more steps with the source's first frame as a guide too (source_warp_first) and,
matched, without it. pixels_more800 is the teacher embedded since "a guide made from the source's pixels" trained 800
more steps as the teacher of step 6l of scripts/train_world_v2.sh is, without its gate (pixel_guide_skip): its
matched baseline is that folder's (weights_skip) own teacher. net_before800 is the teacher that carries the depth
network (step 8 of scripts/train_world_v2.sh) as a variant of step 12's folder, whose teacher is that one trained 800
more steps on guides drawn through the network.
"""
from __future__ import annotations

import argparse
import json

from realcam.demo import bootstrap_interval

LENGTHS = ("psnr_1x", "psnr_2x")
LOOPS = ("loop_l1", "psnr_loop")
COMPARISONS = (("interleave@800 − prefix@800", "teacher_step800", "prefix_step800", LENGTHS),
               ("chunk3 − chunk1 (causal init)", "causal_chunk3", "causal_chunk1", LENGTHS),
               ("student − teacher", "student", "teacher", LENGTHS),
               ("loopaug@800 − teacher@800", "loopaug_step800", "teacher_step800", LOOPS),
               ("interleave − prefix (RoPE-positions stage)", "teacher", "rope_prefix", LENGTHS),
               ("loopaug − teacher (RoPE-positions stage)", "rope_loopaug", "teacher", LOOPS),
               ("source_warp − the same 800 steps without it (teacher)", "teacher", "teacher_more800", LENGTHS),
               ("guide lr ×3 − ×1 (source_warp stage, 800 steps)", "guide3_step800", "teacher", LENGTHS + LOOPS),
               ("guide lr ×10 − ×1 (source_warp stage, 800 steps)", "guide10_step800", "teacher", LENGTHS + LOOPS),
               ("guide lr ×10 − ×1 (source_warp teacher, 2,400 steps)", "guide10_step2400", "teacher", LENGTHS + LOOPS),
               ("source_warp teacher, 4,800 − 2,400 steps", "teacher", "teacher_step2400", LENGTHS + LOOPS),
               ("source_warp teacher, 7,200 − 4,800 steps", "teacher", "teacher_step4800", LENGTHS + LOOPS),
               ("source_warp 8 planes − 4 planes (1,200 steps from the 4,800-step teacher)", "planes8_step1200",
                "planes4_step1200", LENGTHS + LOOPS),
               ("same-camera pairs 15 % − none (1,200 steps from the 4,800-step teacher)",
                "teacher", "planes4_step1200", LENGTHS + LOOPS),
               ("the first frame as a guide too − the same 800 steps without it (from the embedded teacher)",
                "first_step800", "more_step800", LENGTHS + LOOPS),
               ("the gate that takes the pixel guide − the same 800 steps without it (from the embedded teacher)",
                "teacher", "pixels_more800", LENGTHS + LOOPS),
               ("the teacher trained 800 steps on the network's guides − before them", "teacher", "net_before800",
                LENGTHS + LOOPS))


def claims(path: str) -> None:
    cases = json.loads(open(path).read())["cases"]
    for label, a, b, keys in COMPARISONS:
        for key in keys:
            if not all(key in c and a in c[key] and b in c[key] for c in cases):
                print(f"{key} {label}: skipped ({a} or {b} not in {path})")
                continue
            for family in (None, *dict.fromkeys(c["family"] for c in cases)):
                diff = [c[key][a] - c[key][b] for c in cases if family is None or c["family"] == family]
                lo, hi = bootstrap_interval(diff)
                where = f" [{family}]" if family else ""
                print(f"{key} {label}{where}: {sum(diff) / len(diff):.4g} [{lo:.4g}, {hi:.4g}] (n={len(diff)})")


def against(path: str, other: str, pair: tuple[str, str] | None = None) -> None:
    """``path`` minus ``other``, case by case: every method the two share, or with ``pair = (mine, theirs)`` this
    run's method ``mine`` against the other's ``theirs``."""
    runs = [json.loads(open(p).read()) for p in (path, other)]
    cases, others = (run["cases"] for run in runs)
    key = lambda c: (c["family"], c["scene"], c["preset"])  # noqa: E731
    if [key(c) for c in cases] != [key(c) for c in others]:
        raise SystemExit(f"{path} and {other} hold different cases: run both with the same --scenes, world and amplitude")
    for field in ("world", "amplitude"):      # the same scene numbers in another world or amplitude are other clips
        if field in runs[0] and field in runs[1] and runs[0][field] != runs[1][field]:
            raise SystemExit(f"{path} has {field} {runs[0][field]!r} and {other} {runs[1][field]!r}: their cases are "
                             f"other clips; run both with the same --{field} (a weights folder's README.json sets the "
                             "default)")
    families = list(dict.fromkeys(c["family"] for c in cases))
    for metric, digits in (*((m, 2) for m in LENGTHS), ("psnr_loop", 2), ("loop_l1", 4)):
        pairs = [(c[metric], o[metric]) for c, o in zip(cases, others) if metric in c and metric in o]
        if not pairs:
            continue
        if pair is None:
            methods = [(m, m) for m in pairs[0][0] if m in pairs[0][1]]
        elif pair[0] in pairs[0][0] and pair[1] in pairs[0][1]:
            methods = [pair]
        else:
            raise SystemExit(f"--pair {pair[0]}={pair[1]}: {metric} of {path} has methods {sorted(pairs[0][0])}, of "
                             f"{other} {sorted(pairs[0][1])}; name one of each")
        for mine, theirs in methods:
            name = mine if mine == theirs else f"{mine}−{theirs}"
            for family in (*families, None):
                diff = [a[mine] - b[theirs] for (a, b), c in zip(pairs, cases) if family is None or c["family"] == family]
                lo, hi = bootstrap_interval(diff)
                print(f"{metric} {name} {family or 'all'}: {sum(diff) / len(diff):+.{digits}f} [{lo:+.{digits}f}, "
                      f"{hi:+.{digits}f}] (n={len(diff)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("eval_json", help="a JSON written by `python -m realcam eval`")
    p.add_argument("--against", default=None, help="another such JSON: this run minus it, case by case")
    p.add_argument("--pair", default=None, metavar="MINE=THEIRS",
                   help="with --against: only this run's method MINE against the other's method THEIRS")
    args = p.parse_args()
    pair = None
    if args.pair is not None:
        mine, sep, theirs = args.pair.partition("=")
        if not (sep and mine and theirs) or not args.against:
            p.error("--pair takes MINE=THEIRS (two method names, e.g. teacher=net_before800) and needs --against")
        pair = (mine, theirs)
    if args.against:
        against(args.eval_json, args.against, pair)
    else:
        claims(args.eval_json)


if __name__ == "__main__":
    main()
