"""``python -m realcam demo`` and ``python -m realcam eval``: the embedded tiny RealCam on held-out
procedural scenes that have a ground-truth target view.

A case is a procedural scene (``realcam.data.synth``) never used in training (its own seed), a source
camera on a random path, and a target path that starts at the source camera's first pose and follows a
preset — so the trajectory, expressed relative to the source's first camera, starts at the identity as
at inference. Both videos are rendered, so the generated target can be scored against the truth.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .camera.presets import preset_trajectory
from .camera.trajectory import Trajectory

ASSETS = Path(__file__).resolve().parent / "assets" / "tiny"
HELD_OUT_SEED = 90_001        # training scenes use seed 1 (scripts/train_tiny.sh)
DEMO_PRESETS = ("arc_left", "arc_right", "orbit_left", "pan_right", "translate_up", "zoom_in")


@dataclass
class Case:
    name: str
    source: torch.Tensor          # [F, H, W, 3] in [0, 1]
    target: torch.Tensor          # ground truth [F, H, W, 3]
    source_c2w: torch.Tensor      # [F, 4, 4]
    target_c2w: torch.Tensor
    target_depth: torch.Tensor    # [F, H, W]
    K: torch.Tensor
    trajectory: Trajectory        # target relative to the source's first camera (starts at the identity)


def make_case(index: int, preset: str, *, frames: int = 33, size: int = 64, amplitude: float = 0.8,
              loop: bool = False, seed: int = HELD_OUT_SEED) -> Case:
    from .data.synth import camera_paths, intrinsics, random_scene, render

    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    scene = random_scene(g)
    source_c2w = camera_paths(g, 1, frames, "random")[0]
    motion = preset_trajectory(preset, frames, amplitude=amplitude, loop=loop).c2w
    target_c2w = source_c2w[0] @ motion
    K = intrinsics((size, size))
    src, _ = render(scene, source_c2w, K, (size, size), torch.arange(frames))
    tgt, depth = render(scene, target_c2w, K, (size, size), torch.arange(frames))
    return Case(f"scene{index}-{preset}{'-loop' if loop else ''}", src, tgt, source_c2w, target_c2w, depth, K,
                Trajectory(motion))


@dataclass
class TinyModels:
    vae: object
    student: object
    teacher: object | None = None
    info: dict = field(default_factory=dict)


def load_tiny(folder: str | Path = ASSETS, teacher: bool = False) -> TinyModels:
    from .vae import load_vae
    from .weights import load_dit

    folder = Path(folder)
    missing = [n for n in ("vae.safetensors", "student.safetensors") + (("teacher.safetensors",) if teacher else ())
               if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: the embedded tiny model ships with the repository "
                                "(realcam/assets/tiny); see docs/results.md to retrain it")
    info = json.loads((folder / "README.json").read_text()) if (folder / "README.json").exists() else {}
    return TinyModels(load_vae(folder / "vae.safetensors", dtype=torch.float32),
                      load_dit(folder / "student.safetensors", dtype=torch.float32).eval(),
                      load_dit(folder / "teacher.safetensors", dtype=torch.float32).eval() if teacher else None, info)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB over a whole clip (``[F, H, W, 3]`` in [0, 1])."""
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2)
    return float(10 * torch.log10(1 / mse.clamp_min(1e-10)))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    import kornia

    x, y = a.clamp(0, 1).permute(0, 3, 1, 2).float(), b.clamp(0, 1).permute(0, 3, 1, 2).float()
    return float(kornia.metrics.ssim(x, y, 7).mean())


@dataclass
class Rendered:
    frames: torch.Tensor              # [F, H, W, 3]
    chunk_latency_s: list[float]      # per chunk: DiT + decode (student); one entry for the teacher


def run_student(models: TinyModels, case: Case, *, seed: int = 0, chunk: int | None = None) -> Rendered:
    import dataclasses

    from .config import StreamingConfig
    from .pipeline import encode_video, render_stream, text_context

    source = encode_video(models.vae, case.source)
    config = getattr(models.student, "streaming", None) or StreamingConfig()
    if chunk is not None:
        config = dataclasses.replace(config, chunk_latent_frames=chunk)
    with torch.no_grad():
        out = render_stream(models.student, source, case.trajectory, text_context(models.student), config=config,
                            seed=seed, decoder=models.vae)
    return Rendered(out.frames[:case.source.shape[0]], [c.wall_time_s for c in out.chunks])


def run_teacher(models: TinyModels, case: Case, *, steps: int = 20, seed: int = 0) -> Rendered:
    from .pipeline import decode_video, encode_video, render_teacher, text_context

    source = encode_video(models.vae, case.source)
    t0 = time.perf_counter()
    with torch.no_grad():
        latents = render_teacher(models.teacher, source, case.trajectory, text_context(models.teacher), steps=steps,
                                 guidance=1.0, shift=models.info.get("teacher_shift", 3.0), seed=seed)
        frames = decode_video(models.vae, latents)
    return Rendered(frames[:case.source.shape[0]], [time.perf_counter() - t0])


def _upscale(frames: torch.Tensor, k: int) -> torch.Tensor:
    return frames.repeat_interleave(k, 1).repeat_interleave(k, 2)


