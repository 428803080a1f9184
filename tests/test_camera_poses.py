"""Pose validation and relative poses (the camera module grows with the trajectory issue)."""
from __future__ import annotations

import math

import pytest
import torch

from realcam.camera import PoseError, check_c2w, pose12, relative_poses


def _yaw(deg, t=(0.0, 0.0, 0.0)):
    a = math.radians(deg)
    m = torch.eye(4, dtype=torch.float64)
    m[0, 0], m[0, 2], m[2, 0], m[2, 2] = math.cos(a), math.sin(a), -math.sin(a), math.cos(a)
    m[:3, 3] = torch.tensor(t)
    return m


def test_relative_to_first_and_previous():
    path = torch.stack([_yaw(10, (1, 0, 0)), _yaw(20, (1, 0, 1)), _yaw(35, (2, 0, 1))])
    rel = relative_poses(path, "first")
    assert torch.allclose(rel[0], torch.eye(4, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(rel[2][:3, :3], _yaw(25)[:3, :3], atol=1e-12)
    prev = relative_poses(path, "previous")
    assert torch.allclose(prev[2][:3, :3], _yaw(15)[:3, :3], atol=1e-12)
    assert torch.allclose(path[1] @ prev[2], path[2], atol=1e-12)   # chaining recovers the path
    flat = pose12(rel)
    assert flat.shape == (3, 12) and torch.equal(flat[1], rel[1][:3, :4].reshape(12).float())


def test_bad_poses_are_rejected_or_repaired():
    nan = torch.eye(4).repeat(3, 1, 1)
    nan[1, 0, 3] = float("nan")
    with pytest.raises(PoseError, match="frame 1 contains NaN"):
        check_c2w(nan)
    skew = torch.eye(4).repeat(2, 1, 1)
    skew[1, 0, 1] = 0.5
    with pytest.raises(PoseError, match="frame 1 is not a rotation"):
        check_c2w(skew)
    mirror = torch.eye(4).repeat(1, 1, 1)
    mirror[0, 0, 0] = -1
    with pytest.raises(PoseError, match="det=-1"):
        check_c2w(mirror)
    nearly = _yaw(30)[None].clone()
    nearly[0, :3, :3] *= 1.0005   # within tolerance: repaired to an exact rotation
    fixed = check_c2w(nearly)[0, :3, :3]
    assert torch.allclose(fixed.T @ fixed, torch.eye(3, dtype=torch.float64), atol=1e-12)
    with pytest.raises(PoseError, match=r"\[N, 3, 4\] or \[N, 4, 4\]"):
        check_c2w(torch.eye(3)[None])
