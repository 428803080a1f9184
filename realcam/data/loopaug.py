"""LoopAug (docs/method.md): ``V_e = [V, reverse(V)[1:]]`` — the clip played forward then back, 2F−1 frames,
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


def write_loopaug_dataset(src, out, *, length: int, windows: int = 1, seed: int = 0,
                          include_original: bool = False, progress=None) -> int:
    """Offline LoopAug: for every MultiCamVideo scene under ``src`` write ``windows`` augmented scenes
    ``<scene>_loopK`` under ``out`` in the same layout (videos, camera_extrinsics.json, metadata.csv,
    intrinsics when present). All cameras of a scene share the window, so they stay synchronised.
    Returns the number of scenes written."""
    import json
    import shutil
    from pathlib import Path

    from ..camera.trajectory_json import read_camera_extrinsics, write_camera_extrinsics
    from .multicam import find_scenes, read_video
    from .synth import write_video

    if (length - 1) % 4:
        raise ValueError(f"length must be 4k+1 frames (the VAE's time stride), got {length}")
    src, out = Path(src), Path(out)
    scenes = find_scenes(src)
    aug = LoopAug(length)
    written = 0
    for n, scene in enumerate(scenes):
        ext = json.loads((scene.root / "cameras" / "camera_extrinsics.json").read_text())
        videos = {cam: read_video(scene.root / "videos" / f"{cam}.mp4") for cam in scene.cameras}
        cams = {cam: read_camera_extrinsics(ext, cam) for cam in scene.cameras}
        frames = min(min(v.shape[0] for v in videos.values()), min(c.shape[0] for c in cams.values()))
        extended = {cam: (loop_extend(videos[cam][:frames]), loop_extend(cams[cam][:frames])) for cam in scene.cameras}
        total = 2 * frames - 1
        g = torch.Generator().manual_seed(seed * 1_000_003 + n)
        rel = scene.root.relative_to(src)
        for k in range(windows):
            start = aug.window_start(total, g)
            dest = out / rel.parent / f"{rel.name}_loop{k}"
            for cam, (v, _) in extended.items():
                write_video(dest / "videos" / f"{cam}.mp4", v[start:start + length])
            (dest / "cameras").mkdir(parents=True, exist_ok=True)
            (dest / "cameras" / "camera_extrinsics.json").write_text(json.dumps(write_camera_extrinsics(
                {cam: c[start:start + length] for cam, (_, c) in extended.items()})))
            intr = scene.root / "cameras" / "intrinsics.json"
            if intr.exists():
                shutil.copy(intr, dest / "cameras" / "intrinsics.json")
            meta = scene.root / "metadata.csv"
            if meta.exists():
                shutil.copy(meta, dest / "metadata.csv")
            written += 1
        if include_original:
            shutil.copytree(scene.root, out / rel, dirs_exist_ok=True)
            written += 1
        if progress:
            progress(n + 1, len(scenes))
    return written
