"""The trajectory JSON (schema version 1, documented in docs/trajectory_json.md), shared by the web
widget, the command line and files; and MultiCamVideo ``camera_extrinsics.json`` import/export.

Every error names the offending field (``trajectory.spline.keyframes[2].position: …``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import torch

from .poses import PoseError, from_unreal_rows, parse_unreal_matrix, to_unreal_rows
from .presets import PRESETS, RECAMMASTER, preset_trajectory
from .spline import Keyframe, spline_trajectory
from .trajectory import Trajectory

SCHEMA_VERSION = 1
TYPES = ("preset", "spline", "poses")
# limits that keep parsing and sampling a document bounded in time and memory (docs/trajectory_json.md)
MAX_TEXT_BYTES = 4 * 2**20       # a document of 20,000 poses is ~3 MB
MAX_FRAMES = 20_000              # video frames a document may ask for (about 21 min at 16 fps)
MAX_KEYFRAMES = 1_000
MAX_COORDINATE = 1e4             # metres, for positions and look-at targets
MAX_ANGLE = 1e5                  # degrees (many turns are fine)
MAX_PRESET_VALUE = 1e3           # amplitude, speed and preset parameters


class TrajectoryJSONError(ValueError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


def _get(obj: dict, key: str, path: str, *, required: bool = True, default: Any = None) -> Any:
    if not isinstance(obj, dict):
        raise TrajectoryJSONError(path, f"expected an object, got {type(obj).__name__}")
    if key not in obj:
        if required:
            raise TrajectoryJSONError(f"{path}.{key}", "missing")
        return default
    return obj[key]


def _show(v: Any) -> str:
    """A short, safe rendering of a value from a document, for error messages."""
    try:
        text = json.dumps(v)
    except (TypeError, ValueError, RecursionError):
        text = type(v).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _number(v: Any, path: str, *, minimum: float | None = None, maximum: float | None = None,
            integer: bool = False, magnitude: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TrajectoryJSONError(path, f"expected a finite number, got {_show(v)}")
    if isinstance(v, int) and abs(v) > 2**53:
        raise TrajectoryJSONError(path, f"{_show(v)} is out of range")
    if not math.isfinite(v):
        raise TrajectoryJSONError(path, f"expected a finite number, got {_show(v)}")
    if integer and int(v) != v:
        raise TrajectoryJSONError(path, f"expected a whole number, got {v}")
    if minimum is not None and v < minimum:
        raise TrajectoryJSONError(path, f"must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise TrajectoryJSONError(path, f"must be <= {maximum:g}, got {v}")
    if magnitude is not None and abs(v) > magnitude:
        raise TrajectoryJSONError(path, f"must be within ±{magnitude:g}, got {v}")
    return int(v) if integer else float(v)


def _vec3(v: Any, path: str) -> tuple[float, float, float]:
    if not isinstance(v, (list, tuple)) or len(v) != 3:
        raise TrajectoryJSONError(path, f"expected 3 numbers [x, y, z], got {_show(v)}")
    return tuple(_number(x, f"{path}[{i}]", magnitude=MAX_COORDINATE) for i, x in enumerate(v))  # type: ignore[return-value]


def _bool(v: Any, path: str) -> bool:
    if not isinstance(v, bool):
        raise TrajectoryJSONError(path, f"expected true or false, got {_show(v)}")
    return v


def _object(v: Any, path: str) -> dict:
    if not isinstance(v, dict):
        raise TrajectoryJSONError(path, f"expected an object, got {_show(v)}")
    return v


@dataclass
class TrajectorySpec:
    """A parsed trajectory JSON; ``build(frames)`` samples it at any video length."""

    data: dict
    frames: int
    fps: float

    def build(self, frames: int | None = None, fps: float | None = None) -> Trajectory:
        traj = self._build(frames, fps)
        traj.spec = self
        return traj

    def _build(self, frames: int | None = None, fps: float | None = None) -> Trajectory:
        frames = self.frames if frames is None else frames
        fps = self.fps if fps is None else fps
        kind, p = self.data["type"], "trajectory"
        if kind == "preset":
            pr = self.data["preset"]
            return preset_trajectory(pr["name"], frames, amplitude=pr.get("amplitude", 1.0), speed=pr.get("speed", 1.0),
                                     easing=pr.get("easing", "linear"), loop=pr.get("loop", False), fps=fps,
                                     **pr.get("params", {}))
        if kind == "spline":
            sp = self.data["spline"]
            keys = [Keyframe(k["t"], tuple(k["position"]), tuple(k["look_at"]) if "look_at" in k else None,
                             (k.get("yaw", 0.0), k.get("pitch", 0.0), k.get("roll", 0.0)) if "look_at" not in k else None)
                    for k in sp["keyframes"]]
            return spline_trajectory(keys, frames, fps, constant_speed=sp.get("constant_speed", False),
                                     closed=sp.get("closed", False), timing=sp.get("timing", "seconds"),
                                     speed=sp.get("speed", 1.0))
        poses = torch.tensor(self.data["poses"], dtype=torch.float64)
        c2w = torch.eye(4, dtype=torch.float64).repeat(len(poses), 1, 1)
        c2w[:, :3, :4] = poses[:, :12].reshape(-1, 3, 4)
        if len(poses) != frames:
            raise TrajectoryJSONError(f"{p}.poses", f"holds {len(poses)} poses but {frames} frames were asked for")
        try:
            return Trajectory(c2w, fps)
        except PoseError as e:
            raise TrajectoryJSONError(f"{p}.poses", str(e)) from None

    def to_json(self) -> str:
        return json.dumps(self.data, indent=1)


def parse_trajectory(text_or_obj: str | dict) -> TrajectorySpec:
    """Validate a trajectory JSON document (string or parsed object)."""
    if isinstance(text_or_obj, (str, bytes)):
        if len(text_or_obj) > MAX_TEXT_BYTES:
            raise TrajectoryJSONError("trajectory", f"the document is {len(text_or_obj):,} bytes; at most "
                                                    f"{MAX_TEXT_BYTES:,} are read (use fewer poses or a spline)")
        try:
            obj = json.loads(text_or_obj)
        except json.JSONDecodeError as e:
            raise TrajectoryJSONError("trajectory", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        except (RecursionError, UnicodeDecodeError, ValueError) as e:
            raise TrajectoryJSONError("trajectory", f"not valid JSON ({type(e).__name__}: nested too deeply or not text)") from None
    else:
        obj = text_or_obj
    p = "trajectory"
    if not isinstance(obj, dict):
        raise TrajectoryJSONError(p, f"expected an object, got {type(obj).__name__}")
    version = _get(obj, "version", p)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise TrajectoryJSONError(f"{p}.version", f"expected {SCHEMA_VERSION}, got {_show(version)} "
                                                 "(a file from a newer RealCam?)")
    kind = _get(obj, "type", p)
    if not isinstance(kind, str) or kind not in TYPES:
        raise TrajectoryJSONError(f"{p}.type", f"expected one of {list(TYPES)}, got {_show(kind)}")
    frames = _number(_get(obj, "frames", p), f"{p}.frames", minimum=1, maximum=MAX_FRAMES, integer=True)
    fps = _number(_get(obj, "fps", p, required=False, default=16.0), f"{p}.fps", minimum=1e-3, maximum=1000)
    if kind == "preset":
        pr = _object(_get(obj, "preset", p), f"{p}.preset")
        name = _get(pr, "name", f"{p}.preset")
        if not isinstance(name, str) or RECAMMASTER.get(name, name) not in PRESETS:
            raise TrajectoryJSONError(f"{p}.preset.name", f"unknown preset {_show(name)}; choose one of "
                                                          f"{', '.join(PRESETS)} or cam01…cam10")
        for key in ("amplitude", "speed"):
            if key in pr:
                _number(pr[key], f"{p}.preset.{key}", minimum=0 if key == "speed" else None, magnitude=MAX_PRESET_VALUE)
        easing = pr.get("easing", "linear")
        if not isinstance(easing, str) or easing not in ("linear", "ease_in_out"):
            raise TrajectoryJSONError(f"{p}.preset.easing", f"expected 'linear' or 'ease_in_out', got {_show(easing)}")
        if "loop" in pr:
            _bool(pr["loop"], f"{p}.preset.loop")
        allowed = PRESETS[RECAMMASTER.get(name, name)].params
        for key, v in _object(pr.get("params", {}), f"{p}.preset.params").items():
            if key not in allowed:
                raise TrajectoryJSONError(f"{p}.preset.params.{str(key)[:40]}", f"preset {name} takes {sorted(allowed) or 'no parameters'}")
            _number(v, f"{p}.preset.params.{key}", magnitude=MAX_PRESET_VALUE)
    elif kind == "spline":
        sp = _object(_get(obj, "spline", p), f"{p}.spline")
        keys = _get(sp, "keyframes", f"{p}.spline")
        if not isinstance(keys, list) or not keys:
            raise TrajectoryJSONError(f"{p}.spline.keyframes", "expected a non-empty list of keyframes")
        if len(keys) > MAX_KEYFRAMES:
            raise TrajectoryJSONError(f"{p}.spline.keyframes", f"{len(keys):,} keyframes; at most {MAX_KEYFRAMES:,}")
        timing = sp.get("timing", "seconds")
        if timing not in ("seconds", "clip"):
            raise TrajectoryJSONError(f"{p}.spline.timing", f"expected 'seconds' or 'clip', got {_show(timing)}")
        if "speed" in sp:
            _number(sp["speed"], f"{p}.spline.speed", minimum=1e-3, maximum=MAX_PRESET_VALUE)
        seen = set()
        for i, k in enumerate(keys):
            kp = f"{p}.spline.keyframes[{i}]"
            t = _number(_get(_object(k, kp), "t", kp), f"{kp}.t", magnitude=1e6)
            if timing == "clip" and not 0 <= t <= 1:
                raise TrajectoryJSONError(f"{kp}.t", f"{t} is outside the clip: with timing 'clip', t runs from 0 (first "
                                                      "frame) to 1 (last frame)")
            if t in seen:
                raise TrajectoryJSONError(f"{kp}.t", f"two keyframes at t={t}")
            seen.add(t)
            _vec3(_get(k, "position", kp), f"{kp}.position")
            has_ypr = any(a in k for a in ("yaw", "pitch", "roll"))
            if "look_at" in k and has_ypr:
                raise TrajectoryJSONError(kp, "give either look_at or yaw/pitch/roll, not both")
            if "look_at" in k:
                target = _vec3(k["look_at"], f"{kp}.look_at")
                if all(abs(a - b) < 1e-9 for a, b in zip(target, k["position"])):
                    raise TrajectoryJSONError(f"{kp}.look_at", "equals the position")
            for a in ("yaw", "pitch", "roll"):
                if a in k:
                    _number(k[a], f"{kp}.{a}", magnitude=MAX_ANGLE)
        for key in ("constant_speed", "closed"):
            if key in sp:
                _bool(sp[key], f"{p}.spline.{key}")
    else:
        poses = _get(obj, "poses", p)
        if not isinstance(poses, list) or not poses:
            raise TrajectoryJSONError(f"{p}.poses", "expected a list of poses (12 or 16 numbers each)")
        if len(poses) > MAX_FRAMES:
            raise TrajectoryJSONError(f"{p}.poses", f"{len(poses):,} poses; at most {MAX_FRAMES:,}")
        for i, row in enumerate(poses):
            if not isinstance(row, list) or len(row) not in (12, 16):
                raise TrajectoryJSONError(f"{p}.poses[{i}]", "expected 12 numbers (row-major 3x4 camera-to-world) or 16")
            for j, v in enumerate(row):
                _number(v, f"{p}.poses[{i}][{j}]", magnitude=MAX_COORDINATE)
    spec = TrajectorySpec(obj, frames, fps)
    try:
        traj = spec.build()
    except (PoseError, ValueError, ArithmeticError, RuntimeError) as e:
        if isinstance(e, TrajectoryJSONError):
            raise
        raise TrajectoryJSONError(p, str(e)) from None
    check_poses(traj.c2w, p)
    return spec


def check_poses(c2w: torch.Tensor, field: str) -> None:
    """Refuse camera paths that would render garbage: non-finite poses or positions beyond ``MAX_COORDINATE``."""
    if not bool(torch.isfinite(c2w).all()):
        raise TrajectoryJSONError(field, "the path has non-finite camera poses (a parameter too large?)")
    reach = float(c2w[..., :3, 3].abs().max())
    if reach > MAX_COORDINATE:
        raise TrajectoryJSONError(field, f"the camera travels {reach:.3g} m from the start; at most {MAX_COORDINATE:g} m")


def trajectory_from_json(text_or_obj: str | dict, frames: int | None = None, fps: float | None = None) -> Trajectory:
    return parse_trajectory(text_or_obj).build(frames, fps)


def poses_json(traj: Trajectory) -> str:
    """Export any trajectory as a ``poses`` document (one row-major 3×4 per video frame)."""
    rows = traj.c2w[:, :3, :4].reshape(traj.frames, 12).tolist()
    return json.dumps({"version": SCHEMA_VERSION, "type": "poses", "frames": traj.frames, "fps": traj.fps,
                       "poses": [[round(v, 9) for v in r] for r in rows]})


# --- MultiCamVideo / ReCamMaster camera_extrinsics.json ------------------------------------------------------------

def read_camera_extrinsics(obj: dict | str, camera: str) -> torch.Tensor:
    """``{"frameK": {"camNN": "[..] [..] [..] [..]"}}`` → OpenCV camera-to-world ``[F, 4, 4]`` of one camera."""
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as e:
            raise TrajectoryJSONError("camera_extrinsics", f"not valid JSON ({e.msg})") from None
    frames = sorted((int(k[5:]), v) for k, v in obj.items() if k.startswith("frame") and k[5:].isdigit())
    if not frames:
        raise TrajectoryJSONError("camera_extrinsics", "no 'frameK' entries")
    mats = []
    for k, cams in frames:
        if camera not in cams:
            raise TrajectoryJSONError(f"camera_extrinsics.frame{k}", f"has no camera {camera!r} (has {sorted(cams)})")
        try:
            mats.append(parse_unreal_matrix(cams[camera]))
        except PoseError as e:
            raise TrajectoryJSONError(f"camera_extrinsics.frame{k}.{camera}", str(e)) from None
    return from_unreal_rows(torch.stack(mats))


def write_camera_extrinsics(cameras: dict[str, torch.Tensor]) -> dict:
    """OpenCV camera-to-world per camera ``{name: [F, 4, 4]}`` → the MultiCamVideo JSON object."""
    out: dict[str, dict[str, str]] = {}
    for name, c2w in cameras.items():
        for k, rows in enumerate(to_unreal_rows(c2w)):
            text = " ".join("[" + " ".join(f"{float(v):.9g}" for v in row) + "]" for row in rows)
            out.setdefault(f"frame{k}", {})[name] = text
    return out


__all__ = ["SCHEMA_VERSION", "MAX_FRAMES", "TrajectoryJSONError", "check_poses",
           "TrajectorySpec", "parse_trajectory", "trajectory_from_json",
           "poses_json", "read_camera_extrinsics", "write_camera_extrinsics"]