def write_outputs(out: Path, case: Case, rows: dict[str, torch.Tensor], fps: float = 16.0, scale: int = 4) -> tuple[Path, Path]:
    """Side-by-side mp4 (one column per row name) and a contact sheet PNG (rows × every 4th frame)."""
    from PIL import Image

    from .data.synth import write_video

    out.mkdir(parents=True, exist_ok=True)
    n = min(v.shape[0] for v in rows.values())
    side = torch.cat([_upscale(v[:n].clamp(0, 1), scale) for v in rows.values()], dim=2)
    video = out / f"{case.name}.mp4"
    write_video(video, side, fps)
    picks = list(range(0, n, 4))
    sheet = torch.cat([torch.cat([_upscale(v[i:i + 1].clamp(0, 1), 2)[0] for i in picks], dim=1) for v in rows.values()], dim=0)
    png = out / f"{case.name}_contact_sheet.png"
    Image.fromarray((sheet * 255).round().byte().numpy()).save(png)
    return video, png


def demo(out: str | Path = "demo_output", *, preset: str = "arc_left", index: int = 0, teacher: bool = False,
         seed: int = 0, print_fn=print) -> dict:
    """Render a held-out scene, re-render it along ``preset`` with the streaming student (and the teacher),
    write the mp4 + contact sheet, print per-chunk latency and PSNR vs the ground-truth target view."""
    t_start = time.perf_counter()
    models = load_tiny(teacher=teacher)
    case = make_case(index, preset)
    print_fn(f"held-out scene {index} (seed {HELD_OUT_SEED}), preset {preset}: {case.source.shape[0]} frames "
             f"{case.source.shape[2]}x{case.source.shape[1]}")
    student = run_student(models, case, seed=seed)
    for i, t in enumerate(student.chunk_latency_s):
        print_fn(f"  chunk {i + 1}/{len(student.chunk_latency_s)}: {t * 1000:.1f} ms (DiT {len(models.student.streaming.denoising_steps)} steps + tiny VAE decode)")
    rows = {"source": case.source, "ours (student)": student.frames}
    result = {"case": case.name, "student_psnr": psnr(student.frames, case.target),
              "copy_source_psnr": psnr(case.source, case.target), "student_ssim": ssim(student.frames, case.target),
              "chunk_latency_ms": [round(t * 1000, 2) for t in student.chunk_latency_s]}
    if teacher:
        t = run_teacher(models, case, seed=seed)
        rows["teacher"] = t.frames
        result["teacher_psnr"] = psnr(t.frames, case.target)
        result["teacher_s"] = round(t.chunk_latency_s[0], 3)
    rows["ground truth"] = case.target
    video, png = write_outputs(Path(out), case, rows)
    result.update(video=str(video), contact_sheet=str(png), total_s=round(time.perf_counter() - t_start, 2))
    print_fn(f"PSNR vs ground truth: student {result['student_psnr']:.2f} dB | copy-the-source baseline "
             f"{result['copy_source_psnr']:.2f} dB" + (f" | teacher {result['teacher_psnr']:.2f} dB" if teacher else ""))
    print_fn(f"wrote {video} (columns: {' | '.join(rows)}) and {png}  [{result['total_s']:.1f} s]")
    return result


# --- evaluation --------------------------------------------------------------------------------------------------
def evaluate(*, scenes: int = 6, teacher_steps: int = 20, folder: str | Path | None = None, print_fn=print) -> dict:
    """The held-out benchmark (docs/results.md): copy-the-source vs student vs teacher on ``scenes`` scenes,
    at the training length (33 frames) and at 2× (65), plus out-and-back paths for loop closure."""
    models = load_tiny(folder or ASSETS, teacher=True)
    rows: dict[str, dict[str, list[float]]] = {}

    def add(key: str, metric: str, value: float) -> None:
        rows.setdefault(key, {}).setdefault(metric, []).append(value)

    for i in range(scenes):
        preset = DEMO_PRESETS[i % len(DEMO_PRESETS)]
        for length, tag in ((33, "1x"), (65, "2x")):
            case = make_case(i, preset, frames=length)
            outs = {"copy source": case.source, "student": run_student(models, case).frames,
                    "teacher": run_teacher(models, case, steps=teacher_steps).frames}
            for name, frames in outs.items():
                add(f"{name} @ {tag}", "psnr", psnr(frames, case.target))
                add(f"{name} @ {tag}", "ssim", ssim(frames, case.target))
        loop = make_case(i, preset, loop=True)
        outs = {"copy source": loop.source, "student": run_student(models, loop).frames,
                "teacher": run_teacher(models, loop, steps=teacher_steps).frames, "ground truth": loop.target}
        for name, frames in outs.items():
            # loop closure: the camera returns to its start, so the last frame should match the first
            add(f"{name} @ loop", "loop_l1", float((frames[-1] - frames[0]).abs().mean()))
            if name != "ground truth":
                add(f"{name} @ loop", "psnr", psnr(frames, loop.target))
        print_fn(f"scene {i + 1}/{scenes} ({preset}) done")
    table = {k: {m: sum(v) / len(v) for m, v in ms.items()} for k, ms in rows.items()}
    return {"scenes": scenes, "teacher_steps": teacher_steps, "table": table,
            "student_steps": list(models.student.streaming.denoising_steps)}
