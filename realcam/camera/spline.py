"""Keyframed camera paths: centripetal Catmull–Rom positions, slerped rotations (kornia quaternions),
optional constant-speed re-timing, resampled to video frames.

A keyframe has a time (seconds, or a fraction of the clip with ``timing="clip"``), a position (metres)
and an orientation: a look-at point, or yaw/pitch/roll in degrees (see
:func:`realcam.camera.rotation_from_ypr`). When every keyframe uses a
look-at point, the point itself is interpolated and the camera keeps looking at it (no roll);
otherwise rotations are slerped between keyframes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from .poses import PoseError, look_at, rotation_from_ypr
from .trajectory import Trajectory

Timing = Literal["seconds", "clip"]


@dataclass(frozen=True)
class Keyframe:
    t: float
    position: tuple[float, float, float]
    look_at: tuple[float, float, float] | None = None
    ypr: tuple[float, float, float] | None = None   # yaw, pitch, roll in degrees

    def __post_init__(self) -> None:
        if (self.look_at is None) == (self.ypr is None):
            raise PoseError(f"keyframe at t={self.t}: give exactly one of look_at or yaw/pitch/roll")

    def rotation(self) -> torch.Tensor:
        if self.look_at is not None:
            return look_at(torch.tensor([self.position]), torch.tensor(self.look_at))[0, :3, :3]
        return rotation_from_ypr(*self.ypr)[0]


def _catmull_rom(points: torch.Tensor, seg: torch.Tensor, u: torch.Tensor, closed: bool) -> torch.Tensor:
    """Centripetal (α = ½) Catmull–Rom through ``points`` ``[K, 3]``: segment ``seg`` at local ``u`` ∈ [0, 1]."""
    k = points.shape[0]
    if k == 1:
        return points.expand(len(u), 3)
    if closed:
        idx = lambda i: points[i % k]  # noqa: E731
    else:
        ext = torch.cat([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
        idx = lambda i: ext[i + 1]  # noqa: E731
    p0, p1, p2, p3 = idx(seg - 1), idx(seg), idx(seg + 1), idx(seg + 2)

    def knot(a, b):
        return (b - a).norm(dim=-1).clamp_min(1e-9).sqrt()
    t1 = knot(p0, p1)
    t2 = t1 + knot(p1, p2)
    t3 = t2 + knot(p2, p3)
    t = (t1 + u * (t2 - t1))[:, None]
    t1, t2, t3 = t1[:, None], t2[:, None], t3[:, None]
    a1 = (t1 - t) / t1 * p0 + t / t1 * p1
    a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
    a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
    b1 = (t2 - t) / t2 * a1 + t / t2 * a2
    b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
    return (t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2


def _curve(points: torch.Tensor, seg: torch.Tensor, u: torch.Tensor, closed: bool) -> torch.Tensor:
    """Closed paths carry their first key again at the end; the curve wraps around the others."""
    return _catmull_rom(points[:-1], seg, u, closed=True) if closed else _catmull_rom(points, seg, u, closed=False)


def _locate(times: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Segment index and local parameter of times ``t`` among keyframe ``times`` (held outside the range)."""
    t = t.clamp(times[0], times[-1])
    seg = (torch.searchsorted(times, t, right=True) - 1).clamp(0, len(times) - 2)
    u = (t - times[seg]) / (times[seg + 1] - times[seg])
    return seg, u.clamp(0, 1)


