"""How well a teacher checkpoint predicts the clean target from its source (docs/results.md, "World v2: the
second chain"): on 16 fixed training pairs of a latent folder, with fixed noise, the clean-latent prediction
``x − σ·v`` at σ = 0.5 and σ = 1, as mean squared error against the target latents. "frame 0" is the first
target frame on the pairs whose first frame equals the source's (cameras that share a start pose), where
copying the source is the whole answer. Cheap enough to compare short matched runs (``train-teacher --until``).

    python scripts/probe_teacher.py --data v2_work/dit_latents RUN/teacher.safetensors [MORE.safetensors ...]

``--still-source N`` asks instead whether the teacher is limited by not knowing how the source camera moved: on N
held-out world-v2 cases (pan and arc presets, amplitude 1.0) it renders the source twice, along its random path
and with the camera held at its first pose, and reports how far the teacher's one-step prediction beats the
frozen first frame on frames 8–33 in each case, and the paired difference (PSNR, mean and 95 % bootstrap
interval); with several files, each later one is also compared case by case with the first.

A file may be followed by ``::`` and conditioning fields to change before probing, e.g.
``teacher.safetensors::rope_positions=rays,rope_depth=4`` (the same weights read with other RoPE positions).
"""
from __future__ import annotations

import argparse

import torch

from realcam.model import SequenceLayout
from realcam.train.data import LatentPairs
from realcam.weights import load_dit


def load_teacher(spec: str):
    """``PATH`` or ``PATH::field=value,...`` (conditioning fields changed after loading)."""
    path, _, changes = spec.partition("::")
    teacher = load_dit(path, dtype=torch.float32).eval()
    if changes:
        current = teacher.conditioning.to_dict()
        typed = {}
        for item in changes.split(","):
            key, eq, value = item.partition("=")
            if not eq or key not in current:
                raise SystemExit(f"{spec}: '{item}' is not FIELD=VALUE with a conditioning field ({', '.join(current)})")
            old = current[key]    # a number, a word or true/false (a list of depths: give one depth here)
            typed[key] = value == "true" if isinstance(old, bool) else float(value) if isinstance(old, (int, float, tuple)) else value
        teacher.conditioning = teacher.conditioning.replace(**typed)
    return teacher


def probe(path: str, data: str, pairs: int = 16) -> dict[str, float]:
    teacher = load_teacher(path)
    cond = teacher.conditioning
    pairs_data = LatentPairs(data, pose_reference=cond.pose_reference, text_dim=teacher.cfg.text_dim,
                             pixel_guide=(cond.pixel_guide_depth, cond.ray_fov_deg) if cond.pixel_guide_depth else None)
    g = torch.Generator().manual_seed(0)
    batch = pairs_data.batch(list(range(0, len(pairs_data), max(len(pairs_data) // pairs, 1)))[:pairs], g)
    z0, src = batch["target"], batch["source"]
    layout = SequenceLayout(teacher.conditioning, z0.shape[2])
    shared = [i for i in range(z0.shape[0]) if float(((src[i, :, 0] - z0[i, :, 0]) ** 2).mean()) < 0.05]
    result = {"frozen": float(((src[:, :, :1] - z0) ** 2).mean()), "variance": float(z0.var())}
    for sigma in (0.5, 1.0):
        noise = torch.randn(z0.shape, generator=g)
        x = (1 - sigma) * z0 + sigma * noise
        with torch.no_grad():
            v = teacher.velocity(src, x, torch.full((z0.shape[0],), sigma * 1000.0), batch["context"], batch["pose12"],
                                 layout=layout, source_pose12=batch["source_pose12"],
                                 pixel_guide=batch.get("pixel_guide"))
        err = (x - sigma * v - z0) ** 2
        result[f"mse_sigma{sigma}"] = float(err.mean())
        if shared:
            result[f"mse_sigma{sigma}_frame0"] = float(err[shared, :, 0].mean())
    return result


def still_source(path: str, vae_path: str, cases: int) -> dict[str, list[float]]:
    from realcam.camera.presets import preset_trajectory
    from realcam.camera.trajectory import Trajectory
    from realcam.data.synth import render
    from realcam.demo import HELD_OUT_SEED, _held_out_source
    from realcam.metrics import psnr
    from realcam.pipeline import decode_video, encode_video, render_teacher, text_context
    from realcam.vae import load_vae

    vae = load_vae(vae_path, dtype=torch.float32)
    teacher = load_teacher(path)
    text = text_context(teacher)
    gain: dict[str, list[float]] = {"moving source": [], "still source": []}
    for i in range(cases):
        preset = ("pan_left", "arc_right", "pan_right")[i % 3]
        scene, source_c2w, K, moving = _held_out_source(3000 + i, 33, 64, "v2", HELD_OUT_SEED)
        motion = Trajectory(preset_trajectory(preset, 33, amplitude=1.0).c2w)
        target, _ = render(scene, source_c2w[0] @ motion.c2w, K, (64, 64), torch.arange(33))
        still, _ = render(scene, source_c2w[:1].expand_as(source_c2w), K, (64, 64), torch.arange(33))
        own_path = Trajectory(torch.linalg.inv(source_c2w[:1]) @ source_c2w)   # read by source-camera models
        for kind, source, path in (("moving source", moving, own_path), ("still source", still, None)):
            with torch.no_grad():
                latents = render_teacher(teacher, encode_video(vae, source), motion, text, steps=1, solver="euler",
                                         source_camera=path)
                out = decode_video(vae, latents)[:33].clamp(0, 1)
            frozen = source[:1].expand_as(source)
            gain[kind].append(psnr(out[8:], target[8:]) - psnr(frozen[8:], target[8:]))
    return gain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="latent folder from `python -m realcam preprocess` (the fixed-noise probe)")
    ap.add_argument("weights", nargs="+", help="teacher .safetensors (a run's or a checkpoint's)")
    ap.add_argument("--still-source", type=int, default=0, metavar="N",
                    help="instead: the moving- vs still-source check on N held-out world-v2 cases")
    ap.add_argument("--vae", default="realcam/assets/world_v2/vae.safetensors", help="VAE for --still-source")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.still_source:
        from realcam.demo import bootstrap_interval

        first: dict[str, list[float]] = {}
        for path in args.weights:
            gain = still_source(path, args.vae, args.still_source)
            gain["still − moving (paired)"] = [b - a for a, b in zip(gain["moving source"], gain["still source"])]
            if first:   # the same cases, so a later file is compared with the first one case by case
                for kind in ("moving source", "still source"):
                    gain[f"{kind}, minus {args.weights[0]} (paired)"] = [
                        b - a for a, b in zip(first[kind], gain[kind])]
            else:
                first = dict(gain)
            for kind, values in gain.items():
                lo, hi = bootstrap_interval(values)
                print(f"{path} {kind}: gain over the frozen frame, frames 8-33: {sum(values) / len(values):.2f} "
                      f"[{lo:.2f}, {hi:.2f}] dB over {len(values)} cases", flush=True)
        return
    if not args.data:
        ap.error("--data is needed for the probe (or give --still-source N)")
    for path in args.weights:
        r = probe(path, args.data)
        print(path, "  ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
