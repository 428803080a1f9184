"""Pose validation, relative poses and the 12-number encoding the model reads.

All poses are OpenCV camera-to-world matrices (x right, y down, z forward; translation in metres).
"""
from __future__ import annotations

from typing import Literal

import torch

ORTHO_REPAIR_TOL = 1e-3   # ‖RᵀR − I‖ below this is repaired (re-orthonormalised) silently
ORTHO_ERROR_TOL = 5e-2    # above this the pose is rejected


class PoseError(ValueError):
    """A camera pose that cannot be used; the message names the frame and the problem."""


def as_c2w(poses: torch.Tensor) -> torch.Tensor:
    """``[N, 3, 4]`` or ``[N, 4, 4]`` → ``[N, 4, 4]`` float64 camera-to-world."""
    if poses.ndim != 3 or poses.shape[1:] not in ((3, 4), (4, 4)):
        raise PoseError(f"camera poses must be [N, 3, 4] or [N, 4, 4] camera-to-world matrices, got {tuple(poses.shape)}")
    out = torch.eye(4, dtype=torch.float64).repeat(poses.shape[0], 1, 1)
    out[:, :3, :] = poses[:, :3, :].to(torch.float64)
    return out


def check_c2w(c2w: torch.Tensor) -> torch.Tensor:
    """Reject NaN/inf and non-rotations; repair rotations that are orthonormal within tolerance."""
    c2w = as_c2w(c2w)
    bad = (~torch.isfinite(c2w)).flatten(1).any(1)
    if bad.any():
        raise PoseError(f"camera pose of frame {int(bad.nonzero()[0])} contains NaN or inf")
    r = c2w[:, :3, :3]
    err = (r.transpose(1, 2) @ r - torch.eye(3, dtype=r.dtype)).flatten(1).abs().amax(1)
    det = torch.linalg.det(r)
    worst = int(err.argmax())
    if err[worst] > ORTHO_ERROR_TOL or (det <= 0).any():
        frame = worst if err[worst] > ORTHO_ERROR_TOL else int((det <= 0).nonzero()[0])
        raise PoseError(f"camera pose of frame {frame} is not a rotation (‖RᵀR−I‖={float(err[frame]):.3g}, "
                        f"det={float(det[frame]):.3g}); expected an orthonormal right-handed 3x3 block")
    if (err > 1e-9).any():
        u, _, vh = torch.linalg.svd(r)
        c2w = c2w.clone()
        c2w[:, :3, :3] = u @ vh
    return c2w


def relative_poses(c2w: torch.Tensor, reference: Literal["first", "previous"] = "first",
                   anchor: torch.Tensor | None = None, previous: torch.Tensor | None = None) -> torch.Tensor:
    """Relative camera-to-world poses ``[N, 4, 4]``.

    ``first``: ``inv(anchor) @ C_i`` with ``anchor`` = ``C_0`` unless given (ReCamMaster's convention:
    frame 0 is the identity). ``previous``: ``inv(C_{i−1}) @ C_i`` (AAPT; values stay bounded on
    unbounded streams), with ``previous`` the pose before ``C_0`` (default ``C_0`` itself → identity).
    """
    c2w = check_c2w(c2w)
    if reference == "first":
        ref = check_c2w(anchor[None] if anchor is not None and anchor.ndim == 2 else anchor)[0] if anchor is not None else c2w[0]
        return torch.linalg.inv(ref) @ c2w
    if reference == "previous":
        before = check_c2w(previous[None] if previous.ndim == 2 else previous) if previous is not None else c2w[:1]
        prev = torch.cat([before[-1:], c2w[:-1]], dim=0)
        return torch.linalg.inv(prev) @ c2w
    raise ValueError(f"pose reference {reference!r}; choose 'first' or 'previous'")


def pose12(rel_c2w: torch.Tensor) -> torch.Tensor:
    """``[N, 4, 4]`` (or 3×4) → ``[N, 12]`` float32: the top 3×4, row-major."""
    return rel_c2w[:, :3, :4].reshape(rel_c2w.shape[0], 12).float()


# --- conversions into the OpenCV camera-to-world convention -------------------------------------------------

