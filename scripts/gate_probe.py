"""How much of the pixel guide a model with ``pixel_guide_skip`` takes (docs/results.md, "World v2: taking the guide as
it is"): the teacher samples one held-out world-v2 case per preset family (scene 0, amplitude 1.0, the source's path
known, as ``eval`` passes it) and, at every sampling step, the gate ``g`` of ``take_from_guide`` is summarised over the
target frames — mean, and the 10th and 90th percentiles over all target latent values — along with the same for the
first target frame (which the first frame's view covers) and for the last one.

    python scripts/gate_probe.py runs/v2_skip960_teacher/teacher.safetensors [--steps 6]
"""
from __future__ import annotations

import argparse

import torch

from realcam.demo import FAMILIES, make_case
from realcam.model import RealCamDiT
from realcam.pipeline import encode_video, render_teacher, text_context
from realcam.vae import load_vae
from realcam.weights import load_dit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("teacher", help="a teacher checkpoint with conditioning.pixel_guide_skip")
    ap.add_argument("--vae", default="realcam/assets/world_v2/vae.safetensors")
    ap.add_argument("--steps", type=int, default=6, help="teacher sampling steps (default 6)")
    args = ap.parse_args()
    model = load_dit(args.teacher, dtype=torch.float32)
    if not model.conditioning.pixel_guide_skip:
        raise SystemExit(f"{args.teacher}: conditioning.pixel_guide_skip is off; there is no gate to probe")
    vae = load_vae(args.vae, dtype=torch.float32)
    seen: list[tuple[float, torch.Tensor, torch.Tensor]] = []
    take = RealCamDiT.take_from_guide

    def record(self, x, v, t, pixels, gate):
        target = (pixels != 0).any(dim=1)                                   # [B, F, H, W]: the target frames
        frames = target.flatten(2).any(-1)[0].nonzero()[:, 0]
        seen.append((float(t.flatten()[0]), gate.float().mean(1)[0][frames], gate.float()[0][:, frames]))
        return take(self, x, v, t, pixels, gate)

    RealCamDiT.take_from_guide = record
    print("family | σ | gate mean | 10th / 90th percentile | first target frame | last target frame")
    for family, presets in FAMILIES.items():
        case = make_case(0, presets[0], amplitude=1.0, world="v2")
        seen.clear()
        with torch.no_grad():
            render_teacher(model, encode_video(vae, case.source), case.trajectory, text_context(model),
                           source_camera=case.source_trajectory, steps=args.steps)
        for t, per_frame, values in seen:
            q = torch.quantile(values.flatten(), torch.tensor([0.1, 0.9]))
            print(f"{family} ({presets[0]}) | {t / 1000:.2f} | {float(values.mean()):.3f} | {float(q[0]):.3f} / "
                  f"{float(q[1]):.3f} | {float(per_frame[0].mean()):.3f} | {float(per_frame[-1].mean()):.3f}")


if __name__ == "__main__":
    main()
