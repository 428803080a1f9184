"""LoopAug (METHOD.md): ``V_e = [V, reverse(V)[1:]]`` — the clip played forward then back, 2F−1 frames,
with its cameras extended the same way — then a random window of the training length ("truncation
strategy"), so that most windows contain the turning point. As a dataset transform and as an offline
tool that writes augmented clips in the MultiCamVideo layout."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def loop_extend(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``[x_0 … x_{F−1}, x_{F−2} … x_0]`` along ``dim`` (2F−1 entries)."""
    if x.shape[dim] < 2:
        return x
    back = x.flip(dim).narrow(dim, 1, x.shape[dim] - 1)
    return torch.cat([x, back], dim=dim)


@dataclass
class LoopAug:
    """Dataset transform: extend a clip (frames ``[F, …]`` and cameras ``[F, 4, 4]``) with its reverse,
    then crop a window of ``length`` frames starting at a random offset (``generator`` for determinism)."""

    length: int
    probability: float = 1.0

    def window_start(self, total: int, generator: torch.Generator | None = None) -> int:
        if total < self.length:
            raise ValueError(f"LoopAug: the extended clip has {total} frames, fewer than the training length {self.length}")
        return int(torch.randint(0, total - self.length + 1, (1,), generator=generator))

    def __call__(self, frames: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """``frames``: named tensors sharing their first (time) axis (e.g. source/target video and cameras)."""
        if self.probability < 1.0 and float(torch.rand(1, generator=generator)) >= self.probability:
            start = self.window_start(next(iter(frames.values())).shape[0], generator)
            return {k: v[start:start + self.length] for k, v in frames.items()}
        extended = {k: loop_extend(v) for k, v in frames.items()}
        start = self.window_start(next(iter(extended.values())).shape[0], generator)
        return {k: v[start:start + self.length] for k, v in extended.items()}
