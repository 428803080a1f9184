"""Procedural multi-camera scenes with known cameras: ``python -m realcam synth``.

A batched analytic ray caster in torch, with two worlds (``world=``):

- ``v1`` (the embedded tiny model's): a textured ground (checker + value noise), striped spheres, yaw-rotated
  checkered boxes and one moving sphere under a uniform sky gradient. Sideways moves change little in it:
  the sky is uniform and the objects are small near the horizon.
- ``v2``: built so that every kind of camera move changes the picture plainly at 64 px: a 360° backdrop at
  infinity (a mountain ridge in eight coloured sectors, distant banded towers, a tinted sky gradient) moves
  with every rotation; banded pillars all around the scene, larger striped spheres, checkered boxes and one
  moving sphere give parallax to translations; the ground is a coarse two-colour checker (1 m squares) with
  value noise. Random camera paths reach amplitude 1.2 (v1: 1.0).

Both: Lambert shading with hard shadows, 2×2 supersampling.
Every scene is filmed by N cameras that start around the scene looking at its centre and move along presets
or random paths (OpenCV camera-to-world, metres, pinhole intrinsics). Scenes are written in the MultiCamVideo
layout (``sceneN/videos/camNN.mp4``, ``sceneN/cameras/camera_extrinsics.json``, ``metadata.csv``) plus
``cameras/intrinsics.json`` and, optionally, per-frame depth (``depth/camNN.npz``) for pose metrics.
Deterministic per seed.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..camera.poses import look_at
from ..camera.presets import PRESETS, preset_trajectory
from ..camera.trajectory_json import write_camera_extrinsics

WORLDS = ("v1", "v2")
WORLD_MAX_AMPLITUDE = {"v1": 1.0, "v2": 1.2}   # the largest random camera-path amplitude of each world's data
GROUND_Y = 1.0          # the ground plane (OpenCV world: y points down, so it is 1 m below y = 0)
SUN = torch.tensor([-0.4, -1.0, 0.3], dtype=torch.float64)


@dataclass
class Sphere:
    center: torch.Tensor            # [3]
    radius: float
    color: torch.Tensor             # [3]
    stripes: float                  # stripes per radian around y (0 = plain)
    velocity: torch.Tensor = field(default_factory=lambda: torch.zeros(3, dtype=torch.float64))  # m per frame


@dataclass
class Box:
    center: torch.Tensor
    half: torch.Tensor              # half sizes [3]
    yaw: float
    color: torch.Tensor


@dataclass
class Tower:
    azimuth: float                  # radians, 0 = +z (the scene's centre seen from the cameras), + towards +x
    half_width: float               # radians
    top: float                      # elevation of its top, radians
    color: torch.Tensor


@dataclass
class Backdrop:
    """What the cameras see at infinity: a ridge ``elevation(az) = base + Σ amp·sin(k·az + phase)`` coloured by
    eight azimuth sectors, towers, and a tinted sky gradient above."""
    ridge: torch.Tensor             # [K, 3]: (k, amplitude in radians, phase)
    sectors: torch.Tensor           # [8, 3] colours
    towers: list[Tower]
    sky: torch.Tensor               # [3] zenith colour


@dataclass
class Scene:
    spheres: list[Sphere]
    boxes: list[Box]                # checkered boxes and the banded pillars
    ground_color: torch.Tensor      # v1: [3], shaded by checker and noise; v2: [2, 3], the checker's two colours
    noise: torch.Tensor             # [G, G] value-noise lattice for the ground texture
    text: str
    backdrop: Backdrop | None = None  # v2 only (v1: a uniform sky gradient)


def random_scene(g: torch.Generator, world: str = "v1") -> Scene:
    """A random scene of ``world`` (see the module docstring), deterministic in ``g``."""
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; choose one of {', '.join(WORLDS)}")
    return _scene_v1(g) if world == "v1" else _scene_v2(g)


def _scene_v1(g: torch.Generator) -> Scene:
    def u(a, b, n=1):
        return (a + (b - a) * torch.rand(n, generator=g, dtype=torch.float64)).squeeze()

    def color():
        return 0.25 + 0.7 * torch.rand(3, generator=g, dtype=torch.float64)
    spheres, boxes = [], []
    for _ in range(int(u(2, 4.99))):
        r = float(u(0.3, 0.7))
        spheres.append(Sphere(torch.stack([u(-2, 2), torch.tensor(GROUND_Y - r, dtype=torch.float64), u(2.5, 6)]), r,
                              color(), float(u(0, 6)).__round__()))
    for _ in range(int(u(1, 3.99))):
        half = torch.stack([u(0.25, 0.6), u(0.25, 0.8), u(0.25, 0.6)])
        boxes.append(Box(torch.stack([u(-2.5, 2.5), GROUND_Y - half[1], u(2.5, 6.5)]), half, float(u(0, math.pi)), color()))
    r = float(u(0.25, 0.4))
    mover = Sphere(torch.stack([u(-1.5, 1.5), torch.tensor(GROUND_Y - r, dtype=torch.float64), u(3, 5)]), r, color(), 0.0)
    mover.velocity = torch.stack([u(-0.04, 0.04), torch.tensor(0.0, dtype=torch.float64), u(-0.04, 0.04)])
    spheres.append(mover)
    names = ["a striped ball", "a box", "a rolling ball"]
    return Scene(spheres, boxes, color() * 0.8, torch.rand(16, 16, generator=g, dtype=torch.float64),
                 f"a procedural scene with {len(spheres) - 1} balls, {len(boxes)} boxes and {names[2]} on a textured ground")


def _scene_v2(g: torch.Generator) -> Scene:
    def u(a, b, n=1):
        return (a + (b - a) * torch.rand(n, generator=g, dtype=torch.float64)).squeeze()

    def color():
        return 0.25 + 0.7 * torch.rand(3, generator=g, dtype=torch.float64)

    def f64(v):
        return torch.tensor(v, dtype=torch.float64)
    spheres, boxes = [], []
    for _ in range(int(u(2, 4.99))):
        r = float(u(0.4, 0.8))
        spheres.append(Sphere(torch.stack([u(-2.2, 2.2), f64(GROUND_Y - r), u(2.6, 6)]), r, color(), float(u(2, 6)).__round__()))
    for _ in range(int(u(1, 3.99))):
        half = torch.stack([u(0.3, 0.7), u(0.3, 0.9), u(0.3, 0.7)])
        boxes.append(Box(torch.stack([u(-2.5, 2.5), GROUND_Y - half[1], u(2.6, 6.5)]), half, float(u(0, math.pi)), color()))
    for _ in range(int(u(4, 7.99))):
        # pillars all around the scene's centre (0, 4.2): nearer to it on the cameras' side, so no camera walks into one
        theta = float(u(-math.pi, math.pi))
        radius = float(u(1.6, 2.2)) if abs(theta) < 1.0 else float(u(2.2, 4.5))
        half = torch.stack([u(0.18, 0.3), u(1.0, 1.6), u(0.18, 0.3)])
        boxes.append(Box(torch.stack([f64(radius * math.sin(theta)), GROUND_Y - half[1], f64(4.2 - radius * math.cos(theta))]),
                         half, float(u(0, math.pi)), color()))
    r = float(u(0.3, 0.45))
    mover = Sphere(torch.stack([u(-1.5, 1.5), f64(GROUND_Y - r), u(3, 5)]), r, color(), 0.0)
    mover.velocity = torch.stack([u(-0.04, 0.04), f64(0.0), u(-0.04, 0.04)])
    spheres.append(mover)
    ridge = torch.stack([torch.tensor([2.0, 3.0, 5.0, 9.0], dtype=torch.float64),
                         torch.tensor([0.08, 0.06, 0.04, 0.02], dtype=torch.float64) * u(0.6, 1.4, 4),
                         u(0, 2 * math.pi, 4)], dim=1)
    sectors = torch.stack([0.25 + 0.7 * torch.rand(3, generator=g, dtype=torch.float64) for _ in range(8)])
    towers = [Tower(float(u(-math.pi, math.pi)), float(u(0.03, 0.07)), float(u(0.3, 0.5)), color())
              for _ in range(int(u(5, 8.99)))]
    backdrop = Backdrop(ridge, sectors, towers, 0.5 + 0.5 * torch.rand(3, generator=g, dtype=torch.float64))
    ground = torch.stack([color(), color() * 0.5])
    return Scene(spheres, boxes, ground, torch.rand(16, 16, generator=g, dtype=torch.float64),
                 f"a procedural scene with {len(spheres) - 1} balls, {len(boxes)} boxes and pillars and a rolling ball "
                 "on a checkered ground before coloured mountains", backdrop)


def _backdrop(b: Backdrop, d: torch.Tensor) -> torch.Tensor:
    """The colour at infinity in directions ``d`` ``[..., 3]`` (OpenCV: y down)."""
    f = {"dtype": d.dtype, "device": d.device}
    az = torch.atan2(d[..., 0], d[..., 2])
    el = torch.asin((-d[..., 1]).clamp(-1, 1))
    ridge = b.ridge.to(**f)
    height = 0.16 + (ridge[:, 1] * torch.sin(ridge[:, 0] * az[..., None] + ridge[:, 2])).sum(-1)
    sky = b.sky.to(**f) * (0.7 + 0.3 * el.clamp(0, 1)[..., None] * 2).clamp(max=1.0)
    sector = ((az + math.pi) / (2 * math.pi) * 8).floor().long().clamp(0, 7)
    mountain = b.sectors.to(**f)[sector] * (0.55 + 0.45 * (el / height.clamp_min(1e-3)).clamp(0, 1))[..., None]
    out = torch.where((el < height)[..., None], mountain, sky)
    for t in b.towers:
        off = torch.remainder(az - t.azimuth + math.pi, 2 * math.pi) - math.pi
        band = 0.7 + 0.3 * ((el * 25).floor() % 2)
        out = torch.where(((off.abs() < t.half_width) & (el < t.top))[..., None], t.color.to(**f) * band[..., None], out)
    return out


def _value_noise(lattice: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    n = lattice.shape[0]
    xf, zf = x.floor(), z.floor()
    fx, fz = x - xf, z - zf
    ix, iz = xf.long() % n, zf.long() % n
    a, b = lattice[ix, iz], lattice[(ix + 1) % n, iz]
    c, d = lattice[ix, (iz + 1) % n], lattice[(ix + 1) % n, (iz + 1) % n]
    sx, sz = fx * fx * (3 - 2 * fx), fz * fz * (3 - 2 * fz)
    return (a * (1 - sx) + b * sx) * (1 - sz) + (c * (1 - sx) + d * sx) * sz


def _hit_sphere(o, d, center, radius):
    oc = o - center
    b = (oc * d).sum(-1)
    c = (oc * oc).sum(-1) - radius * radius
    disc = b * b - c
    t = -b - disc.clamp_min(0).sqrt()
    return torch.where((disc > 0) & (t > 1e-4), t, torch.full_like(t, math.inf))


def _hit_box(o, d, box: Box):
    cy, sy = math.cos(box.yaw), math.sin(box.yaw)
    rot = torch.tensor([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]], dtype=o.dtype, device=o.device)  # world → box
    ol, dl = (o - box.center) @ rot.T, d @ rot.T
    inv = 1 / torch.where(dl.abs() < 1e-12, torch.full_like(dl, 1e-12), dl)
    t0, t1 = (-box.half - ol) * inv, (box.half - ol) * inv
    tmin, tmax = torch.minimum(t0, t1).amax(-1), torch.maximum(t0, t1).amin(-1)
    t = torch.where((tmax >= tmin) & (tmax > 1e-4), torch.where(tmin > 1e-4, tmin, tmax), torch.full_like(tmin, math.inf))
    # normal: the axis whose slab was entered last
    axis = torch.minimum(t0, t1).argmax(-1)
    nl = torch.zeros_like(ol)
    nl.scatter_(-1, axis[..., None], -torch.sign(dl.gather(-1, axis[..., None])))
    return t, nl @ rot, ol + dl * t[..., None]


def render(scene: Scene, c2w: torch.Tensor, K: torch.Tensor, size: tuple[int, int], frames: torch.Tensor | int,
           supersample: int = 2, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Frames seen from ``c2w`` (``[F, 4, 4]``, or ``[4, 4]`` for one) at frame indices ``frames`` (the
    moving ball's clock): RGB ``[F, H, W, 3]`` in [0, 1] and depth along the optical axis ``[F, H, W]``, on
    ``device`` (``synth-latents`` renders on a GPU; float32 there may round differently from the CPU's, so its pixels
    can differ from the CPU's slightly)."""
    single = c2w.ndim == 2
    c2w = c2w[None] if single else c2w
    frames = torch.as_tensor(frames).reshape(-1).expand(c2w.shape[0]).to(device)
    h, w = size
    s = supersample
    f32 = {"dtype": torch.float32, "device": device}  # float32 rays: much faster than float64, plenty for 64-256 px
    c2w, K = c2w.to(**f32), K.to(**f32)
    ys, xs = torch.meshgrid(torch.arange(h * s, **f32), torch.arange(w * s, **f32), indexing="ij")
    pix = torch.stack([(xs + 0.5) / s, (ys + 0.5) / s, torch.ones_like(xs)], -1)
    dirs_cam = pix @ torch.linalg.inv(K).T                                   # [Hs, Ws, 3]
    d = torch.einsum("hwc,fdc->fhwd", dirs_cam, c2w[:, :3, :3])               # [F, Hs, Ws, 3]
    d = d / d.norm(dim=-1, keepdim=True)
    o = c2w[:, None, None, :3, 3].expand_as(d)
    t_frame = frames.to(**f32)[:, None, None, None]
    centers = [(sp.center.to(**f32) + sp.velocity.to(**f32) * t_frame) for sp in scene.spheres]   # [F, 1, 1, 3]
    boxes = [Box(bx.center.to(**f32), bx.half.to(**f32), bx.yaw, bx.color.to(**f32)) for bx in scene.boxes]

    def first_hit(o, d):
        best = torch.full(d.shape[:-1], math.inf, dtype=d.dtype, device=d.device)
        kind = torch.full(d.shape[:-1], -1, dtype=torch.long, device=d.device)
        tg = torch.where(d[..., 1] > 1e-9, (GROUND_Y - o[..., 1]) / d[..., 1], torch.full_like(best, math.inf))
        tg = torch.where(tg > 1e-4, tg, torch.full_like(tg, math.inf))
        best, kind = torch.where(tg < best, tg, best), torch.where(tg < best, 0, kind)
        for i, (sp, c) in enumerate(zip(scene.spheres, centers)):
            t = _hit_sphere(o, d, c, sp.radius)
            kind = torch.where(t < best, 1 + i, kind)
            best = torch.minimum(best, t)
        box_info = []
        for j, bx in enumerate(boxes):
            t, n, local = _hit_box(o, d, bx)
            kind = torch.where(t < best, 100 + j, kind)
            best = torch.minimum(best, t)
            box_info.append((n, local))
        return best, kind, box_info

    t, kind, box_info = first_hit(o, d)
    p = o + d * t.clamp(max=1e6)[..., None]
    color = torch.zeros_like(d)
    normal = torch.zeros_like(d)
    if scene.backdrop is None:
        sky = (0.55 + 0.45 * (-d[..., 1]).clamp(0, 1))[..., None] * torch.tensor([0.55, 0.7, 1.0], **f32)
    else:
        sky = _backdrop(scene.backdrop, d)
    ground = kind == 0
    checker = ((p[..., 0].floor() + p[..., 2].floor()) % 2)
    noise = _value_noise(scene.noise.to(**f32), p[..., 0] * 2.0, p[..., 2] * 2.0)
    if scene.ground_color.ndim == 1:
        color[ground] = scene.ground_color.to(**f32) * (0.55 + 0.3 * checker[ground, None] + 0.3 * noise[ground, None])
    else:
        color[ground] = scene.ground_color.to(**f32)[checker[ground].long()] * (0.75 + 0.35 * noise[ground, None])
    normal[ground] = torch.tensor([0.0, -1.0, 0.0], **f32)
    for i, (sp, c) in enumerate(zip(scene.spheres, centers)):
        m = kind == 1 + i
        n = (p[m] - c.expand_as(p)[m]) / sp.radius
        col = sp.color.to(**f32).expand(n.shape[0], 3)
        if sp.stripes:
            col = col * (0.65 + 0.35 * torch.sign(torch.sin(sp.stripes * torch.atan2(n[:, 0], n[:, 2]))))[:, None]
        color[m] = col
        normal[m] = n
    for j, bx in enumerate(boxes):
        m = kind == 100 + j
        n, local = box_info[j]
        chk = ((local[m] * 2.5).floor().sum(-1) % 2)
        color[m] = bx.color * (0.7 + 0.3 * chk[:, None])
        normal[m] = n[m]
    light = (-SUN / SUN.norm()).to(**f32)
    lambert = (normal * light).sum(-1).clamp_min(0)
    hit = kind >= 0
    shadow_t, _, _ = first_hit(p + normal * 1e-3, light.expand_as(d))
    lit = torch.where(torch.isinf(shadow_t), lambert, 0.15 * lambert)
    shaded = color * (0.35 + 0.75 * lit)[..., None]
    rgb = torch.where(hit[..., None], shaded, sky)
    depth = torch.where(hit, t * (dirs_cam[..., 2] / dirs_cam.norm(dim=-1)), torch.full_like(t, math.inf))
    n_f = c2w.shape[0]
    rgb = rgb.reshape(n_f, h, s, w, s, 3).mean(dim=(2, 4)).clamp(0, 1)
    depth = depth.reshape(n_f, h, s, w, s).amin(dim=(2, 4))
    return (rgb[0], depth[0]) if single else (rgb, depth)