def _slerp_rotations(rots: torch.Tensor, seg: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    from kornia.geometry.quaternion import Quaternion

    q = Quaternion.from_matrix(rots)
    coeffs = q.data.clone()
    for i in range(1, coeffs.shape[0]):  # shortest arcs: keep consecutive quaternions in one hemisphere
        if (coeffs[i] * coeffs[i - 1]).sum() < 0:
            coeffs[i] = -coeffs[i]
    qa = Quaternion(coeffs[seg])
    qb = Quaternion(coeffs[(seg + 1).clamp(max=coeffs.shape[0] - 1)])
    return qa.slerp(qb, u[:, None]).normalize().matrix()


def spline_trajectory(keyframes: list[Keyframe], frames: int, fps: float = 16.0, *, constant_speed: bool = False,
                      closed: bool = False, timing: Timing = "seconds", speed: float = 1.0) -> Trajectory:
    """Sample the keyframed path at ``frames`` video frames.

    ``timing="seconds"``: key times are seconds and frame i is at ``speed · i / fps``. ``timing="clip"``: key
    times are fractions of the clip (0 = first frame, 1 = last) and frame i is at ``speed · i / (frames − 1)``,
    so the same keys give the same move at any video length. ``speed`` > 1 finishes the move early and holds.
    """
    if timing not in ("seconds", "clip"):
        raise PoseError(f"timing {timing!r}; choose 'seconds' or 'clip'")
    if not (math.isfinite(speed) and speed > 0):
        raise PoseError(f"speed must be a positive number, got {speed}")
    if not keyframes:
        raise PoseError("a spline needs at least one keyframe")
    keys = sorted(keyframes, key=lambda k: k.t)
    times = torch.tensor([k.t for k in keys], dtype=torch.float64)
    if len(keys) > 1 and (times[1:] <= times[:-1]).any():
        raise PoseError("keyframe times must all differ")
    if closed and len(keys) > 2:
        keys = keys + [Keyframe(keys[-1].t + (keys[-1].t - keys[-2].t), keys[0].position, keys[0].look_at, keys[0].ypr)]
        times = torch.tensor([k.t for k in keys], dtype=torch.float64)
    positions = torch.tensor([k.position for k in keys], dtype=torch.float64)
    t = torch.arange(frames, dtype=torch.float64) * speed
    t = t / fps if timing == "seconds" else t / max(frames - 1, 1)
    if len(keys) == 1:
        rot = keys[0].rotation()[None].expand(frames, 3, 3)
        out = torch.eye(4, dtype=torch.float64).repeat(frames, 1, 1)
        out[:, :3, :3], out[:, :3, 3] = rot, positions[0]
        return Trajectory(out, fps)
    span_t = t.clamp(times[0], times[-1])
    if constant_speed:
        span_t = _constant_speed_times(positions, times, span_t, closed)
    seg, u = _locate(times, span_t)
    closed = closed and len(keys) > 3
    pos = _curve(positions, seg, u, closed)
    out = torch.eye(4, dtype=torch.float64).repeat(frames, 1, 1)
    if all(k.look_at is not None for k in keys):
        targets = _curve(torch.tensor([k.look_at for k in keys], dtype=torch.float64), seg, u, closed)
        try:
            out = look_at(pos, targets)
        except PoseError as err:   # every key is fine, but the path between two of them is not
            raise PoseError(f"the look-at keyframes interpolate to a camera with no defined orientation ({err}); "
                            "move the look-at targets further from the camera path, or use yaw/pitch/roll "
                            "keyframes") from err
    else:
        out[:, :3, :3] = _slerp_rotations(torch.stack([k.rotation() for k in keys]), seg, u)
        out[:, :3, 3] = pos
    return Trajectory(out, fps)


def _constant_speed_times(positions: torch.Tensor, times: torch.Tensor, t: torch.Tensor, closed: bool) -> torch.Tensor:
    """Re-time so that the camera moves at constant speed along the same path between the first and last key."""
    dense = torch.linspace(float(times[0]), float(times[-1]), 2049, dtype=torch.float64)
    seg, u = _locate(times, dense)
    pts = _curve(positions, seg, u, closed and len(positions) > 3)
    arc = torch.cat([torch.zeros(1, dtype=torch.float64), (pts[1:] - pts[:-1]).norm(dim=1).cumsum(0)])
    if arc[-1] < 1e-12:
        return t
    wanted = (t - times[0]) / (times[-1] - times[0]) * arc[-1]
    j = torch.searchsorted(arc, wanted).clamp(1, len(arc) - 1)
    frac = ((wanted - arc[j - 1]) / (arc[j] - arc[j - 1]).clamp_min(1e-12)).clamp(0, 1)
    return dense[j - 1] + frac * (dense[j] - dense[j - 1])
