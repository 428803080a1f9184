"""``python -m realcam demo`` and ``python -m realcam eval``: the embedded tiny RealCam on held-out
procedural scenes that have a ground-truth target view.

A case is a procedural scene (``realcam.data.synth``) never used in training (its own seed), a source
camera on a random path, and a target path that starts at the source camera's first pose and follows a
preset — so the trajectory, expressed relative to the source's first camera, starts at the identity as
at inference. Both videos are rendered, so the generated target can be scored against the truth.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .camera.presets import preset_trajectory
from .camera.trajectory import Trajectory
from .metrics import camera_error, motion_error, psnr, ssim

# the embedded model: the world-v2 chain (scripts/train_tiny.sh → scripts/train_world_v2.sh); realcam/assets/tiny
# holds the first, world-v1 model (scripts/train_world_v1.sh), still loadable with --weights
ASSETS = Path(__file__).resolve().parent / "assets" / "world_v2"
HELD_OUT_SEED = 90_001        # training scenes use seeds 1 (VAE) and 2 (DiT) in both worlds' scripts
VAE_CEILING = "truth via VAE"      # the ground truth encoded + decoded: the ceiling of every DiT output
FROZEN = "frozen frame 0"          # the source's first frame held still: a video that ignores the camera
GROUND_TRUTH = "ground truth"       # the true target frames: loop closure, and what the camera error reaches
BENCH_AMPLITUDE = 0.8             # preset amplitude of a weights folder whose README.json names none (the world-v1 model's)


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

    @property
    def source_trajectory(self) -> Trajectory:
        """The source's own path relative to its first camera (what a model conditioned on source cameras reads)."""
        return Trajectory(self.source_c2w).relative()


def _held_out_source(index: int, frames: int, size: int, world: str, seed: int):
    """Scene ``index`` of the held-out set and its source video along a random path: (scene, c2w, K, frames)."""
    from .data.synth import WORLD_MAX_AMPLITUDE, camera_paths, intrinsics, random_scene, render

    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    scene = random_scene(g, world)
    source_c2w = camera_paths(g, 1, frames, "random", max_amplitude=WORLD_MAX_AMPLITUDE[world])[0]
    K = intrinsics((size, size))
    return scene, source_c2w, K, render(scene, source_c2w, K, (size, size), torch.arange(frames))[0]


def benchmark_cases(scenes: int, first_scene: int = 0, *, amplitude: float, world: str,
                    families: dict[str, tuple[str, ...]] | None = None):
    """The benchmark's 1× cases, family by family as ``evaluate`` scores them: ``(family, i, case, (scene, source
    cameras, K))`` for scenes ``first_scene .. first_scene + scenes − 1`` of every family of ``families`` (default
    ``FAMILIES``), each with the held-out scene it is rendered from (for probes that need the renderer's depth)."""
    for k, (family, presets) in enumerate((families or FAMILIES).items()):
        for i in range(first_scene, first_scene + scenes):
            case = make_case(k * 1000 + i, presets[i % len(presets)], amplitude=amplitude, world=world)
            scene, c2w, K, _ = _held_out_source(k * 1000 + i, case.source.shape[0], case.source.shape[1], world,
                                                 HELD_OUT_SEED)
            yield family, i, case, (scene, c2w, K)


def make_case(index: int, preset: str, *, frames: int = 33, size: int = 64, amplitude: float = BENCH_AMPLITUDE,
              loop: bool = False, seed: int = HELD_OUT_SEED, world: str = "v1") -> Case:
    from .data.synth import render

    scene, source_c2w, K, src = _held_out_source(index, frames, size, world, seed)
    motion = preset_trajectory(preset, frames, amplitude=amplitude, loop=loop).c2w
    target_c2w = source_c2w[0] @ motion
    tgt, depth = render(scene, target_c2w, K, (size, size), torch.arange(frames))
    return Case(f"scene{index}-{preset}{'-loop' if loop else ''}", src, tgt, source_c2w, target_c2w, depth, K,
                Trajectory(motion))


@dataclass
class ProceduralClip:
    frames: torch.Tensor          # [F, H, W, 3] in [0, 1]
    camera: Trajectory            # the path it was filmed along, relative to its first camera (frame 0 = identity)


