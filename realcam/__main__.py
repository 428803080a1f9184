"""Command line: ``python -m realcam <command>``.

``python -m realcam --help`` lists every command: ``models``, ``inspect``, ``bench``, ``plan`` (what a
training config costs on GPUs), ``synth``, ``loopaug``, ``preprocess``, ``pixel-guides``, ``train-*``/``distill``, ``demo``,
``eval``, ``batch``.
"""
from __future__ import annotations

import argparse
import os
import sys


def _count(cfg, camera_layers: bool) -> int:
    import torch

    from .model import RealCamDiT

    with torch.device("meta"):
        model = RealCamDiT(cfg, camera_layers=camera_layers)
    return sum(p.numel() for p in model.parameters())


def cmd_models(args: argparse.Namespace) -> int:
    from .config import CONFIGS

    print(f"{'config':<18}{'dim':>6}{'heads':>6}{'blocks':>7}{'latent ch':>10}  {'params (Wan)':>13}  "
          f"{'+camera layers':>15}  VAE")
    for cfg in CONFIGS.values():
        wan, rc = _count(cfg, False), _count(cfg, True)
        print(f"{cfg.name:<18}{cfg.dim:>6}{cfg.num_heads:>6}{cfg.num_layers:>7}{cfg.in_dim:>10}  "
              f"{wan / 1e6:>12.1f}M  {(rc - wan) / 1e6:>14.2f}M  {cfg.vae_name}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from .weights import load_dit

    try:
        model = load_dit(args.file, config=args.config, fp8="keep", num_heads=args.num_heads)
    except ValueError as e:     # WeightsError and bad settings in a file's metadata
        print(f"error: {e}", file=sys.stderr)
        return 2
    info = model.load_info
    print(f"file:          {info.path}")
    print(f"format:        {info.format}")
    print(f"architecture:  {model.cfg.name} (dim {model.cfg.dim}, {model.cfg.num_layers} blocks, "
          f"{model.cfg.num_heads} heads, patch {list(model.cfg.patch_size)}, {model.cfg.in_dim} latent channels; use the "
          f"{model.cfg.vae_name} VAE)")
    print(f"conditioning:  {model.conditioning.to_json()}  [{info.conditioning_source}]")
    print(f"streaming:     {model.streaming.to_json()}")
    print(f"teacher:       {model.sampling.to_json()}")
    print(f"dtype:         {model.dtype}{' (fp8 linear weights kept)' if info.fp8 == 'kept' else ''}")
    print(f"parameters:    {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M")
    for note in info.notes:
        print(f"note:          {note}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from .data.synth import synth_scene

    out = Path(args.out)
    t0 = time.time()
    for i in range(args.first, args.first + args.scenes):
        synth_scene(out, i, args.seed, cameras=args.cameras, frames=args.frames, size=args.size, mode=args.trajectories,
                    depth=args.depth, fps=args.fps, shared_start=args.shared_start, world=args.world)
        done = i - args.first + 1
        rate = done / (time.time() - t0)
        print(f"\rscene {done}/{args.scenes}  ({rate:.2f} scenes/s, ~{(args.scenes - done) / rate:.0f}s left)", end="", flush=True)
    print(f"\nwrote {args.scenes} scenes to {out}")
    return 0


def _numbers(text: str | None, flag: str, what: str) -> tuple[float, ...]:
    """A comma-separated list of numbers from the command line (``()`` for nothing or ``none``), or a clear exit."""
    text = (text or "").strip().lower()
    try:
        return () if text in ("", "none") else tuple(float(x) for x in text.replace(" ", "").split(","))
    except ValueError:
        raise SystemExit(f"{flag}: give {what}; got {text!r}") from None


def cmd_synth_latents(args: argparse.Namespace) -> int:
    import time

    import torch

    from .train.data import synth_latents

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sweep = _numbers(args.guide_sweep, "--guide-sweep", "increasing depths in metres like 1,2,4,8,1e4")
    smooth = _numbers(args.guide_sweep_smooth, "--guide-sweep-smooth", "two penalties like 0.02,0.08")
    t0 = time.time()
    show = _progress("scene")
    out = synth_latents(args.out, args.vae, scenes=args.scenes, first=args.first, seed=args.seed, cameras=args.cameras,
                        frames=args.frames, size=args.size, mode=args.trajectories, shared_start=args.shared_start,
                        world=args.world, guide_depth=args.guide_depth, guide_fov=args.guide_fov, guide_sweep=sweep,
                        guide_sweep_depth=args.guide_sweep_depth, guide_sweep_smooth=smooth, guide_views=args.guide_views,
                        guide_depth_net=args.guide_depth_net, shard_size=args.shard_size,
                        device=device, progress=show)
    print(f"wrote latents{' and pixel guides' if args.guide_depth else ''} of {args.scenes} scenes to {out} on {device} "
          f"in {time.time() - t0:.0f}s")
    return 0


def cmd_merge_latents(args: argparse.Namespace) -> int:
    from .train.data import merge_latents

    try:
        out = merge_latents(args.out, args.folders, shard_size=args.shard_size, progress=_progress("folder"))
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        raise SystemExit(f"merge-latents: {e}") from None
    print(f"joined {len(args.folders)} latents folders into {out}")
    return 0


def _scene_arguments(p: argparse.ArgumentParser) -> None:
    """The options that pick a procedural dataset's scenes and cameras: ``synth`` and ``synth-latents`` share them, so
    the same options give the same scenes."""
    p.add_argument("--scenes", type=int, default=100)
    p.add_argument("--first", type=int, default=0, help="index of the first scene (to extend a dataset)")
    p.add_argument("--cameras", type=int, default=4)
    p.add_argument("--frames", type=int, default=33, help="video frames per camera (4k+1)")
    p.add_argument("--size", type=int, default=64, help="square frame size in pixels")
    p.add_argument("--trajectories", choices=["preset", "random"], default="preset")
    p.add_argument("--shared-start", type=int, default=1, metavar="N",
                   help="consecutive groups of N cameras start from the same pose (pairs whose trajectory starts at "
                        "the identity, as at inference)")
    p.add_argument("--world", choices=["v1", "v2"], default="v1",
                   help="v1: the first tiny model's world; v2: a 360° backdrop and pillars that show every camera move "
                        "(the embedded model's world)")
    p.add_argument("--seed", type=int, default=0)


def _progress(label: str):
    def show(done: int, total: int) -> None:
        print(f"\r{label} {done}/{total}", end="" if done < total else "\n", flush=True)
    return show


def cmd_preprocess(args: argparse.Namespace) -> int:
    from .train.data import TextEncoder, UMT5TextEncoder, preprocess

    encoder = UMT5TextEncoder(args.text_encoder) if args.text_encoder else TextEncoder(0)
    out = preprocess(args.data, args.vae, args.out, frames=args.frames, shard_size=args.shard_size,
                     text_encoder=encoder, progress=_progress("encoded clip"))
    print(f"wrote latents to {out}")
    return 0


def cmd_pixel_guides(args: argparse.Namespace) -> int:
    from .train.data import write_pixel_guides

    out = write_pixel_guides(args.latents, args.vae, depth=args.depth, fov_deg=args.fov, data=args.data,
                             progress=_progress("scene"))
    print(f"wrote pixel guides to {out}")
    return 0


def cmd_set_guide_sweep(args: argparse.Namespace) -> int:
    from .weights import set_guide_sweep

    planes = _numbers(args.planes, "--planes", "increasing depths in metres like 1,2,4,8,1e4, or none")
    smooth = _numbers(args.smooth, "--smooth", "two penalties like 0.02,0.08, or none")
    notes: list[str] = []
    try:
        cond = set_guide_sweep(args.weights, args.out or args.weights, planes, smooth, args.views, notes=notes)
    except ValueError as e:
        raise SystemExit(f"set-guide-sweep: {e}") from None
    for note in notes:
        print(f"note: {note}")
    swept = ", ".join(f"{d:g}" for d in cond.pixel_guide_sweep) or "none (one plane)"
    smoothed = ("; costs aggregated semi-globally, penalties " + ", ".join(f"{p:g}" for p in cond.pixel_guide_sweep_smooth)
                if cond.pixel_guide_sweep_smooth else "")
    drawn = ("; each latent frame drawn from the first frame or the source frame it starts at, whichever was filmed "
             "nearer" if cond.pixel_guide_views == "nearest" else "")
    print(f"wrote {args.out or args.weights}: pixel guide planes swept {swept}; "
          f"kept where the motion does not tell: {cond.pixel_guide_depth:g} m{smoothed}{drawn}")
    return 0


def cmd_set_guide_strength(args: argparse.Namespace) -> int:
    from .weights import set_guide_strength

    try:
        cond = set_guide_strength(args.weights, args.out or args.weights, args.strength, args.agreement)
    except ValueError as e:
        raise SystemExit(f"set-guide-strength: {e}") from None
    agree = (f"; {cond.pixel_guide_agreement:g} where its two views agree and as trained where they do not, so the "
             "strength acts only where the guide has one view: its first latent frame, or all of it when the source's "
             "path is not given" if cond.pixel_guide_agreement else "")
    print(f"wrote {args.out or args.weights}: pixel guide strength {cond.pixel_guide_strength:g} (the gate's share of the "
          f"guide, scaled and capped at all of it){agree}")
    return 0


def cmd_grow_width(args: argparse.Namespace) -> int:
    from .weights import grow_width

    try:
        arch = grow_width(args.weights, args.out, args.factor, args.noise, args.seed)
    except ValueError as e:
        raise SystemExit(f"grow-width: {e}") from None
    print(f"wrote {args.out}: dim {arch.dim}, ffn_dim {arch.ffn_dim}, {arch.num_heads} heads ({args.factor} times as "
          "wide, each channel, head and unit copied: it computes what the file does); train it on with model.init")
    return 0


def cmd_grow_depth(args: argparse.Namespace) -> int:
    from .weights import grow_depth

    try:
        after = tuple(int(v) for v in args.after.split(","))
    except ValueError:
        raise SystemExit(f"grow-depth: --after {args.after!r}: give block numbers, comma-separated (e.g. 1,3)") from None
    try:
        arch = grow_depth(args.weights, args.out, after)
    except ValueError as e:
        raise SystemExit(f"grow-depth: {e}") from None
    print(f"wrote {args.out}: {arch.num_layers} blocks ({len(after)} new, each a copy of the block before it whose "
          "branches add nothing yet: it computes what the file does); train it on with model.init")
    return 0


def cmd_fresh_model(args: argparse.Namespace) -> int:
    import json

    from .weights import FRESH_SHAPE, fresh_like

    changes = {}
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq or key.strip() not in FRESH_SHAPE:
            raise SystemExit(f"fresh-model: --set {item[:80]!r}: give FIELD=VALUE with FIELD one of "
                             f"{', '.join(FRESH_SHAPE)} (e.g. --set dim=256, --set patch_size=[1,1,1])")
        try:
            changes[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            raise SystemExit(f"fresh-model: --set {item[:80]!r}: the value must be a number or a JSON list "
                             "(e.g. 256, 10.0, [1,1,1])") from None
    try:
        arch = fresh_like(args.like, args.out, changes, args.seed)
    except ValueError as e:
        raise SystemExit(f"fresh-model: {e}") from None
    print(f"wrote {args.out}: fresh weights (seed {args.seed}), {arch.num_layers} blocks of width {arch.dim} "
          f"({arch.num_heads} heads, feed-forward {arch.ffn_dim}), patch {list(arch.patch_size)}, with the settings "
          f"and any depth network of {args.like}: train it from the start with model.init")
    return 0


def cmd_set_guide_depth_net(args: argparse.Namespace) -> int:
    from .weights import set_guide_depth_net

    net = None if args.net.lower() == "none" else args.net
    try:
        cond = set_guide_depth_net(args.weights, args.out or args.weights, net)
    except ValueError as e:
        raise SystemExit(f"set-guide-depth-net: {e}") from None
    if net is None:
        print(f"wrote {args.out or args.weights}: no depth network; the guide's depth is the sweep's (with the source's "
              "path), else the one plane")
    else:
        print(f"wrote {args.out or args.weights}: the guide is drawn through the depth network of {args.net} (width "
              f"{cond.pixel_guide_depth_net}, frames read at {cond.pixel_guide_depth_net_size} px, "
              f"{len(cond.pixel_guide_sweep)} planes), with or without the source's path")
    return 0


def cmd_loopaug(args: argparse.Namespace) -> int:
    from .data.loopaug import write_loopaug_dataset

    n = write_loopaug_dataset(args.data, args.out, length=args.length, windows=args.windows, seed=args.seed,
                              include_original=args.include_original, progress=_progress("scene"))
    print(f"wrote {n} scenes to {args.out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train.config import load_config
    from .train.loop import finish_distributed
    from .train.stages import train

    cfg = load_config(args.config, args.set, stage=args.stage, data=args.data, out=args.out, steps=args.steps)
    train(cfg, until=args.until)
    finish_distributed()
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .plan import PEAK_BF16_TFLOPS, format_plan, plan_stage
    from .train.config import load_config

    cfg = load_config(args.config, args.set, data="(not read by plan)")
    try:
        video = tuple(int(v) for v in args.video.lower().split("x")) if args.video else cfg.video.size()
    except ValueError:
        video = None
    if video is None or len(video) != 3:
        raise ValueError("give the clip size: video.frames/height/width in the config, or --video 81x480x832")
    if args.peak_tflops is None and args.gpu not in PEAK_BF16_TFLOPS:
        raise ValueError(f"--gpu {args.gpu!r}: known {', '.join(PEAK_BF16_TFLOPS)}; or give --peak-tflops")
    peak = args.peak_tflops or PEAK_BF16_TFLOPS[args.gpu]
    plan = plan_stage(cfg, video)
    print(format_plan(plan, gpus=args.gpus, gpu_memory_gb=args.gpu_memory, peak_tflops=peak, mfu=args.mfu,
                      grad_accum=cfg.grad_accum))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_ALSO, DEMO_PRESET, demo

    also = DEMO_ALSO if args.also is None else tuple(p.strip() for p in args.also.split(",") if p.strip())
    result = demo(args.out, preset=args.preset or DEMO_PRESET, also=also, index=args.scene, teacher=args.teacher, seed=args.seed,
                  folder=args.weights)
    if result["student_psnr"] <= result["copy_source_psnr"]:
        print("warning: the student did not beat the copy-the-source baseline on this case")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from .demo import evaluate

    variants = {}
    for spec in args.variant:
        name, sep, path = spec.partition("=")
        if not sep or not name or not Path(path).is_file():
            raise SystemExit(f"--variant {spec!r}: expected NAME=PATH to a .safetensors file written by the training stages")
        variants[name] = path
    result = evaluate(scenes=args.scenes, teacher_steps=args.teacher_steps, folder=args.weights, variants=variants,
                      camera=not args.no_camera, world=args.world, amplitude=args.amplitude,
                      source_camera=args.source_camera == "known", teacher=not args.no_teacher,
                      first_scene=args.first_scene)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(format_eval(result))
    print(f"wrote {args.out}")
    return 0


def format_eval(result: dict) -> str:
    """The benchmark's tables (docs/results.md): per family and length, mean [95 % bootstrap interval]."""
    def cell(stat: dict | None, digits: int = 2, pct: bool = False) -> str:
        if not stat or stat["n"] == 0:
            return ""
        k = 100 if pct else 1
        unit = " %" if pct else ""
        return f"{stat['mean'] * k:.{digits}f} [{stat['lo'] * k:.{digits}f}, {stat['hi'] * k:.{digits}f}]{unit}"
    lines = []
    metrics = [("psnr", "PSNR (dB)", 2, False), ("ssim", "SSIM", 3, False), ("motion_px", "motion err (px)", 2, False),
               ("rot_deg", "rot. err (°)", 1, False), ("registered", "registered", 0, True), ("loop_l1", "loop L1", 3, False)]
    for family, by_tag in result["table"].items():
        vis = by_tag["1x"].get("visibility", {}).get("ratio")
        lines.append(f"\n### {family} ({', '.join(result['families'][family])}; {result['scenes_per_family']} scenes; "
                     f"visibility {cell(vis, 1)}× the VAE's error)\n")
        lines.append("| method @ length | " + " | ".join(m[1] for m in metrics) + " |")
        lines.append("| --- " * (len(metrics) + 1) + "|")
        for tag, by_m in by_tag.items():
            for method, stats in by_m.items():
                if method == "visibility":
                    continue
                lines.append(f"| {method} @ {tag} | " + " | ".join(cell(stats.get(m), d, p) for m, _, d, p in metrics) + " |")
    lines.append("\nPaired PSNR differences (dB, case by case; > 0: the method is better):\n")
    lines.append("| family | length | difference | mean [95 % CI] |")
    lines.append("| --- | --- | --- | --- |")
    for family, by_tag in result["paired_psnr"].items():
        for tag, diffs in by_tag.items():
            for name, stat in diffs.items():
                lines.append(f"| {family} | {tag} | {name} | {cell(stat)} |")
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main_args

    return main_args(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realcam", description="RealCam: camera-controlled video-to-video.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="list the known model configs with their parameter counts")
    p.set_defaults(fn=cmd_models)
    p = sub.add_parser("inspect", help="show what a DiT weights file is and how it loads")
    p.add_argument("file")
    p.add_argument("--config", default=None, help="expected config name (see `models`)")
    p.add_argument("--num-heads", type=int, default=None, help="heads, for custom sizes without RealCam metadata")
    p.set_defaults(fn=cmd_inspect)
    p = sub.add_parser("bench", help="streaming latency/throughput/FLOPs with random weights (any config, CPU or GPU)")
    p.add_argument("--config", default="tiny", help="model config (see `models`)")
    p.add_argument("--height", type=int, default=64, help="video height in pixels")
    p.add_argument("--width", type=int, default=64, help="video width in pixels")
    p.add_argument("--chunks", type=int, default=12, help="chunks to time (after one warm-up chunk)")
    p.add_argument("--chunk", type=int, default=3, help="latent frames per chunk")
    p.add_argument("--sink", type=int, default=1, help="sink chunks")
    p.add_argument("--window", type=int, default=5, help="rolling-window chunks")
    p.add_argument("--steps", default="1000,750,500", help="denoising timesteps before warping")
    p.add_argument("--rope-mode", default="absolute", choices=["absolute", "cache_slot"])
    p.add_argument("--text-tokens", type=int, default=512, help="text context length")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--compile", action="store_true", help="torch.compile the streaming step (equal to eager)")
    p.add_argument("--cuda-graphs", action="store_true", help="torch.compile the step in reduce-overhead mode, which "
                   "replays CUDA graphs where PyTorch can capture them (GPU only; on an H200 it could not, as the step "
                   "writes its KV cache in place: docs/benchmarks.md)")
    p.set_defaults(fn=cmd_bench)
    p = sub.add_parser("synth", help="render procedural multi-camera scenes in the MultiCamVideo layout")
    p.add_argument("--out", required=True, help="output folder")
    _scene_arguments(p)
    p.add_argument("--fps", type=float, default=16.0)
    p.add_argument("--depth", action="store_true", help="also write per-frame depth (for pose metrics)")
    p.set_defaults(fn=cmd_synth)
    p = sub.add_parser("synth-latents", help="synth + preprocess (+ pixel-guides) in one pass with no video files, on a GPU "
                                             "when there is one: a training set made where it trains")
    p.add_argument("--out", required=True, help="latents folder to write (must not exist)")
    p.add_argument("--vae", required=True, help="the VAE with an encoder (the tiny one: realcam/assets/world_v2/vae.safetensors)")
    _scene_arguments(p)
    p.add_argument("--guide-depth", type=float, default=None, metavar="M",
                   help="also write the pixel guides of this plane depth (pixel-guides --depth)")
    p.add_argument("--guide-fov", type=float, default=60.0, help="the guides' horizontal field of view in degrees")
    p.add_argument("--guide-sweep", default=None, metavar="PLANES",
                   help="also write each pair's guide through the depth the source's motion shows, swept over these "
                        "comma-separated plane depths (pixel_guide_sweep; with --guide-depth)")
    p.add_argument("--guide-sweep-depth", choices=("motion", "renderer", "net"), default="motion",
                   help="the depth the swept guides are drawn through: what the source's motion shows (as at render "
                        "time; the default), the renderer's own depth of the first frame rounded to the nearest "
                        "plane (what a perfect sweep would give: for experiments on how right a guide must be), or "
                        "the depth the network of --guide-depth-net reads from each frame (as a model with "
                        "pixel_guide_depth_net draws it; also writes the guides it draws without the source's path)")
    p.add_argument("--guide-depth-net", default=None, metavar="FILE",
                   help="the depth network of --guide-sweep-depth net (written by scripts/depth_net_probe.py train, "
                        "over the --guide-sweep planes; the model trained on the folder must carry the same one)")
    p.add_argument("--guide-sweep-smooth", default=None, metavar="P1,P2",
                   help="aggregate the sweep's costs semi-globally with these two penalties, as a model with "
                        "pixel_guide_sweep_smooth does (with --guide-sweep)")
    p.add_argument("--guide-views", choices=("first", "nearest"), default="first",
                   help="draw the swept guides from each source's first frame (the default), or from its first frame "
                        "or the frame each latent frame starts at, whichever was filmed nearer the target camera, as a "
                        "model with pixel_guide_views nearest does (with --guide-sweep)")
    p.add_argument("--shard-size", type=int, default=256, help="clips per safetensors shard")
    p.add_argument("--device", default=None, help="where to render and encode (default: cuda when available, else cpu)")
    p.set_defaults(fn=cmd_synth_latents)
    p = sub.add_parser("merge-latents", help="join latents folders made apart (synth-latents --first in several processes) "
                                             "into one, as if one run had made their scenes in the order given")
    p.add_argument("--out", required=True, help="latents folder to write (must not exist)")
    p.add_argument("folders", nargs="+", help="the latents folders, in order; they must be made alike (frames, VAE, "
                   "text encoder, the same --guide-* options) and hold no scene twice")
    p.add_argument("--shard-size", type=int, default=256, help="clips per safetensors shard")
    p.set_defaults(fn=cmd_merge_latents)
    p = sub.add_parser("loopaug", help="offline LoopAug: write loop-augmented clips in the MultiCamVideo layout")
    p.add_argument("--data", required=True, help="MultiCamVideo folder (scenes with videos/ and cameras/)")
    p.add_argument("--out", required=True, help="output folder (same layout)")
    p.add_argument("--length", type=int, required=True, help="training length in frames (4k+1)")
    p.add_argument("--windows", type=int, default=1, help="augmented windows per scene")
    p.add_argument("--include-original", action="store_true", help="also copy the original scenes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(fn=cmd_loopaug)
    p = sub.add_parser("preprocess", help="encode a MultiCamVideo folder into latent shards for training")
    p.add_argument("--data", required=True, help="MultiCamVideo folder")
    p.add_argument("--vae", required=True, help="VAE file with an encoder (Wan2.1/2.2 or a tiny VAE with encoder)")
    p.add_argument("--out", required=True, help="output folder (must not exist)")
    p.add_argument("--frames", type=int, default=81, help="frames per clip (4k+1), from the start of each video")
    p.add_argument("--shard-size", type=int, default=256, help="clips per safetensors shard")
    p.add_argument("--text-encoder", default=None, help="local umT5 folder (transformers); default: empty text")
    p.set_defaults(fn=cmd_preprocess)
    p = sub.add_parser("pixel-guides", help="for a preprocessed folder, encode the guide a model with "
                                            "pixel_guide_depth reads (the source's first frame reprojected on pixels)")
    p.add_argument("--latents", required=True, help="folder written by `preprocess`")
    p.add_argument("--vae", required=True, help="the VAE (with encoder) the latents were encoded with")
    p.add_argument("--depth", type=float, required=True, help="the plane's depth in metres (pixel_guide_depth)")
    p.add_argument("--fov", type=float, required=True, help="horizontal field of view in degrees (ray_fov_deg)")
    p.add_argument("--data", default=None, help="the MultiCamVideo folder of the latents (default: the one the "
                                                "index names)")
    p.set_defaults(fn=cmd_pixel_guides)
    p = sub.add_parser("set-guide-sweep", help="set the planes a checkpoint's pixel guide sweeps to find the source's "
                                               "depth from its motion (conditioning.pixel_guide_sweep)")
    p.add_argument("--weights", required=True, help="a RealCam checkpoint with pixel_guide_depth (teacher or student)")
    p.add_argument("--planes", required=True, help="increasing depths in metres, comma-separated (e.g. "
                                                   "1,1.5,2,2.5,3,3.5,4,5,6.5,8.5,12,20,1e4), or none for one plane")
    p.add_argument("--smooth", default="none", help="two penalties p1,p2 (e.g. 0.02,0.08) for which the sweep's costs "
                                                    "are aggregated semi-globally (pixel_guide_sweep_smooth), or none "
                                                    "(the default) to decide each pixel alone")
    p.add_argument("--views", choices=("first", "nearest"), default="first",
                   help="draw the swept guide from the source's first frame (the default), or, for each latent frame, "
                        "from the first frame or the source frame that latent frame starts at, whichever was filmed "
                        "nearer the target camera (pixel_guide_views nearest; with --planes)")
    p.add_argument("--out", default=None, help="where to write the copy (default: replace --weights, atomically)")
    p.set_defaults(fn=cmd_set_guide_sweep)
    p = sub.add_parser("set-guide-strength", help="set how much of its pixel guide a gated checkpoint takes "
                                                  "(conditioning.pixel_guide_strength)")
    p.add_argument("--weights", required=True, help="a RealCam checkpoint with pixel_guide_skip (teacher or student)")
    p.add_argument("--strength", type=float, default=None,
                   help="the gate's share of the guide times this, capped at all of it (0 to 4; 1: as trained); with "
                        "--agreement on, only where the guide has one view: its first latent frame, or all of it when "
                        "the source's path is not given")
    p.add_argument("--agreement", type=float, default=None,
                   help="where the guide's two views (the first frame and the nearer source frame) agree, the share "
                        "times up to this, and as trained where they disagree, in place of --strength at every latent "
                        "frame with both views (1 to 8; 0: off; needs pixel_guide_views nearest)")
    p.add_argument("--out", default=None, help="where to write the copy (default: replace --weights, atomically)")
    p.set_defaults(fn=cmd_set_guide_strength)
    p = sub.add_parser("set-guide-depth-net", help="attach a depth network that reads each frame's depth, through which "
                                                   "a checkpoint's pixel guide is drawn (conditioning.pixel_guide_depth_net)")
    p.add_argument("--weights", required=True, help="a RealCam checkpoint with pixel_guide_sweep (teacher or student)")
    p.add_argument("--net", required=True, help="a depth network over the checkpoint's planes (written by "
                                                "`python scripts/depth_net_probe.py train`), or none to detach it")
    p.add_argument("--out", default=None, help="where to write the copy (default: replace --weights, atomically)")
    p.set_defaults(fn=cmd_set_guide_depth_net)
    p = sub.add_parser("fresh-model", help="a RealCam checkpoint with fresh weights in another shape (width, heads, "
                                           "depth, patch) and a file's settings and depth network, to train a teacher "
                                           "of that shape from the start (model.init)")
    p.add_argument("--like", required=True, help="the RealCam checkpoint whose settings (conditioning, streaming, "
                                                 "sampling) and depth network the new one carries")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a shape to change (repeatable): dim, ffn_dim, num_heads, num_layers, patch_size, freq_dim or "
                        "rope_theta, e.g. --set dim=256 --set num_heads=8 --set patch_size=[1,1,1]")
    p.add_argument("--seed", type=int, default=0, help="seed of the fresh weights (default 0)")
    p.add_argument("--out", required=True, help="where to write the new checkpoint")
    p.set_defaults(fn=cmd_fresh_model)
    p = sub.add_parser("grow-depth", help="add blocks to a RealCam checkpoint that start as no-ops, to train a "
                                          "deeper model on from it (model.init)")
    p.add_argument("--weights", required=True, help="a RealCam checkpoint (teacher or student)")
    p.add_argument("--after", required=True, help="comma-separated numbers of the blocks to put a new block after "
                                                  "(numbered as in --weights; e.g. 1,3 turns 4 blocks into 6)")
    p.add_argument("--out", required=True, help="where to write the grown checkpoint")
    p.set_defaults(fn=cmd_grow_depth)
    p = sub.add_parser("grow-width", help="widen a RealCam checkpoint (dim, ffn_dim, heads) so that it still computes "
                                          "what it did, to train a wider model on from it (model.init)")
    p.add_argument("--weights", required=True, help="a RealCam checkpoint (teacher or student)")
    p.add_argument("--factor", type=int, default=2, help="how many times as wide, 2 to 8 (default 2)")
    p.add_argument("--noise", type=float, default=0.1,
                   help="spread of the zero-sum noise that lets the copies of a channel part while training, relative "
                        "to each weight's own (default 0.1; 0 keeps them copies for ever)")
    p.add_argument("--seed", type=int, default=0, help="seed of that noise (default 0)")
    p.add_argument("--out", required=True, help="where to write the widened checkpoint")
    p.set_defaults(fn=cmd_grow_width)
    for stage, command, text in (("vae", "train-vae", "train the project's own tiny VAE on a MultiCamVideo folder"),
                                 ("teacher", "train-teacher", "train the bidirectional teacher"),
                                 ("causal", "train-causal", "train the causal student's initialisation"),
                                 ("distill", "distill", "Self-Forcing DMD distillation of the causal student")):
        p = sub.add_parser(command, help=f"{text} (launch with torchrun for several processes)")
        p.add_argument("--config", default=None, help="YAML config (see configs/)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set optim.lr=3e-4 (repeatable)")
        p.add_argument("--data", default=None, help="latent folder from `preprocess` (train-vae: a MultiCamVideo "
                       "folder) (overrides the config)")
        p.add_argument("--out", default=None, help="run folder: logs, checkpoints, weights (overrides the config)")
        p.add_argument("--steps", type=int, default=None, help="total steps (overrides the config)")
        p.add_argument("--until", type=int, default=None, metavar="STEP",
                       help="stop after this step, with a checkpoint there; the learning-rate schedule still spans "
                            "--steps, and the same command without --until resumes the run (a matched snapshot)")
        p.set_defaults(fn=cmd_train, stage=stage)
    p = sub.add_parser("plan", help="cost of a training config before renting GPUs: parameters, memory per GPU under "
                       "DDP/FSDP2 with and without checkpointing, FLOPs and hours per 1,000 steps (meta device, no weights)")
    p.add_argument("--config", required=True, help="a training config (configs/wan21_1.3b_teacher.yaml, …)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--gpus", type=int, default=8, help="data-parallel GPUs (default 8)")
    p.add_argument("--gpu-memory", type=float, default=80, help="GB per GPU (default 80: H100)")
    p.add_argument("--gpu", default="h100", help="h100, h200, a100 or b200: its peak dense bf16 throughput")
    p.add_argument("--peak-tflops", type=float, default=None, help="peak dense bf16 TFLOP/s (overrides --gpu)")
    p.add_argument("--mfu", type=float, default=0.35, help="model FLOPs utilisation the hours assume (default 0.35)")
    p.add_argument("--video", default=None, help="clip size FRAMESxHEIGHTxWIDTH (default: the config's video.*)")
    p.set_defaults(fn=cmd_plan)
    p = sub.add_parser("demo", help="the embedded tiny RealCam on a held-out procedural scene (mp4 + contact sheet, "
                       "per-chunk latency, PSNR vs ground truth)")
    p.add_argument("--out", default="demo_output", help="output folder")
    p.add_argument("--preset", default=None, help="camera preset for the target view (default: "
                   "realcam.demo.DEMO_PRESET; docs/results.md has every family)")
    p.add_argument("--also", default=None, help="comma-separated presets also rendered by the student onto the overview "
                   "sheet (default: one of every other family; '' for none)")
    p.add_argument("--scene", type=int, default=0, help="held-out scene index")
    p.add_argument("--teacher", action="store_true", help="also render with the bidirectional teacher")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default=None, help="folder with vae/student(/teacher).safetensors and README.json "
                   "(default: the embedded model)")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("eval", help="held-out benchmark of the tiny model (docs/results.md)")
    p.add_argument("--scenes", type=int, default=5, help="held-out scenes per preset family (each family's presets in turn)")
    p.add_argument("--first-scene", type=int, default=0,
                   help="index of each family's first scene: 0 is the benchmark; 5 scores the next scenes, for choosing "
                        "a setting on cases the benchmark does not score")
    p.add_argument("--teacher-steps", type=int, default=None,
                   help="sampling steps of every teacher benchmarked, the folder's and teacher variants (default: what "
                        "each teacher checkpoint carries; 20 for the embedded one); refused when no teacher is run")
    p.add_argument("--weights", default=None, help="folder with vae/student/teacher.safetensors (default: embedded)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                   help="also evaluate these weights (teacher or causal, from their metadata), e.g. an ablation run")
    p.add_argument("--no-camera", action="store_true", help="skip the OpenCV camera-error metric")
    p.add_argument("--no-teacher", action="store_true",
                   help="skip the folder's teacher (its 20 sampling steps are most of the run): the student, variants "
                        "and references only, e.g. for a new student beside a teacher already benchmarked")
    p.add_argument("--world", choices=["v1", "v2"], default=None,
                   help="procedural world of the held-out scenes (default: the one the weights were trained on)")
    p.add_argument("--amplitude", type=float, default=None,
                   help="preset amplitude of every held-out case (default: the weights' benchmark amplitude)")
    p.add_argument("--source-camera", choices=["known", "unknown"], default="known",
                   help="give models conditioned on source cameras the source's own path (known), or withhold it as for "
                        "a user's video, whose camera is unknown: they then take the source as filmed from a still camera")
    p.add_argument("--out", default="eval_results.json")
    p.set_defaults(fn=cmd_eval)
    from .gpu_bench import add_parser as add_gpu_bench

    add_gpu_bench(sub)
    from .batch import add_parser as add_batch
    add_batch(sub)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError) as e:
        # the project's errors name the field and say what to do: a user's mistake gets no traceback
        # (REALCAM_TRACEBACK=1 shows it, for debugging)
        if os.environ.get("REALCAM_TRACEBACK"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
