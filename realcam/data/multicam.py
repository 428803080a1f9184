"""MultiCamVideo-layout datasets (ReCamMaster's, or ours from ``python -m realcam synth``).

``sceneN/videos/camNN.mp4``, ``sceneN/cameras/camera_extrinsics.json`` (Unreal rows, cm),
``sceneN/metadata.csv`` (``file_name,text``). Each item pairs a target camera with a random *other*
camera of the same scene as the source; cameras are converted as in docs/method.md, "Cameras" (OpenCV, metres).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..camera.trajectory_json import read_camera_extrinsics
from .loopaug import LoopAug


@dataclass(frozen=True)
class SceneEntry:
    root: Path
    cameras: tuple[str, ...]
    text: str


def find_scenes(root: str | Path) -> list[SceneEntry]:
    root = Path(root)
    scenes = []
    for ext in sorted(root.rglob("camera_extrinsics.json")):
        scene = ext.parent.parent
        cams = tuple(sorted(p.stem for p in (scene / "videos").glob("cam*.mp4")))
        if len(cams) < 2:
            continue
        text = ""
        meta = scene / "metadata.csv"
        if meta.exists():
            with open(meta, newline="") as f:
                rows = list(csv.DictReader(f))
            text = rows[0].get("text", "") if rows else ""
        scenes.append(SceneEntry(scene, cams, text))
    if not scenes:
        raise FileNotFoundError(f"no MultiCamVideo scenes (sceneN/videos/camNN.mp4 + cameras/camera_extrinsics.json) "
                                f"under {root}")
    return scenes


def read_video(path: Path) -> torch.Tensor:
    """``[F, H, W, 3]`` float in [0, 1]."""
    import av

    with av.open(str(path)) as container:
        frames = [torch.from_numpy(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    return torch.stack(frames).float() / 255


class MultiCamDataset(torch.utils.data.Dataset):
    """Items ``{source, target: [F, H, W, 3], source_c2w, target_c2w: [F, 4, 4], text}``.

    ``frames``: clip length (4k+1) taken from the start, or a LoopAug window when ``loopaug`` is set.
    The source camera for each (scene, target) is drawn from ``seed`` and the epoch (``set_epoch``).
    """

    def __init__(self, root: str | Path, frames: int, *, loopaug: LoopAug | None = None, seed: int = 0) -> None:
        self.scenes = find_scenes(root)
        self.items = [(s, cam) for s in self.scenes for cam in s.cameras]
        self.frames, self.loopaug, self.seed, self.epoch = frames, loopaug, seed, 0
        self._extrinsics: dict[Path, dict] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def _cams(self, scene: SceneEntry, cam: str) -> torch.Tensor:
        if scene.root not in self._extrinsics:
            self._extrinsics[scene.root] = json.loads((scene.root / "cameras" / "camera_extrinsics.json").read_text())
        return read_camera_extrinsics(self._extrinsics[scene.root], cam)

    def __getitem__(self, index: int) -> dict:
        scene, target = self.items[index]
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) * 100_003 + index)
        others = [c for c in scene.cameras if c != target]
        source = others[int(torch.randint(len(others), (1,), generator=g))]
        clip = {"source": read_video(scene.root / "videos" / f"{source}.mp4"),
                "target": read_video(scene.root / "videos" / f"{target}.mp4"),
                "source_c2w": self._cams(scene, source), "target_c2w": self._cams(scene, target)}
        n = min(v.shape[0] for v in clip.values())
        clip = {k: v[:n] for k, v in clip.items()}
        if self.loopaug is not None:
            clip = self.loopaug(clip, generator=g)
        elif n < self.frames:
            raise ValueError(f"{scene.root.name}/{target}: {n} frames, fewer than the training length {self.frames}")
        else:
            clip = {k: v[:self.frames] for k, v in clip.items()}
        return {**clip, "text": scene.text, "scene": scene.root.name, "target_camera": target, "source_camera": source}
