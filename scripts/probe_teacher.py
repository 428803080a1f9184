"""How well a teacher checkpoint predicts the clean target from its source (docs/results.md, "World v2: the
second chain"): on 16 fixed training pairs of a latent folder, with fixed noise, the clean-latent prediction
``x − σ·v`` at σ = 0.5 and σ = 1, as mean squared error against the target latents. "frame 0" is the first
target frame on the pairs whose first frame equals the source's (cameras that share a start pose), where
copying the source is the whole answer. Cheap enough to compare short matched runs (``train-teacher --until``).

    python scripts/probe_teacher.py --data v2_work/dit_latents RUN/teacher.safetensors [MORE.safetensors ...]
"""
from __future__ import annotations

import argparse

import torch

from realcam.model import SequenceLayout
from realcam.train.data import LatentPairs
from realcam.weights import load_dit


def probe(path: str, data: str, pairs: int = 16) -> dict[str, float]:
    teacher = load_dit(path, dtype=torch.float32).eval()
    pairs_data = LatentPairs(data, pose_reference=teacher.conditioning.pose_reference, text_dim=teacher.cfg.text_dim)
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
                                 layout=layout)
        err = (x - sigma * v - z0) ** 2
        result[f"mse_sigma{sigma}"] = float(err.mean())
        if shared:
            result[f"mse_sigma{sigma}_frame0"] = float(err[shared, :, 0].mean())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="latent folder from `python -m realcam preprocess`")
    ap.add_argument("weights", nargs="+", help="teacher .safetensors (a run's or a checkpoint's)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for path in args.weights:
        r = probe(path, args.data)
        print(path, "  ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
