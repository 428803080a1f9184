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