def look_at(position: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Camera-to-world ``[N, 4, 4]`` at ``position`` ``[N, 3]`` looking at ``target`` (``[3]`` or ``[N, 3]``),
    with no roll: image x stays horizontal, world "down" is +y."""
    position = torch.as_tensor(position, dtype=torch.float64).reshape(-1, 3)
    target = torch.as_tensor(target, dtype=torch.float64).expand_as(position)
    z = target - position
    if (z.norm(dim=1) < 1e-9).any():
        raise PoseError("look-at target coincides with the camera position")
    z = z / z.norm(dim=1, keepdim=True)
    down = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand_as(z)
    x = torch.linalg.cross(down, z)
    if (x.norm(dim=1) < 1e-9).any():
        raise PoseError("look-at direction is vertical: the camera's roll is undefined")
    x = x / x.norm(dim=1, keepdim=True)
    y = torch.linalg.cross(z, x)
    out = torch.eye(4, dtype=torch.float64).repeat(position.shape[0], 1, 1)
    out[:, :3, 0], out[:, :3, 1], out[:, :3, 2], out[:, :3, 3] = x, y, z, position
    return out


def rotation_from_ypr(yaw_deg, pitch_deg, roll_deg) -> torch.Tensor:
    """``[N, 3, 3]`` from yaw (optical axis turns right, +x), pitch (turns up, −y), roll (about the
    optical axis, image turns clockwise), in degrees: ``R = R_yaw · R_pitch · R_roll``."""
    y, p, r = (torch.deg2rad(torch.as_tensor(a, dtype=torch.float64).reshape(-1)) for a in (yaw_deg, pitch_deg, roll_deg))
    n = max(len(y), len(p), len(r))
    y, p, r = y.expand(n), p.expand(n), r.expand(n)
    one, zero = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    ry = torch.stack([torch.stack([y.cos(), zero, y.sin()], -1), torch.stack([zero, one, zero], -1),
                      torch.stack([-y.sin(), zero, y.cos()], -1)], 1)
    rp = torch.stack([torch.stack([one, zero, zero], -1), torch.stack([zero, p.cos(), -p.sin()], -1),
                      torch.stack([zero, p.sin(), p.cos()], -1)], 1)
    rr = torch.stack([torch.stack([r.cos(), -r.sin(), zero], -1), torch.stack([r.sin(), r.cos(), zero], -1),
                      torch.stack([zero, zero, one], -1)], 1)
    return ry @ rp @ rr


def ypr_from_rotation(rot: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rotation_from_ypr`: ``[N, 3]`` degrees (pitch in [−90°, 90°])."""
    rot = rot.to(torch.float64)
    pitch = torch.asin((-rot[:, 1, 2]).clamp(-1, 1))
    yaw = torch.atan2(rot[:, 0, 2], rot[:, 2, 2])
    roll = torch.atan2(rot[:, 1, 0], rot[:, 1, 1])
    return torch.rad2deg(torch.stack([yaw, pitch, roll], dim=1))


_UNREAL_WORLD_FLIP = torch.diag(torch.tensor([1.0, -1.0, 1.0, 1.0], dtype=torch.float64))  # left- ↔ right-handed


def from_unreal_rows(rows: torch.Tensor) -> torch.Tensor:
    """MultiCamVideo / ReCamMaster camera matrices (Unreal row layout: rows = forward, right, up axes in
    world coordinates, row 3 = position in cm) → OpenCV camera-to-world in metres.

    Columns become (right, −up, forward, position/100). Unreal's world is left-handed; its y axis is
    flipped so that the result is a proper rotation. Relative poses (what the model reads) do not
    depend on that world choice: they equal ReCamMaster's. :func:`to_unreal_rows` is the inverse.
    """
    rows = torch.as_tensor(rows, dtype=torch.float64).reshape(-1, 4, 4)
    c2w = rows.transpose(1, 2)[:, :, [1, 2, 0, 3]].clone()
    c2w[:, :, 1] *= -1
    c2w[:, :3, 3] /= 100.0
    return check_c2w(_UNREAL_WORLD_FLIP @ c2w)


def to_unreal_rows(c2w: torch.Tensor) -> torch.Tensor:
    """OpenCV camera-to-world (metres) → Unreal rows ``[N, 4, 4]`` (forward, right, up, position in cm; last
    column 0, 0, 0, 1): the inverse of :func:`from_unreal_rows`, for writing MultiCamVideo camera files."""
    c = _UNREAL_WORLD_FLIP @ check_c2w(c2w)
    right, down, forward, pos = c[:, :3, 0], c[:, :3, 1], c[:, :3, 2], c[:, :3, 3] * 100
    rows = torch.zeros(c.shape[0], 4, 4, dtype=torch.float64)
    rows[:, 0, :3], rows[:, 1, :3], rows[:, 2, :3], rows[:, 3, :3] = forward, right, -down, pos
    rows[:, 3, 3] = 1
    return rows


def parse_unreal_matrix(text: str) -> torch.Tensor:
    """``"[r r r 0] [r r r 0] [r r r 0] [tx ty tz 1]"`` → ``[4, 4]``."""
    import re

    rows = re.findall(r"\[([^\]]*)\]", text)
    try:
        values = [[float(v) for v in row.replace(",", " ").split()] for row in rows]
    except ValueError:
        raise PoseError(f"camera matrix {text[:60]!r}… has a value that is not a number") from None
    if len(values) != 4 or any(len(r) != 4 for r in values):
        raise PoseError(f"camera matrix {text[:60]!r}… must be four bracketed rows of four numbers")
    return torch.tensor(values, dtype=torch.float64)


_GL_TO_CV = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64))


def from_opengl(c2w_gl: torch.Tensor) -> torch.Tensor:
    """OpenGL / Blender camera-to-world (x right, y up, z backward) → OpenCV (x right, y down, z forward)."""
    return check_c2w(as_c2w(c2w_gl) @ _GL_TO_CV)


def to_opengl(c2w: torch.Tensor) -> torch.Tensor:
    return as_c2w(c2w) @ _GL_TO_CV


def from_w2c(w2c: torch.Tensor) -> torch.Tensor:
    """World-to-camera (extrinsics) → camera-to-world."""
    return check_c2w(torch.linalg.inv(as_c2w(w2c)))