def intrinsics(size: tuple[int, int], fov_deg: float = 60.0) -> torch.Tensor:
    h, w = size
    f = 0.5 * w / math.tan(math.radians(fov_deg) / 2)
    return torch.tensor([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=torch.float64)


def camera_paths(g: torch.Generator, cameras: int, frames: int, mode: str = "preset",
                 shared_start: int = 1, max_amplitude: float = 1.0) -> list[torch.Tensor]:
    """Start poses around the scene looking at its centre, each followed by a preset (or random) motion.

    ``shared_start = n`` makes consecutive groups of ``n`` cameras start from the same pose (then move
    differently): a pair from one group is a re-rendering whose trajectory starts at the identity, as at
    inference (``n = 1``, the default, gives every camera its own start and draws the same numbers as before).
    Random paths draw their amplitude from [0.3, ``max_amplitude``].
    """
    if shared_start < 1:
        raise ValueError(f"shared_start must be >= 1, got {shared_start}")
    names = [n for n in PRESETS if n != "static"]
    paths = []
    for c in range(cameras):
        if c % shared_start == 0:
            angle = float(torch.empty(1, dtype=torch.float64).uniform_(-0.6, 0.6, generator=g))
            height = float(torch.empty(1, dtype=torch.float64).uniform_(-0.4, 0.3, generator=g))
            start = look_at(torch.tensor([[4.2 * math.sin(angle), height, 4.2 - 4.2 * math.cos(angle)]], dtype=torch.float64),
                            torch.tensor([0.0, 0.3, 4.2], dtype=torch.float64))[0]
        if mode == "random":
            amp = float(torch.empty(1, dtype=torch.float64).uniform_(0.3, max_amplitude, generator=g))
            motion = preset_trajectory(names[int(torch.randint(len(names), (1,), generator=g))], frames, amplitude=amp).c2w
        else:
            motion = preset_trajectory(names[int(torch.randint(len(names), (1,), generator=g))], frames).c2w
        paths.append(start @ motion)
    return paths


def write_video(path: Path, frames: torch.Tensor, fps: float = 16.0) -> None:
    """``[F, H, W, 3]`` in [0, 1] → H.264 yuv444p (keeps the chroma of small frames), crf 12."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        stream.pix_fmt = "yuv444p"
        # one thread, and no macroblock-tree rate control: with it x264 wrote different bytes for the same frames in
        # different processes (tests/test_data.py); without both, a synth run is not repeatable byte for byte
        stream.options = {"crf": "12", "threads": "1", "mbtree": "0"}
        for f in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray((f * 255).round().byte().numpy(), format="rgb24")))
        container.mux(stream.encode())


def dataset_scene(index: int, seed: int, *, cameras: int = 4, frames: int = 33, size: int = 64, mode: str = "preset",
                  shared_start: int = 1, world: str = "v1") -> tuple[Scene, torch.Tensor, list[torch.Tensor]]:
    """Scene ``index`` of a dataset, its intrinsics and its cameras' paths (``[frames, 4, 4]`` each), deterministic
    in ``seed``, ``index`` and ``world``: what :func:`synth_scene` renders, and ``synth-latents`` too."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + index)
    scene = random_scene(g, world)
    paths = camera_paths(g, cameras, frames, mode, shared_start, max_amplitude=WORLD_MAX_AMPLITUDE[world])
    return scene, intrinsics((size, size)), paths


def synth_scene(out: Path, index: int, seed: int, *, cameras: int = 4, frames: int = 33, size: int = 64,
                mode: str = "preset", depth: bool = False, fps: float = 16.0, shared_start: int = 1,
                world: str = "v1") -> Path:
    """Render scene ``index`` of a dataset (deterministic in ``seed``, ``index`` and ``world``)."""
    scene, K, paths = dataset_scene(index, seed, cameras=cameras, frames=frames, size=size, mode=mode,
                                    shared_start=shared_start, world=world)
    scene_dir = out / f"scene{index}"
    c2w_by_cam = {}
    for c, path in enumerate(paths, start=1):
        rgb, dep = render(scene, path, K, (size, size), torch.arange(frames))
        write_video(scene_dir / "videos" / f"cam{c:02d}.mp4", rgb, fps)
        if depth:
            import numpy as np

            (scene_dir / "depth").mkdir(parents=True, exist_ok=True)
            np.savez_compressed(scene_dir / "depth" / f"cam{c:02d}.npz", depth=dep.numpy().astype("float16"))
        c2w_by_cam[f"cam{c:02d}"] = path
    (scene_dir / "cameras").mkdir(parents=True, exist_ok=True)
    (scene_dir / "cameras" / "camera_extrinsics.json").write_text(json.dumps(write_camera_extrinsics(c2w_by_cam)))
    (scene_dir / "cameras" / "intrinsics.json").write_text(json.dumps({"K": K.tolist(), "width": size, "height": size,
                                                                       "convention": "opencv"}))
    (scene_dir / "metadata.csv").write_text("file_name,text\n" + "".join(
        f'videos/cam{c:02d}.mp4,"{scene.text}"\n' for c in range(1, cameras + 1)))
    return scene_dir