def procedural_clip(index: int, frames: int = 33, *, size: int = 64, world: str = "v2") -> ProceduralClip:
    """A held-out procedural source clip (the source of ``make_case``) and its camera path: a video to try the
    embedded model on without any file, with the path a model conditioned on source cameras reads."""
    _, c2w, _, video = _held_out_source(index, frames, size, world, HELD_OUT_SEED)
    return ProceduralClip(video, Trajectory(c2w).relative())


# the embedded files under the names the ComfyUI loaders offer next to the user's own
EMBEDDED_DITS = {"realcam-tiny student (embedded)": "student.safetensors",
                 "realcam-tiny teacher (embedded)": "teacher.safetensors"}
EMBEDDED_VAES = {"realcam-tiny vae (embedded)": "vae.safetensors"}


def embedded_file(name: str) -> Path | None:
    """The path of an embedded model offered as ``name``, or None when ``name`` is not one."""
    file = EMBEDDED_DITS.get(name) or EMBEDDED_VAES.get(name)
    return ASSETS / file if file else None


@dataclass
class TinyModels:
    vae: object
    student: object
    teacher: object | None = None
    info: dict = field(default_factory=dict)   # README.json of the weights folder: how they were made

    @property
    def world(self) -> str:
        """The procedural world the weights were trained on (their held-out cases come from it)."""
        return str(self.info.get("world", "v1"))

    @property
    def amplitude(self) -> float:
        """The preset amplitude of the weights' benchmark (docs/results.md)."""
        return float(self.info.get("benchmark_amplitude", BENCH_AMPLITUDE))


def weights_info(folder: str | Path = ASSETS) -> dict:
    """A weights folder's README.json (how its files were made: world, benchmark amplitude, …); empty without one."""
    path = Path(folder) / "README.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_tiny(folder: str | Path = ASSETS, teacher: bool = False) -> TinyModels:
    from .vae import load_vae
    from .weights import load_dit

    folder = Path(folder)
    missing = [n for n in ("vae.safetensors", "student.safetensors") + (("teacher.safetensors",) if teacher else ())
               if not (folder / n).exists()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: the embedded tiny model ships with the repository "
                                "(realcam/assets/world_v2); scripts/train_tiny.sh retrains it")
    info = weights_info(folder)
    return TinyModels(load_vae(folder / "vae.safetensors", dtype=torch.float32),
                      load_dit(folder / "student.safetensors", dtype=torch.float32).eval(),
                      load_dit(folder / "teacher.safetensors", dtype=torch.float32).eval() if teacher else None, info)


@dataclass
class Rendered:
    frames: torch.Tensor              # [F, H, W, 3]
    chunk_latency_s: list[float]      # per chunk: DiT + decode (student); one entry for the teacher


def run_student(models: TinyModels, case: Case, *, seed: int = 0, chunk: int | None = None,
                model=None, source_camera: bool = True, denoising_steps: tuple[float, ...] | None = None) -> Rendered:
    """Stream ``case`` through the causal student (``model`` overrides the embedded one; ``chunk`` and
    ``denoising_steps`` override its checkpoint's). ``source_camera=False`` withholds the source's own path, as for a
    user's video (a model with ``source_cameras`` then takes the source as filmed from a still camera)."""
    from .pipeline import encode_video, render_stream, text_context

    student = model if model is not None else models.student
    source = encode_video(models.vae, case.source)
    config = student.streaming.override(chunk_latent_frames=chunk, denoising_steps=denoising_steps)
    with torch.no_grad():
        out = render_stream(student, source, case.trajectory, text_context(student), config=config,
                            seed=seed, decoder=models.vae, source_camera=case.source_trajectory if source_camera else None)
    return Rendered(out.frames[:case.source.shape[0]], [c.wall_time_s for c in out.chunks])


