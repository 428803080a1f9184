"""Preset camera motions at any length, with amplitude, speed, easing and out-and-back (loop-closed) forms.

ReCamMaster's ten (cam01–cam10; docs/method.md, "Cameras") reproduce its example camera file exactly at 81
frames: each starts at the identity and ramps linearly with ``s(i) = i / (F − 0.5)`` (``i / 80.5``).
At ``s = 1`` and amplitude 1:

| preset | motion |
| --- | --- |
| pan_right / pan_left (cam01/02) | yaw ±20° |
| tilt_up / tilt_down (cam03/04) | pitch ±10° |
| zoom_in / zoom_out (cam05/06) | dolly ±2 m along the optical axis |
| translate_up / translate_down (cam07/08) | move ∓1 m in y while looking at (0, 0, 4 m) |
| arc_left / arc_right (cam09/10) | move x = ∓2 m, z = +0.536 m while looking at (0, 0, 4 m) |
| orbit_left / orbit_right | circle ``angle`` (30°) around a point ``radius`` (4 m) ahead |
| push_in / pull_out | dolly ±``distance`` (2 m) |
| crane_up / crane_down | rise / sink ``height`` (1.5 m) without rotating |
| static | no motion |

``speed`` scales how fast ``s`` grows (2 = the same motion in half the clip, then further); ``easing``
``ease_in_out`` slows the start and end (and then holds at ``s = 1``); ``loop`` goes out and back so the
last frame returns exactly to the first pose.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch

from .poses import look_at, rotation_from_ypr
from .trajectory import Trajectory

Easing = Literal["linear", "ease_in_out"]
RECAMMASTER = {f"cam{i:02d}": name for i, name in enumerate(
    ["pan_right", "pan_left", "tilt_up", "tilt_down", "zoom_in", "zoom_out", "translate_up", "translate_down",
     "arc_left", "arc_right"], start=1)}


def _pose(rot: torch.Tensor | None, pos: torch.Tensor) -> torch.Tensor:
    out = torch.eye(4, dtype=torch.float64).repeat(pos.shape[0], 1, 1)
    if rot is not None:
        out[:, :3, :3] = rot
    out[:, :3, 3] = pos
    return out


def _xyz(x=None, y=None, z=None, n=None) -> torch.Tensor:
    n = n if n is not None else next(len(v) for v in (x, y, z) if v is not None)
    zero = torch.zeros(n, dtype=torch.float64)
    return torch.stack([zero if v is None else v for v in (x, y, z)], dim=1)


@dataclass(frozen=True)
class PresetSpec:
    name: str
    description: str
    build: Callable[[torch.Tensor, dict], torch.Tensor]          # (s [N] scaled by amplitude, params) -> c2w
    params: dict = field(default_factory=dict)


def _orbit(sign: int):
    def build(s, p):
        theta = torch.deg2rad(sign * p["angle"] * s)
        r = p["radius"]
        pos = _xyz(-r * torch.sin(theta), None, r - r * torch.cos(theta), n=len(s))
        return look_at(pos, torch.tensor([0.0, 0.0, r]))
    return build


PRESETS: dict[str, PresetSpec] = {p.name: p for p in [
    PresetSpec("static", "no motion", lambda s, p: _pose(None, _xyz(n=len(s)))),
    PresetSpec("pan_right", "yaw right 20°", lambda s, p: _pose(rotation_from_ypr(20 * s, 0, 0), _xyz(n=len(s)))),
    PresetSpec("pan_left", "yaw left 20°", lambda s, p: _pose(rotation_from_ypr(-20 * s, 0, 0), _xyz(n=len(s)))),
    PresetSpec("tilt_up", "pitch up 10°", lambda s, p: _pose(rotation_from_ypr(0, 10 * s, 0), _xyz(n=len(s)))),
    PresetSpec("tilt_down", "pitch down 10°", lambda s, p: _pose(rotation_from_ypr(0, -10 * s, 0), _xyz(n=len(s)))),
    PresetSpec("zoom_in", "dolly in 2 m", lambda s, p: _pose(None, _xyz(z=2 * s))),
    PresetSpec("zoom_out", "dolly out 2 m", lambda s, p: _pose(None, _xyz(z=-2 * s))),
    PresetSpec("translate_up", "rise 1 m looking at (0, 0, 4 m)",
               lambda s, p: look_at(_xyz(y=-1 * s), torch.tensor([0.0, 0.0, 4.0]))),
    PresetSpec("translate_down", "sink 1 m looking at (0, 0, 4 m)",
               lambda s, p: look_at(_xyz(y=1 * s), torch.tensor([0.0, 0.0, 4.0]))),
    PresetSpec("arc_left", "arc left around (0, 0, 4 m)",
               lambda s, p: look_at(_xyz(x=-2 * s, z=0.536 * s), torch.tensor([0.0, 0.0, 4.0]))),
    PresetSpec("arc_right", "arc right around (0, 0, 4 m)",
               lambda s, p: look_at(_xyz(x=2 * s, z=0.536 * s), torch.tensor([0.0, 0.0, 4.0]))),
    PresetSpec("orbit_left", "circle left around a point ahead", _orbit(+1), {"angle": 30.0, "radius": 4.0}),
    PresetSpec("orbit_right", "circle right around a point ahead", _orbit(-1), {"angle": 30.0, "radius": 4.0}),
    PresetSpec("push_in", "dolly in", lambda s, p: _pose(None, _xyz(z=p["distance"] * s)), {"distance": 2.0}),
    PresetSpec("pull_out", "dolly out", lambda s, p: _pose(None, _xyz(z=-p["distance"] * s)), {"distance": 2.0}),
    PresetSpec("crane_up", "rise without rotating", lambda s, p: _pose(None, _xyz(y=-p["height"] * s)), {"height": 1.5}),
    PresetSpec("crane_down", "sink without rotating", lambda s, p: _pose(None, _xyz(y=p["height"] * s)), {"height": 1.5}),
]}


def progress(frames: int, speed: float = 1.0, easing: Easing = "linear", loop: bool = False) -> torch.Tensor:
    """The motion parameter ``s`` per video frame."""
    if frames < 1:
        raise ValueError("a trajectory needs at least one frame")
    i = torch.arange(frames, dtype=torch.float64)
    if loop:  # out and back: 0 → 1 → 0, ending exactly where it started
        u = speed * i / max(frames - 1, 1)
        phase = u - torch.floor(u)
        return 1 - (2 * phase - 1).abs() if easing == "linear" else 0.5 - 0.5 * torch.cos(2 * math.pi * phase)
    s = speed * i / (frames - 0.5) if frames > 1 else torch.zeros(1, dtype=torch.float64)
    if easing == "ease_in_out":
        s = 0.5 - 0.5 * torch.cos(math.pi * s.clamp(0, 1))
    elif easing != "linear":
        raise ValueError(f"easing {easing!r}; choose 'linear' or 'ease_in_out'")
    return s


def preset_trajectory(name: str, frames: int, *, amplitude: float = 1.0, speed: float = 1.0, easing: Easing = "linear",
                      loop: bool = False, fps: float = 16.0, **params: float) -> Trajectory:
    """A preset (see the module table; ReCamMaster's ``cam01``…``cam10`` names work too) at any length."""
    key = RECAMMASTER.get(name, name)
    if key not in PRESETS:
        raise ValueError(f"unknown camera preset {name!r}; choose one of {', '.join(PRESETS)} (or cam01…cam10)")
    spec = PRESETS[key]
    unknown = set(params) - set(spec.params)
    if unknown:
        raise ValueError(f"preset {key!r} takes {sorted(spec.params) or 'no parameters'}, not {sorted(unknown)}")
    if not math.isfinite(amplitude) or not math.isfinite(speed) or speed < 0:
        raise ValueError("amplitude must be finite and speed finite and >= 0")
    s = amplitude * progress(frames, speed, easing, loop)
    return Trajectory(spec.build(s, {**spec.params, **params}), fps)


def keyframes_of(traj: Trajectory, count: int = 5) -> list[dict]:
    """``count`` evenly spaced frames of a path as spline keyframes with ``timing: "clip"`` (t = 0 … 1,
    yaw/pitch/roll in degrees): the first and last frames are always keys, so the end poses are kept exactly."""
    from .poses import ypr_from_rotation

    frames = traj.frames
    idx = sorted({round(i * (frames - 1) / max(count - 1, 1)) for i in range(count)})
    ypr = ypr_from_rotation(traj.c2w[idx, :3, :3])
    return [{"t": round(i / max(frames - 1, 1), 9), "position": [round(float(v), 6) for v in traj.c2w[i, :3, 3]],
             "yaw": round(float(a[0]), 4), "pitch": round(float(a[1]), 4), "roll": round(float(a[2]), 4)}
            for i, a in zip(idx, ypr)]


def preset_keyframes(name: str, frames: int, fps: float = 16.0, count: int = 5, **kwargs) -> list[dict]:
    """A preset sampled at ``frames`` as ``count`` clip-timed keyframes (:func:`keyframes_of`), for editors
    that start from a preset and then let the user move keys."""
    return keyframes_of(preset_trajectory(name, frames, fps=fps, **kwargs), count)
