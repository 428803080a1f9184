"""``Trajectory``: one OpenCV camera-to-world pose per *video* frame, and what the model reads from it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from .poses import check_c2w, pose12, relative_poses


@dataclass
class Trajectory:
    c2w: torch.Tensor          # [F, 4, 4] float64, OpenCV camera-to-world, metres
    fps: float = 16.0
    spec: Any = field(default=None, repr=False, compare=False)   # the TrajectorySpec it was built from, if any

    def __post_init__(self) -> None:
        self.c2w = check_c2w(self.c2w)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def frames(self) -> int:
        return self.c2w.shape[0]

    def at_length(self, frames: int) -> "Trajectory":
        """This path sampled at ``frames`` video frames (re-sampled from its JSON spec when it has one)."""
        if frames == self.frames:
            return self
        if self.spec is None:
            raise ValueError(f"the camera path has {self.frames} frames but the video has {frames}: set the "
                             f"trajectory's frames to {frames}")
        return self.spec.build(frames, self.fps)

    def latent_c2w(self, temporal_stride: int = 4) -> torch.Tensor:
        """Poses of the latent frames: video frames 0, 4, 8, … (a clip of 4k+1 frames has k+1)."""
        if (self.frames - 1) % temporal_stride:
            raise ValueError(f"trajectory has {self.frames} frames; latent frames need 4k+1 video frames "
                             f"(e.g. {(self.frames - 1) // 4 * 4 + 1}); resample it to the video's frame count")
        return self.c2w[::temporal_stride]

    def pose12(self, reference: Literal["first", "previous"] = "first") -> torch.Tensor:
        """``[f, 12]`` relative poses of the latent frames, as the DiT reads them."""
        return pose12(relative_poses(self.latent_c2w(), reference))

    def relative(self) -> "Trajectory":
        """The same path expressed relative to its first pose (frame 0 = identity)."""
        return Trajectory(relative_poses(self.c2w, "first"), self.fps)

    def concat(self, other: "Trajectory") -> "Trajectory":
        """``other`` continues from this path's last pose (its own first pose is dropped)."""
        rel = relative_poses(other.c2w, "first")
        return Trajectory(torch.cat([self.c2w, self.c2w[-1] @ rel[1:]]), self.fps)