def run_teacher(models: TinyModels, case: Case, *, steps: int | None = None, seed: int = 0, model=None,
                source_camera: bool = True) -> Rendered:
    """Re-render ``case`` with the bidirectional teacher (``model`` overrides the embedded one), sampled with
    the settings its checkpoint carries (``steps`` overrides the step count; ``source_camera`` as for
    :func:`run_student`)."""
    from .pipeline import decode_video, encode_video, render_teacher, text_context

    teacher = model if model is not None else models.teacher
    source = encode_video(models.vae, case.source)
    t0 = time.perf_counter()
    with torch.no_grad():
        latents = render_teacher(teacher, source, case.trajectory, text_context(teacher), steps=steps, seed=seed,
                                 source_camera=case.source_trajectory if source_camera else None)
        frames = decode_video(models.vae, latents)
    return Rendered(frames[:case.source.shape[0]], [time.perf_counter() - t0])


def vae_round_trip(models: TinyModels, frames: torch.Tensor) -> torch.Tensor:
    """``frames`` encoded and decoded by the tiny VAE: for the ground truth, the best any DiT can reach
    (the DiT only ever produces latents)."""
    from .pipeline import decode_video, encode_video

    with torch.no_grad():
        return decode_video(models.vae, encode_video(models.vae, frames).latents)[:frames.shape[0]].clamp(0, 1)


def _upscale(frames: torch.Tensor, k: int) -> torch.Tensor:
    return frames.repeat_interleave(k, 1).repeat_interleave(k, 2)


def write_outputs(out: Path, case: Case, rows: dict[str, torch.Tensor], fps: float = 16.0, scale: int = 4) -> tuple[Path, Path]:
    """Side-by-side mp4 (one column per row name) and a labelled contact sheet PNG (rows × every 4th frame)."""
    from .data.synth import write_video

    out.mkdir(parents=True, exist_ok=True)
    n = min(v.shape[0] for v in rows.values())
    side = torch.cat([_upscale(v[:n].clamp(0, 1), scale) for v in rows.values()], dim=2)
    video = out / f"{case.name}.mp4"
    write_video(video, side, fps)
    png = overview_sheet(out / f"{case.name}_contact_sheet.png", [(k, v[:n]) for k, v in rows.items()], every=4)
    return video, png


def frozen(case: Case) -> torch.Tensor:
    """The source's first frame held for the whole clip (= the target's first frame: the path starts at the
    source camera): what a model that ignores the camera, and the source's motion, would show."""
    return case.source[:1].expand_as(case.source)


DEMO_PRESET = "pan_left"                                        # a sideways move (docs/results.md, "World v2")
DEMO_ALSO = ("arc_left", "tilt_up", "zoom_in", "translate_up")   # one of every other family, on the overview sheet


