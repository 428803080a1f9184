"""Offline metrics for the held-out benchmark (``python -m realcam eval``): PSNR/SSIM against ground-truth
target views and the camera error of a generated video, estimated from its frames with OpenCV.

Camera error (PnP against anchors with known geometry). Every 8th true target frame is an anchor (the
first is the source's first view: the trajectory starts at the identity) and the benchmark knows its
depth. SIFT keypoints of the anchor are lifted to 3-D with that depth; each generated frame is matched to
the last anchor before it and ``cv2.solvePnPRansac`` gives the camera that sees those 3-D points where
the frame shows them. The error is against the true camera relative to the anchor: rotation in degrees,
camera-centre distance in scene units; frames where no consistent pose exists count as unregistered.
Frames are upsampled to at least 128 px before feature detection (SIFT finds few stable points at 64 px).
Conventions: the renderer's pixel ``(i, j)`` has its centre at ``(j + 0.5, i + 0.5)``, OpenCV's at
``(j, i)``; both cameras are OpenCV-style (x right, y down, z forward), depth is along the optical axis.

Motion error (does the picture move the way the truth does?). The camera error needs features that a
blurry tiny-model output does not have; dense optical flow does not. ``motion_error`` estimates the
Farnebäck flow from frame 0 to every ``every``-th frame in the generated video and in the true one and
returns the mean end-point distance between the two fields, in pixels of the input frames. A video
frozen at its first frame scores ``motion_error(truth[:1].expand_as(truth), truth)`` (the truth's own
mean motion); the truth scores 0.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import torch


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB over a whole clip (``[F, H, W, 3]`` in [0, 1])."""
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2)
    return float(10 * torch.log10(1 / mse.clamp_min(1e-10)))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM (7×7 Gaussian window, kornia) over a clip ``[F, H, W, 3]``."""
    import kornia

    x, y = a.clamp(0, 1).permute(0, 3, 1, 2).float(), b.clamp(0, 1).permute(0, 3, 1, 2).float()
    return float(kornia.metrics.ssim(x, y, 7).mean())


@dataclass
class CameraError:
    rotation_deg: list[float]          # per evaluated frame (NaN where no pose could be estimated)
    centre_error: list[float]          # |C_est − C_gt| in scene units, per evaluated frame
    frames: list[int]                  # the frame indices evaluated

    @property
    def success_rate(self) -> float:
        ok = [r for r in self.rotation_deg if math.isfinite(r)]
        return len(ok) / max(len(self.rotation_deg), 1)

    def median(self, which: str = "rotation_deg") -> float:
        """Median over the registered frames (NaN when none registered)."""
        vals = [v for v in getattr(self, which) if math.isfinite(v)]
        return statistics.median(vals) if vals else math.nan


def _gray_u8(frame: torch.Tensor, scale: int):
    import cv2
    import numpy as np

    img = (frame.clamp(0, 1).double().numpy() * 255).round().astype(np.uint8)
    if scale > 1:
        img = cv2.resize(img, (img.shape[1] * scale, img.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)


def _pnp(obj, img, K_cv, scale: int, need: float):
    """RANSAC PnP refined on its inliers; None unless ``need`` inliers agree on a pose in front of the camera."""
    import cv2
    import numpy as np

    if len(obj) < max(need, 6):
        return None
    ok, rvec, tvec, inl = cv2.solvePnPRansac(obj, img.astype("float64"), K_cv, None, reprojectionError=2.0 * scale,
                                             iterationsCount=500, flags=cv2.SOLVEPNP_EPNP)
    if not ok or inl is None or len(inl) < need:
        return None
    inl = inl[:, 0]
    _, rvec, tvec = cv2.solvePnP(obj[inl], img[inl], K_cv, None, rvec, tvec, True, flags=cv2.SOLVEPNP_ITERATIVE)
    R, t = cv2.Rodrigues(rvec)[0], tvec[:, 0]
    # reject degenerate poses: inliers behind the camera, a camera centre farther from the anchor than the
    # scene points it sees, or inliers bunched in a small patch of the image (a pose from nothing)
    if ((obj[inl] @ R.T + t)[:, 2] <= 0).any() or np.linalg.norm(R.T @ t) > np.linalg.norm(obj, axis=1).max():
        return None
    if img[inl].std(axis=0).min() < 0.05 * 2 * K_cv[0, 2]:
        return None
    return R, t


def camera_error(frames: torch.Tensor, c2w: torch.Tensor, truth: torch.Tensor, depth: torch.Tensor, K: torch.Tensor,
                 *, anchor_every: int = 8, every: int = 1, min_size: int = 128, ratio: float = 0.8,
                 min_inliers: int = 12, min_inlier_share: float = 0.5, contrast: float = 0.01,
                 depth_jump: float = 0.15) -> CameraError:
    """Camera error of generated ``frames`` (``[F, H, W, 3]``) against the ground-truth cameras ``c2w``
    (``[F, 4, 4]``, OpenCV camera-to-world). ``truth`` (``[F, H, W, 3]``) and ``depth`` (``[F, H, W]``, along
    the optical axis) are the true target views: frames 0, ``anchor_every``, … of them are anchors, and
    generated frame f is registered against the last anchor before it (views far from frame 0 share too
    little with it). ``K``: the renderer's intrinsics (pixel-corner convention). Frames 1, 1 + every, …
    are evaluated."""
    import cv2
    import numpy as np

    n, h, w = frames.shape[:3]
    if truth.shape[:3] != (n, h, w) or depth.shape != (n, h, w) or c2w.shape[0] != n:
        raise ValueError(f"frames {tuple(frames.shape)}, truth {tuple(truth.shape)}, depth {tuple(depth.shape)} and "
                         f"cameras {tuple(c2w.shape)} must share frame count and size")
    scale = max(1, math.ceil(min_size / min(h, w)))
    K = K.double()
    K_cv = np.array([[K[0, 0] * scale, 0, K[0, 2] * scale - 0.5],
                     [0, K[1, 1] * scale, K[1, 2] * scale - 0.5], [0, 0, 1]], dtype=np.float64)
    Kinv = np.linalg.inv(K.numpy())
    sift = cv2.SIFT_create(contrastThreshold=contrast)   # the default (0.04) finds ~25 points at 128 px
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    c2w = c2w.double()

    def anchor(a: int):
        """SIFT points of true frame a lifted to 3-D (its camera's coordinates) where the depth is smooth."""
        kps, des = sift.detectAndCompute(_gray_u8(truth[a], scale), None)
        d = depth[a].double().numpy()
        pts, keep = [], []
        for k, kp in enumerate(kps):
            x, y = (kp.pt[0] + 0.5) / scale, (kp.pt[1] + 0.5) / scale        # renderer pixel-corner coordinates
            j, i = min(int(x), w - 1), min(int(y), h - 1)
            patch = d[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2]
            if np.isfinite(patch).all() and patch.max() <= (1 + depth_jump) * patch.min():
                pts.append(d[i, j] * (Kinv @ np.array([x, y, 1.0])))
                keep.append(k)
        return np.asarray(pts, dtype=np.float64).reshape(-1, 3), (des[keep] if des is not None and keep else None)

    anchors: dict[int, tuple] = {}
    rot_err, ctr_err, idx = [], [], list(range(1, n, every))
    for f in idx:
        rot, ctr = math.nan, math.nan
        a = ((f - 1) // anchor_every) * anchor_every
        if a not in anchors:
            anchors[a] = anchor(a)
        pts3, des_a = anchors[a]
        kp_f, des_f = sift.detectAndCompute(_gray_u8(frames[f], scale), None)
        if des_a is not None and des_f is not None and len(kp_f) >= 2:
            good = [m for m, n2 in (p for p in matcher.knnMatch(des_a, des_f, k=2) if len(p) == 2)
                    if m.distance < ratio * n2.distance]
            pose = _pnp(pts3[[m.queryIdx for m in good]], np.array([kp_f[m.trainIdx].pt for m in good]), K_cv,
                        scale, max(min_inliers, min_inlier_share * len(good)))
            if pose is not None:
                R_est, t_est = pose
                # ground truth: anchor camera coordinates → frame f camera coordinates
                T_gt = (torch.linalg.inv(c2w[f]) @ c2w[a]).numpy()
                R_gt, t_gt = T_gt[:3, :3], T_gt[:3, 3]
                cos = (np.trace(R_est @ R_gt.T) - 1) / 2
                rot = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
                ctr = float(np.linalg.norm(-R_est.T @ t_est + R_gt.T @ t_gt))
        rot_err.append(rot)
        ctr_err.append(ctr)
    return CameraError(rot_err, ctr_err, idx)


def _flows_from_first(frames: torch.Tensor, every: int, scale: int, blur: float):
    """Farnebäck flow frame 0 → frame t for t = every, 2·every, … as ``[n, H·scale, W·scale, 2]``, in
    pixels of the unscaled frames, on grey frames smoothed by a Gaussian of ``blur`` (unscaled) pixels."""
    import cv2
    import numpy as np

    def grey(t: int):
        g = _gray_u8(frames[t], scale)
        return cv2.GaussianBlur(g, (0, 0), blur * scale) if blur > 0 else g

    first = grey(0)
    flows = [cv2.calcOpticalFlowFarneback(first, grey(t), None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                          poly_n=5, poly_sigma=1.2, flags=0)
             for t in range(every, frames.shape[0], every)]
    return np.stack(flows) / scale


def motion_error(frames: torch.Tensor, truth: torch.Tensor, *, every: int = 4, min_size: int = 128,
                 blur: float = 1.0) -> float:
    """Mean end-point distance (pixels) between the dense optical flow from the first frame to every
    ``every``-th frame of ``frames`` and of ``truth`` (both ``[F, H, W, 3]``); frames are upsampled to at
    least ``min_size`` px first, as for the camera error, and both are smoothed alike (``blur`` px) so
    that a sharp truth and a soft output are compared on the motion of the same coarse picture."""
    import numpy as np

    if frames.shape != truth.shape or frames.shape[0] <= every:
        raise ValueError(f"frames {tuple(frames.shape)} and truth {tuple(truth.shape)} must have the same shape "
                         f"and more than every={every} frames")
    scale = max(1, math.ceil(min_size / min(frames.shape[1:3])))
    diff = _flows_from_first(frames, every, scale, blur) - _flows_from_first(truth, every, scale, blur)
    return float(np.linalg.norm(diff, axis=-1).mean())
