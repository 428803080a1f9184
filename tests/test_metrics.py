"""The benchmark's metrics: the OpenCV camera error recovers true cameras from true renders and tells a
wrong camera from a right one; PSNR/SSIM behave."""
from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("cv2")

from realcam.demo import make_case  # noqa: E402
from realcam.metrics import camera_error, psnr, ssim  # noqa: E402


@pytest.fixture(scope="module")
def case():
    return make_case(2, "pan_right")


def test_camera_error_recovers_the_true_cameras_from_true_renders(case):
    err = camera_error(case.target, case.target_c2w, case.target, case.target_depth, case.K, every=2)
    assert err.success_rate >= 0.8
    assert err.median("rotation_deg") < 2.0
    assert err.median("centre_error") < 0.15


def test_camera_error_flags_a_video_from_the_wrong_camera(case):
    right = camera_error(case.target, case.target_c2w, case.target, case.target_depth, case.K, every=2)
    wrong = camera_error(case.source, case.target_c2w, case.target, case.target_depth, case.K, every=2)
    assert wrong.median("rotation_deg") > 4 * right.median("rotation_deg")
    assert wrong.median("centre_error") > 4 * right.median("centre_error")


def test_camera_error_counts_featureless_frames_as_unregistered(case):
    grey = torch.full_like(case.target, 0.5)
    err = camera_error(grey, case.target_c2w, case.target, case.target_depth, case.K, every=4)
    assert err.success_rate == 0 and math.isnan(err.median())


def test_camera_error_refuses_mismatched_shapes(case):
    with pytest.raises(ValueError, match="frame count and size"):
        camera_error(case.target[:5], case.target_c2w, case.target, case.target_depth, case.K)


def test_psnr_and_ssim_rank_closer_videos_higher(case):
    noisy = (case.target + 0.05 * torch.randn(case.target.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert psnr(case.target, case.target) > 90 and ssim(case.target, case.target) > 0.999
    assert ssim(noisy, case.target) < ssim(case.target, case.target)
    assert 20 < psnr(noisy, case.target) < 32


def test_motion_error_ranks_videos_by_how_well_they_follow_the_true_motion(case):
    from realcam.metrics import motion_error

    frozen = case.target[:1].expand_as(case.target)                     # right first frame, never moves
    blurred = torch.nn.functional.avg_pool2d(case.target.permute(0, 3, 1, 2), 3, 1, 1).permute(0, 2, 3, 1)
    assert motion_error(case.target, case.target) == 0
    still, soft = motion_error(frozen, case.target), motion_error(blurred, case.target)
    assert still > 1.0                                  # a 16° pan moves the picture
    assert soft < 0.7 * still                           # blur alone keeps most of the motion
    # the source camera's own motion is not the target's
    assert motion_error(case.source, case.target) > 1.5 * soft
    with pytest.raises(ValueError, match="same shape"):
        motion_error(case.target[:5], case.target)
