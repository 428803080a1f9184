"""Command line: ``python -m realcam <command>``.

Commands so far: ``models`` (the known backbone sizes, built on the meta device), ``inspect FILE``
(what a weights file is and how it would load). Later commands (render, stream, synth, train-*,
eval, bench, batch, demo) are added by their issues.
"""
from __future__ import annotations

import argparse
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
    from .weights import WeightsError, load_dit

    try:
        model = load_dit(args.file, config=args.config, fp8="keep", num_heads=args.num_heads)
    except WeightsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    info = model.load_info
    print(f"file:          {info.path}")
    print(f"format:        {info.format}")
    print(f"architecture:  {model.cfg.name} (dim {model.cfg.dim}, {model.cfg.num_layers} blocks, "
          f"{model.cfg.num_heads} heads, {model.cfg.in_dim} latent channels; use the {model.cfg.vae_name} VAE)")
    print(f"conditioning:  {model.conditioning.to_json()}  [{info.conditioning_source}]")
    print(f"streaming:     {model.streaming.to_json()}")
    print(f"dtype:         {model.dtype}{' (fp8 linear weights kept)' if info.fp8 == 'kept' else ''}")
    print(f"parameters:    {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M")
    for note in info.notes:
        print(f"note:          {note}")
    return 0


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
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
