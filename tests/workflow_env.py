"""A models folder with tiny random weights under the shipped workflows' file names, a source video,
and a ComfyUI server using them (shared by the workflow, batch and browser tests)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from realcam.config import RECAMMASTER_CONDITIONING, TINY, StreamingConfig, WanConfig
from realcam.model import RealCamDiT
from realcam.vae import TinyVAE, Wan21VAEConfig, WanVAE21
from realcam.weights import save_realcam_checkpoint

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.api.json"))
EXAMPLES = ("realcam_tiny",)        # their UI form lives in example_workflows/ (ComfyUI's template folder)


def ui_path(api: Path) -> Path:
    """The UI (canvas) form of a shipped API workflow."""
    name = api.name.replace(".api.json", "")
    return ROOT / ("example_workflows" if name in EXAMPLES else "workflows") / f"{name}.json"
SOURCE_FRAMES, SOURCE_SIZE = 25, 64
# ReCamMaster files carry no metadata: the size must be inferable from shapes (head_dim 128)
RM_TINY = WanConfig("recammaster-tiny", dim=128, ffn_dim=256, num_heads=1, num_layers=2, text_dim=32, text_len=16, freq_dim=32)


def _rand(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "gamma" in name or name.endswith("norm_q.weight") or name.endswith("norm_k.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / max(1, p[0].numel() if p.ndim > 1 else 10) ** 0.5)
    return module


def write_models(models: Path) -> None:
    for sub in ("diffusion_models", "vae", "vae_approx"):
        (models / sub).mkdir(parents=True, exist_ok=True)
    dm = models / "diffusion_models"
    save_realcam_checkpoint(_rand(RealCamDiT(TINY), 1), dm / "realcam_wan2.1_1.3b_teacher.safetensors")
    save_realcam_checkpoint(_rand(RealCamDiT(TINY), 2), dm / "realcam_wan2.1_1.3b_student.safetensors",
                            streaming=StreamingConfig(denoising_steps=(1000.0, 750.0, 500.0)))
    rm = _rand(RealCamDiT(RM_TINY, conditioning=RECAMMASTER_CONDITIONING), 3)
    save_file({k: v.contiguous() for k, v in rm.state_dict().items()},
              str(dm / "Wan2_1_kwai_recammaster_1_3B_step20000_bf16.safetensors"))
    save_file(_rand(WanVAE21(Wan21VAEConfig(dim=8, z_dim=16)), 4).state_dict(), str(models / "vae" / "wan_2.1_vae.safetensors"))
    save_file(_rand(TinyVAE(16), 5).state_dict(), str(models / "vae_approx" / "taew2_1.safetensors"))


def write_source_video(path: Path, frames: int = SOURCE_FRAMES, size: int = SOURCE_SIZE) -> None:
    """A moving checkerboard with a bright disc: structure the renders can be checked against."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            checker = (((xs + 2 * i) // 8 + ys // 8) % 2).float()
            disc = (((xs - 20 - i) ** 2 + (ys - 32) ** 2) < 100).float()
            rgb = torch.stack([0.2 + 0.6 * checker, 0.3 + 0.5 * disc, 0.5 * (1 - checker) + 0.4 * disc], -1)
            frame = av.VideoFrame.from_ndarray((rgb.clamp(0, 1) * 255).byte().numpy(), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def read_video(path: Path) -> torch.Tensor:
    import av

    with av.open(str(path)) as container:
        return torch.stack([torch.from_numpy(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)])


def load_workflow(path: Path) -> dict:
    return json.loads(path.read_text())


def saved_video(server, history: dict, root: Path) -> Path:
    for out in history["outputs"].values():
        for item in out.get("images", []):
            if item["filename"].endswith(".mp4"):
                return root / "output" / item["subfolder"] / item["filename"]
    raise AssertionError(f"no mp4 in the outputs: {json.dumps(history['outputs'])[:500]}")