def overview_sheet(path: Path, rows: list[tuple[str, torch.Tensor]], every: int = 8, scale: int = 2) -> Path:
    """A labelled contact sheet: one row of frames (every ``every``-th) per (label, video)."""
    from PIL import Image, ImageDraw

    tiles = []
    for label, video in rows:
        strip = torch.cat([_upscale(video[i:i + 1].clamp(0, 1), scale)[0] for i in range(0, video.shape[0], every)], dim=1)
        img = Image.fromarray((strip * 255).round().byte().numpy())
        canvas = Image.new("RGB", (img.width + 150, img.height), "white")
        canvas.paste(img, (150, 0))
        ImageDraw.Draw(canvas).text((4, img.height // 2 - 6), label, fill="black")
        tiles.append(canvas)
    sheet = Image.new("RGB", (max(t.width for t in tiles), sum(t.height for t in tiles)), "white")
    y = 0
    for t in tiles:
        sheet.paste(t, (0, y))
        y += t.height
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def demo(out: str | Path = "demo_output", *, preset: str = DEMO_PRESET, also: tuple[str, ...] = DEMO_ALSO, index: int = 0,
         teacher: bool = False, seed: int = 0, folder: str | Path | None = None, print_fn=print) -> dict:
    """Render a held-out scene, re-render it along ``preset`` with the streaming student (and the teacher),
    write the mp4 + contact sheet, print per-chunk latency and PSNR vs the ground-truth target view; then the
    student along each of ``also`` on the same scene, on a labelled overview sheet with the truth.

    ``folder`` holds vae/student(/teacher).safetensors (default: the embedded model); the held-out scene comes
    from the world its README.json names, at its benchmark amplitude."""
    from .camera.presets import PRESETS, RECAMMASTER

    unknown = [p for p in (preset, *also) if RECAMMASTER.get(p, p) not in PRESETS]
    if unknown:   # before any work
        raise ValueError(f"unknown preset {unknown[0]!r}; choose from {', '.join(PRESETS)} (or cam01…cam10)")
    t_start = time.perf_counter()
    models = load_tiny(folder or ASSETS, teacher=teacher)
    case = make_case(index, preset, world=models.world, amplitude=models.amplitude)
    print_fn(f"held-out scene {index} (seed {HELD_OUT_SEED}, world {models.world}), preset {preset} at amplitude "
             f"{models.amplitude:g}: {case.source.shape[0]} frames {case.source.shape[2]}x{case.source.shape[1]}")
    student = run_student(models, case, seed=seed)
    for i, t in enumerate(student.chunk_latency_s):
        steps = len(models.student.streaming.denoising_steps)
        print_fn(f"  chunk {i + 1}/{len(student.chunk_latency_s)}: {t * 1000:.1f} ms (DiT {steps} steps + tiny VAE decode)")
    rows = {"source": case.source, "ours (student)": student.frames}
    still = frozen(case)
    result = {"case": case.name, "student_psnr": psnr(student.frames, case.target),
              "copy_source_psnr": psnr(case.source, case.target), "frozen_psnr": psnr(still, case.target),
              "student_ssim": ssim(student.frames, case.target),
              "chunk_latency_ms": [round(t * 1000, 2) for t in student.chunk_latency_s]}
    if teacher:
        t = run_teacher(models, case, seed=seed)
        rows["teacher"] = t.frames
        result["teacher_psnr"] = psnr(t.frames, case.target)
        result["teacher_s"] = round(t.chunk_latency_s[0], 3)
    ceiling = vae_round_trip(models, case.target)
    result["vae_ceiling_psnr"] = psnr(ceiling, case.target)
    rows[VAE_CEILING] = ceiling              # what a perfect DiT would show: the tiny VAE bounds every output
    rows[GROUND_TRUTH] = case.target
    try:
        cams = {"student": student.frames, "copy_source": case.source, **({"teacher": rows["teacher"]} if teacher else {}),
                "vae_ceiling": ceiling}
        moving = {**cams, "frozen": still}
        for name, frames in moving.items():
            result[f"{name}_motion_px"] = motion_error(frames, case.target)
        print_fn("picture motion vs the truth's (optical flow from frame 0, mean error in px; lower follows the camera "
                 "better): " + " | ".join(f"{n} {result[f'{n}_motion_px']:.2f}" for n in moving))
        for name, frames in cams.items():
            err = camera_error(frames, case.target_c2w, case.target, case.target_depth, case.K, every=2)
            result[f"{name}_rot_deg"], result[f"{name}_registered"] = err.median(), err.success_rate
        print_fn("camera error (OpenCV PnP vs the true target cameras; median rotation, share of frames registered): "
                 + " | ".join(f"{n} {result[f'{n}_rot_deg']:.1f}° ({result[f'{n}_registered']:.0%})" for n in cams))
    except ImportError:
        print_fn("picture-motion and camera errors skipped: OpenCV is not installed (pip install 'realcam[eval]')")
    video, png = write_outputs(Path(out), case, rows)
    overview = [(f"{preset}: truth", case.target), (f"{preset}: student", student.frames)]
    result["also"] = {}
    for name in also:
        other = make_case(index, name, world=models.world, amplitude=models.amplitude)
        frames = run_student(models, other, seed=seed).frames
        scores = {"student_psnr": psnr(frames, other.target), "frozen_psnr": psnr(frozen(other), other.target)}
        result["also"][name] = scores
        print_fn(f"  {name}: student {scores['student_psnr']:.2f} dB | frozen first frame {scores['frozen_psnr']:.2f} dB")
        overview += [(f"{name}: truth", other.target), (f"{name}: student", frames)]
    sheet = overview_sheet(Path(out) / f"scene{index}_presets_contact_sheet.png", overview)
    result.update(video=str(video), contact_sheet=str(png), presets_sheet=str(sheet),
                  total_s=round(time.perf_counter() - t_start, 2))
    print_fn(f"PSNR vs ground truth: student {result['student_psnr']:.2f} dB | copy-the-source baseline "
             f"{result['copy_source_psnr']:.2f} dB | frozen-first-frame baseline {result['frozen_psnr']:.2f} dB"
             + (f" | teacher {result['teacher_psnr']:.2f} dB" if teacher else "")
             + f" | ceiling (the truth through the tiny VAE) {result['vae_ceiling_psnr']:.2f} dB")
    print_fn(f"wrote {video} (columns: {' | '.join(rows)}), {png} and {sheet}  [{result['total_s']:.1f} s]")
    return result


# --- evaluation --------------------------------------------------------------------------------------------------
BIDIRECTIONAL_STAGES = ("teacher",)


def load_variant(path: str | Path):
    """A DiT trained by the project's scripts, for ``eval --variant``: (model, is_teacher) from its metadata."""
    from safetensors import safe_open

    from .weights import load_dit

    model = load_dit(path, dtype=torch.float32).eval()      # clear errors for missing or foreign files
    with safe_open(str(path), "pt") as f:                   # the header only
        stage = (f.metadata() or {}).get("trained_stage")
    if stage is None:
        raise ValueError(f"{path} has no 'trained_stage' metadata: eval variants must be weights written by "
                         "`python -m realcam train-teacher | train-causal | distill`")
    return model, stage in BIDIRECTIONAL_STAGES


FAMILIES: dict[str, tuple[str, ...]] = {
    "pan": ("pan_left", "pan_right"), "tilt": ("tilt_up", "tilt_down"),
    "arc/orbit": ("arc_left", "arc_right", "orbit_left", "orbit_right"),
    "zoom": ("zoom_in", "zoom_out"), "translate": ("translate_up", "translate_down")}


def bootstrap_interval(values: list[float], *, resamples: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (NaNs dropped; NaN when none is left)."""
    x = torch.tensor([v for v in values if not math.isnan(v)], dtype=torch.float64)
    if x.numel() == 0:
        return float("nan"), float("nan")
    g = torch.Generator().manual_seed(seed)
    means = x[torch.randint(x.numel(), (resamples, x.numel()), generator=g)].mean(1)
    lo, hi = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)).tolist()
    return lo, hi


def summarise(values: list[float]) -> dict[str, float]:
    """Mean, 95 % bootstrap interval and count of the finite values."""
    finite = [v for v in values if not math.isnan(v)]
    lo, hi = bootstrap_interval(finite)
    return {"mean": sum(finite) / len(finite) if finite else float("nan"), "lo": lo, "hi": hi, "n": len(finite)}


def _rounded(value: float) -> float | None:
    """A per-case figure for the JSON: 4 decimals, None where it could not be measured (NaN)."""
    return None if math.isnan(value) else round(value, 4)


def turn_deg(c2w: torch.Tensor) -> float:
    """How far a path turns: the largest rotation (degrees) of any of its cameras (``[F, 4, 4]``) from the first."""
    rel = c2w[:1, :3, :3].double().transpose(-1, -2) @ c2w[:, :3, :3].double()
    cos = ((rel.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1.0, 1.0)
    return math.degrees(float(torch.acos(cos).max()))


def evaluate(*, scenes: int = 5, teacher_steps: int | None = None, folder: str | Path | None = None,
             variants: dict[str, str | Path] | None = None, camera: bool = True, families: dict[str, tuple[str, ...]] | None = None,
             world: str | None = None, amplitude: float | None = None, source_camera: bool = True,
             teacher: bool = True, first_scene: int = 0, print_fn=print) -> dict:
    """The held-out benchmark (docs/results.md): for every preset family (``FAMILIES``) ``scenes`` held-out
    scenes of ``world``, each filmed along one of the family's presets in turn at ``amplitude`` (both default to
    what the weights' README.json names), at the training length (33 frames, ``1x``), at twice it (65, ``2x``)
    and out and back (``loop``). Models conditioned on source cameras are given the source's own path, unless
    ``source_camera`` is False (as a user's video, whose camera is unknown). ``first_scene`` > 0 scores the scenes
    after the benchmark's (e.g. 5: scenes 5, 6, …, each with the preset it would have in a longer run), for choosing
    between settings without looking at the benchmark's own cases.

    Methods: the embedded student and (unless ``teacher`` is False) teacher, ``variants`` (name → weights trained
    by the project's scripts, e.g. the ablations), and three references — copy the source, the frozen first frame (what ignoring the
    camera scores) and the truth through the tiny VAE (the ceiling: every DiT row is decoded by that VAE).
    Metrics per case: PSNR/SSIM against the ground-truth target view; picture-motion error
    (``realcam.metrics.motion_error``, px); camera error of the generated frames (``realcam.metrics.camera_error``:
    median rotation error in degrees, camera-centre error, share of frames registered), and of the true target
    frames themselves (the ``ground truth`` row: how many frames of a perfect picture the estimate registers, and how
    closely); loop closure = mean |last − first frame| (the ground truth's too). Every figure is reported per family
    as the mean over its cases with a 95 % bootstrap interval, and paired differences (a method minus the frozen
    frame or copy-the-source, case by case) with theirs. ``visibility`` is mean |truth − frozen frame| over mean
    |truth − ceiling| per family: how far above the VAE's own error a camera move changes the picture.
    ``cases`` keeps every case's figures per method (PSNR, motion error, rotation error, registered share; None
    where nothing registered) and how far its target path turns (``turn_deg``), so that runs over disjoint scenes
    can be pooled and methods paired case by case (``scripts/paired_claims.py``, ``scripts/bar_check.py``)."""
    if first_scene < 0:
        raise ValueError(f"first_scene must be >= 0, got {first_scene}")
    models = load_tiny(folder or ASSETS, teacher=teacher)
    # the weights' own world and amplitude unless overridden; said, since the same scene numbers in another world or
    # at another amplitude are other clips, and a folder without README.json falls back on the first model's (v1)
    guessed = [f for f, given, key in (("world", world, "world"), ("amplitude", amplitude, "benchmark_amplitude"))
               if given is None and key not in models.info]
    world = world or models.world
    amplitude = models.amplitude if amplitude is None else amplitude
    print_fn(f"benchmark: world {world}, amplitude {amplitude:g}, scenes {first_scene}-{first_scene + scenes - 1} of "
             "each family")
    if guessed:
        print_fn(f"note: {folder or ASSETS} has no README.json naming its {' and '.join(guessed)}: defaults taken "
                 f"(world {world}, amplitude {amplitude:g}); pass --world/--amplitude, or write the README.json "
                 "its training script writes, if the weights were trained on another")
    methods: dict[str, tuple[object | None, bool]] = {"student": (models.student, False)}
    if teacher:
        methods["teacher"] = (models.teacher, True)
    for name, path in (variants or {}).items():
        methods[name] = load_variant(path)
    if teacher_steps is not None and not any(is_teacher for _, is_teacher in methods.values()):
        raise ValueError(f"teacher_steps {teacher_steps}: no teacher is benchmarked (the folder's teacher is skipped and "
                         "no variant is a teacher), so the steps would apply to nothing: drop --teacher-steps, or "
                         "benchmark a teacher")
    families = families or FAMILIES
    raw: dict[str, dict[str, dict[str, dict[str, list[float]]]]] = {}     # family → length → method → metric → values
    cases: list[dict] = []

    def add(family: str, tag: str, method: str, metric: str, value: float) -> None:
        raw.setdefault(family, {}).setdefault(tag, {}).setdefault(method, {}).setdefault(metric, []).append(value)

    def add_camera(record: dict, family: str, tag: str, method: str, err) -> None:
        """A method's camera error on one case: into the family's table, and per case (``rot_deg_1x`` etc.)."""
        for metric, value in (("rot_deg", err.median("rotation_deg")), ("centre_err", err.median("centre_error")),
                              ("registered", err.success_rate)):
            add(family, tag, method, metric, value)
            record.setdefault(f"{metric}_{tag}", {})[method] = _rounded(value)

    def render(case: Case) -> dict[str, torch.Tensor]:
        outs = {"copy source": case.source, FROZEN: frozen(case), VAE_CEILING: vae_round_trip(models, case.target)}
        for name, (model, is_teacher) in methods.items():
            outs[name] = (run_teacher(models, case, steps=teacher_steps, model=model, source_camera=source_camera)
                          if is_teacher else run_student(models, case, model=model, source_camera=source_camera)).frames
        return outs

    t0 = time.perf_counter()
    for k, (family, presets) in enumerate(families.items()):
        for i in range(first_scene, first_scene + scenes):
            index, preset = k * 1000 + i, presets[i % len(presets)]
            record = {"family": family, "scene": index, "preset": preset}
            for length, tag in ((33, "1x"), (65, "2x")):
                case = make_case(index, preset, frames=length, amplitude=amplitude, world=world)
                outs = render(case)
                if tag == "1x":
                    record["visibility"] = float((case.target - outs[FROZEN]).abs().mean() / (case.target - outs[VAE_CEILING]).abs().mean())
                    add(family, tag, "visibility", "ratio", record["visibility"])
                for name, frames in outs.items():
                    score = psnr(frames, case.target)
                    add(family, tag, name, "psnr", score)
                    record.setdefault(f"psnr_{tag}", {})[name] = round(score, 3)
                    add(family, tag, name, "ssim", ssim(frames, case.target))
                    if camera:
                        score = motion_error(frames, case.target)
                        add(family, tag, name, "motion_px", score)
                        record.setdefault(f"motion_px_{tag}", {})[name] = _rounded(score)
                        add_camera(record, family, tag, name, camera_error(frames, case.target_c2w, case.target,
                                                                           case.target_depth, case.K, every=2))
                if camera:      # the truth's own frames: what the camera error reaches on a perfect picture
                    add_camera(record, family, tag, GROUND_TRUTH, camera_error(case.target, case.target_c2w, case.target,
                                                                               case.target_depth, case.K, every=2))
                    if tag == "1x":
                        record["turn_deg"] = round(turn_deg(case.target_c2w), 3)
            loop = make_case(index, preset, loop=True, amplitude=amplitude, world=world)
            for name, frames in {**render(loop), GROUND_TRUTH: loop.target}.items():
                # loop closure: the camera returns to its start, so the last frame should match the first
                closure = float((frames[-1] - frames[0]).abs().mean())
                add(family, "loop", name, "loop_l1", closure)
                record.setdefault("loop_l1", {})[name] = round(closure, 5)
                if name != GROUND_TRUTH:
                    score = psnr(frames, loop.target)
                    add(family, "loop", name, "psnr", score)
                    record.setdefault("psnr_loop", {})[name] = round(score, 3)
            cases.append(record)
            print_fn(f"{family} {i - first_scene + 1}/{scenes} ({preset}, scene {index}) done  [{time.perf_counter() - t0:.0f} s]")

    table = {f: {tag: {m: {metric: summarise(v) for metric, v in ms.items()} for m, ms in by_m.items()}
                 for tag, by_m in by_tag.items()} for f, by_tag in raw.items()}
    paired: dict = {}
    for f, by_tag in raw.items():
        for tag, by_m in by_tag.items():
            for ref in ("copy source", FROZEN):
                for name in methods:
                    if ref in by_m and name in by_m:
                        diff = [a - b for a, b in zip(by_m[name]["psnr"], by_m[ref]["psnr"])]
                        paired.setdefault(f, {}).setdefault(tag, {})[f"{name} − {ref}"] = summarise(diff)
    return {"scenes_per_family": scenes, "first_scene": first_scene, "world": world, "amplitude": amplitude,
            "families": {f: list(p) for f, p in families.items()},
            "source_camera": "known" if source_camera else "unknown",
            "teacher_steps": teacher_steps or (models.teacher.sampling.steps if teacher else None),
            "student_steps": list(models.student.streaming.denoising_steps),
            "variants": {k: str(v) for k, v in (variants or {}).items()},
            "table": table, "paired_psnr": paired, "cases": cases}
