"""Cached training data: ``python -m realcam preprocess`` and the latent-pair dataset the DiT stages read.

Preprocessing encodes every camera video of every MultiCamVideo scene once with the VAE and stores, in
sharded safetensors, per camera clip: its latents ``[C, f, h, w]``, its camera-to-world poses at the
latent frames (video frames 0, 4, 8, …; OpenCV, metres) and the index of its scene's text context.
Training pairs a target clip with a random other camera of the same scene as the source (as
:class:`realcam.data.multicam.MultiCamDataset` does for videos), so training never re-encodes video.
For a model with ``pixel_guide_depth``, ``python -m realcam pixel-guides`` adds each camera pair's guide
(:func:`write_pixel_guides`) to the same folder, once.

Batches are a pure function of ``(seed, step, micro-step, rank)``: a resumed run reads exactly the
batches the uninterrupted run would have read, with no loader state to save.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..camera import pose12, relative_poses
from ..camera.rays import nearest_plane

if TYPE_CHECKING:
    from ..guide import SourceKeys

INDEX = "index.json"
FORMAT = "realcam-latents-v1"
PIXEL_GUIDES = "pixel_guides.safetensors"      # python -m realcam pixel-guides
GUIDES_FORMAT = "realcam-pixel-guides-v1"
# what a self-pair (same_camera_share) does when the dropout withholds its source path (LatentPairs)
SAME_CAMERA_WITHHELD = ("still", "never")


class TextEncoder:
    """Text → context ``[L, text_dim]``. The default is the empty-text context (one zero token), which is
    what the model reads when no umT5 is available; :class:`UMT5TextEncoder` runs a local umT5."""

    def __init__(self, text_dim: int) -> None:
        self.text_dim = text_dim
        self.name = "empty"

    def __call__(self, text: str) -> torch.Tensor:
        return torch.zeros(1, self.text_dim)


class UMT5TextEncoder(TextEncoder):
    """A local Hugging Face umT5 encoder folder (``config.json``, tokenizer files, weights), read with
    ``transformers`` offline. Contexts are the last hidden states of the real tokens (Wan pads them
    with zeros to 512 at run time; we store them unpadded)."""

    def __init__(self, folder: str | Path, max_length: int = 512) -> None:
        from transformers import AutoTokenizer, UMT5EncoderModel

        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = UMT5EncoderModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
        self.max_length = max_length
        self.text_dim = self.model.config.d_model
        self.name = f"umt5:{Path(folder).name}"

    @torch.no_grad()
    def __call__(self, text: str) -> torch.Tensor:
        tok = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=self.max_length)
        out = self.model(input_ids=tok.input_ids, attention_mask=tok.attention_mask).last_hidden_state[0]
        return out[: int(tok.attention_mask.sum())].float()


@dataclass
class _Clip:
    scene: int
    camera: str
    latents: torch.Tensor
    c2w: torch.Tensor


class _LatentsWriter:
    """Writes a latents folder (shards of clips, the scenes' text contexts, the index) into ``out.partial`` and
    renames it to ``out`` when complete, so an interrupted run leaves nothing half-written."""

    def __init__(self, out: str | Path, shard_size: int) -> None:
        self.out = Path(out)
        if self.out.exists():
            raise FileExistsError(f"{self.out} exists; remove it or choose another --out")
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {shard_size}")
        self.shard_size = shard_size
        self.tmp = self.out.with_name(self.out.name + ".partial")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self.contexts: list[torch.Tensor] = []
        self.clips: list[_Clip] = []
        self.shards: list[str] = []
        self.shard_clips: list[int] = []

    def add(self, clip: _Clip) -> None:
        self.clips.append(clip)
        if len(self.clips) >= self.shard_size:
            self._flush()

    def _flush(self) -> None:
        from ..weights import save_safetensors_atomic

        if not self.clips:
            return
        name = f"shard_{len(self.shards):05d}.safetensors"
        save_safetensors_atomic({"latents": torch.stack([c.latents for c in self.clips]).contiguous(),
                                 "c2w": torch.stack([c.c2w for c in self.clips]).contiguous(),
                                 "scene": torch.tensor([c.scene for c in self.clips])}, self.tmp / name,
                                {"format": FORMAT, "cameras": json.dumps([c.camera for c in self.clips])})
        self.shards.append(name)
        self.shard_clips.append(len(self.clips))
        self.clips.clear()

    def finish(self, index: dict, guides: tuple[dict[str, torch.Tensor], dict[str, str]] | None = None) -> Path:
        """Writes the last shard, the contexts, ``index`` (with the format and shard list added) and, optionally,
        the pixel guides (``guides``, and ``guides_swept`` with a sweep) with their metadata; then moves the folder
        into place."""
        from ..weights import save_safetensors_atomic

        self._flush()
        save_safetensors_atomic({f"context_{i}": c.contiguous() for i, c in enumerate(self.contexts)},
                                self.tmp / "contexts.safetensors")
        if guides is not None:
            save_safetensors_atomic({k: v.contiguous() for k, v in guides[0].items()}, self.tmp / PIXEL_GUIDES, guides[1])
        index = {"format": FORMAT, **index, "shards": self.shards, "shard_clips": self.shard_clips}
        (self.tmp / INDEX).write_text(json.dumps(index, indent=1))
        os.replace(self.tmp, self.out)
        return self.out


def _index_fields(vae, vae_path: str | Path, text_encoder: TextEncoder, frames: int, source: str,
                  scenes: list[str]) -> dict:
    return {"frames": frames, "latent_frames": (frames - 1) // 4 + 1, "latent_channels": vae.latent_channels,
            "spatial_stride": vae.spatial_stride * getattr(vae, "patch", 1), "vae": Path(vae_path).name,
            "vae_family": vae.family, "text_encoder": text_encoder.name, "text_dim": text_encoder.text_dim,
            "source": source, "scenes": scenes}


def _encoding_vae(vae_path: str | Path, device: torch.device | str = "cpu"):
    from ..vae import load_vae

    vae = load_vae(vae_path, device=device)
    if not vae.can_encode:
        raise ValueError(f"{Path(vae_path).name} has no encoder; making training latents needs a VAE that can encode")
    return vae


def _encode_clips(vae, videos: torch.Tensor) -> torch.Tensor:
    """``videos`` ``[B, F, H, W, 3]`` in [0, 1] → latents ``[B, C, f, h, w]`` (float32, on the CPU)."""
    with torch.no_grad():
        z = vae.encode(videos.permute(0, 4, 1, 2, 3).to(vae.device, vae.dtype))
    return z.float().cpu()


def _check_frames(frames: int) -> None:
    if (frames - 1) % 4:
        raise ValueError(f"frames must be 4k+1 (the VAE's time stride is 4), got {frames}")


def preprocess(data: str | Path, vae_path: str | Path, out: str | Path, *, frames: int, shard_size: int = 256,
               text_encoder: TextEncoder | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Encode a MultiCamVideo folder into latent shards under ``out`` (written to a temporary folder and
    renamed when complete, so an interrupted run leaves nothing half-written)."""
    from ..camera.trajectory_json import read_camera_extrinsics
    from ..data.multicam import find_scenes, read_video

    _check_frames(frames)
    scenes = find_scenes(data)
    if Path(out).exists():
        raise FileExistsError(f"{out} exists; remove it or choose another --out")
    vae = _encoding_vae(vae_path)
    text_encoder = text_encoder or TextEncoder(0)
    writer = _LatentsWriter(out, shard_size)
    total = sum(len(s.cameras) for s in scenes)
    done = 0
    for si, scene in enumerate(scenes):
        ext = json.loads((scene.root / "cameras" / "camera_extrinsics.json").read_text())
        writer.contexts.append(text_encoder(scene.text))  # width 0 without a text encoder: the model's empty text
        for cam in scene.cameras:
            video = read_video(scene.root / "videos" / f"{cam}.mp4")
            if video.shape[0] < frames:
                raise ValueError(f"{scene.root}/{cam}: {video.shape[0]} frames, fewer than --frames {frames}")
            c2w = read_camera_extrinsics(ext, cam)[:frames:4].float()
            writer.add(_Clip(si, cam, _encode_clips(vae, video[None, :frames])[0], c2w))
            done += 1
            if progress:
                progress(done, total)
    return writer.finish(_index_fields(vae, vae_path, text_encoder, frames, str(Path(data).resolve()),
                                       [s.root.name for s in scenes]))


def _scene_guides(vae, firsts: list[torch.Tensor], c2w: list[torch.Tensor], *, depth: float,
                  fov_deg: float, depth_maps: list[torch.Tensor] | None = None,
                  keys: list[SourceKeys] | None = None) -> list[torch.Tensor]:
    """The pixel guides of one scene's clips (first video frames ``[3, H, W]`` and latent-frame poses ``[f, 4, 4]``,
    float64): entry ``j`` is ``[clips, C, f, h, w]``, clip ``j`` as the source of every clip; with ``depth_maps``
    (``[H, W]`` per clip: :func:`realcam.guide.guide_depth`), each source's first frame is reprojected through its own
    depth map instead of the plane. Sources that start at the same camera with the same first frame (and depth map)
    share one guide. With ``keys`` (one :class:`realcam.guide.SourceKeys` per clip, batch 1, with ``depth_maps``:
    ``pixel_guide_views`` nearest) each source's guide is drawn from its frames nearest each target camera, and is its
    own. The sources are encoded together, in one batch per kind of reprojection (the one plane, a layered depth map),
    each source's guide exactly what its own :class:`realcam.guide.PixelGuide` makes (one batch instead of one small
    one per source: fewer, larger kernels)."""
    from ..guide import PixelGuide, SourceKeys

    maps = depth_maps or [None] * len(firsts)
    owner: list[int] = []       # for each source, the source whose guide it shares (itself when none before it)
    distinct: list[int] = []    # the sources whose guides are made
    for j, src in enumerate(c2w):
        owner.append(next((k for k in distinct if keys is None and torch.equal(firsts[k], firsts[j])
                           and torch.allclose(c2w[k][0], src[0], atol=1e-6)
                           and (maps[j] is None or torch.equal(maps[k], maps[j]))), j))
        if owner[-1] == j:
            distinct.append(j)
    # a map at the plane's depth everywhere (a still source) is the one-plane guide, which PixelGuide makes as such
    layered = [k for k in distinct if maps[k] is not None and not bool((maps[k] == float(depth)).all())]
    made: dict[int, torch.Tensor] = {}
    n = len(c2w)
    for group in ([k for k in distinct if k not in layered], layered):
        if not group:
            continue
        targets = torch.cat([torch.stack([pose12(relative_poses(t, "first", anchor=c2w[k][0])) for t in c2w])
                             for k in group])
        first = torch.cat([firsts[k][None].expand(n, -1, -1, -1) for k in group])
        depth_map = torch.cat([maps[k][None].expand(n, -1, -1) for k in group]) if group is layered else None
        held = None
        if keys is not None and group is layered:
            held = SourceKeys(*(torch.cat([getattr(keys[k], name).expand(n, *getattr(keys[k], name).shape[1:])
                                           for k in group]) for name in ("pictures", "depths", "c2w")))
        guide = PixelGuide(vae, first, fov_deg=fov_deg, depth=depth, depth_map=depth_map, keys=held)
        with torch.no_grad():
            encoded = guide.encode(targets.float()).cpu()
        made.update(zip(group, encoded.split(n)))
    return [made[k] for k in owner]


def _guides_metadata(depth: float, fov_deg: float, vae_path: str | Path, sweep: tuple[float, ...] = ()) -> dict[str, str]:
    meta = {"format": GUIDES_FORMAT, "depth": repr(float(depth)), "fov_deg": repr(float(fov_deg)),
            "vae": Path(vae_path).name}
    if sweep:      # a second tensor, guides_swept: each source's first frame through the depth its motion shows
        meta["sweep"] = json.dumps([float(d) for d in sweep])
    return meta


def write_pixel_guides(folder: str | Path, vae_path: str | Path, *, depth: float, fov_deg: float,
                       data: str | Path | None = None,
                       progress: Callable[[int, int], None] | None = None) -> Path:
    """For a preprocessed folder: the guide of ``ConditioningConfig.pixel_guide_depth`` for every (source, target)
    pair of cameras of a scene, the clip paired with itself included (:class:`realcam.guide.PixelGuide`: the
    source's first video frame reprojected through the plane ``depth`` metres ahead into the target's cameras,
    relative to the source's first one, and encoded). Written to ``folder/pixel_guides.safetensors`` as
    ``guides`` ``[clips, slots, C, f, h, w]`` (float16; slot ``j``: the ``j``-th clip of the scene as the source).
    Sources that start at the same camera with the same first frame share one guide (encoded once). ``data``: the
    MultiCamVideo folder the latents came from (default: the one the index names)."""
    from safetensors import safe_open

    from ..data.multicam import read_video
    from ..weights import save_safetensors_atomic

    folder = Path(folder)
    if not (folder / INDEX).exists():
        raise FileNotFoundError(f"{folder} has no {INDEX}: create it with `python -m realcam preprocess` first")
    index = json.loads((folder / INDEX).read_text())
    if index.get("format") != FORMAT:
        raise ValueError(f"{folder}: unknown latent format {index.get('format')!r} (expected {FORMAT})")
    if not index.get("shards"):
        raise ValueError(f"{folder} holds no clips: nothing to make guides for")
    root = Path(data or index["source"])
    c2w, scene, cameras = [], [], []
    for name in index["shards"]:
        with safe_open(str(folder / name), "pt") as f:
            c2w.append(f.get_tensor("c2w"))
            scene.append(f.get_tensor("scene"))
            cameras += json.loads(f.metadata()["cameras"])
    c2w, scene = torch.cat(c2w).double(), torch.cat(scene)
    by_scene: dict[int, list[int]] = {}
    for i, s in enumerate(scene.tolist()):
        by_scene.setdefault(s, []).append(i)
    slots = max(len(ids) for ids in by_scene.values())
    vae = _encoding_vae(vae_path)
    if vae.latent_channels != index["latent_channels"]:
        raise ValueError(f"{Path(vae_path).name} makes {vae.latent_channels}-channel latents but {folder} holds "
                         f"{index['latent_channels']}: use the VAE it was preprocessed with ({index['vae']})")
    f = index["latent_frames"]
    out: torch.Tensor | None = None
    for n, (s, ids) in enumerate(sorted(by_scene.items())):
        scene_dir = root / index["scenes"][s]
        firsts = []
        for i in ids:
            video = scene_dir / "videos" / f"{cameras[i]}.mp4"
            if not video.exists():
                raise FileNotFoundError(f"{video} is missing: pass --data, the MultiCamVideo folder {folder} was "
                                        "preprocessed from")
            firsts.append(read_video(video)[0].permute(2, 0, 1))
        for j, same in enumerate(_scene_guides(vae, firsts, [c2w[i] for i in ids], depth=depth, fov_deg=fov_deg)):
            if out is None:
                out = torch.zeros(len(scene), slots, *same.shape[1:], dtype=torch.float16)
            if same.shape[2] != f:
                raise ValueError(f"{scene_dir}: the guide has {same.shape[2]} latent frames, the latents {f}")
            for t_slot, t in enumerate(ids):
                out[t, j] = same[t_slot].half()
        if progress:
            progress(n + 1, len(by_scene))
    target = folder / PIXEL_GUIDES
    save_safetensors_atomic({"guides": out.contiguous()}, target, _guides_metadata(depth, fov_deg, vae_path))
    return target


def synth_latents(out: str | Path, vae_path: str | Path, *, scenes: int, first: int = 0, seed: int = 0, cameras: int = 4,
                  frames: int = 33, size: int = 64, mode: str = "preset", shared_start: int = 1, world: str = "v1",
                  guide_depth: float | None = None, guide_fov: float = 60.0, guide_sweep: tuple[float, ...] = (),
                  guide_sweep_depth: str = "motion", guide_sweep_smooth: tuple[float, ...] = (),
                  guide_views: str = "first", guide_depth_net: str | Path | None = None, shard_size: int = 256,
                  device: torch.device | str = "cpu", progress: Callable[[int, int], None] | None = None) -> Path:
    """Procedural scenes rendered and encoded straight into a latents folder: what ``synth`` (same scenes and
    cameras: :func:`realcam.data.synth.dataset_scene`), ``preprocess`` and, with ``guide_depth``, ``pixel-guides``
    (plane ``guide_depth`` m, ``guide_fov``°) make together, with no video files in between — on ``device``, so a GPU
    machine makes a training set in minutes. Its frames are rounded to 8 bits as a video's are, but not compressed
    (the videos' H.264 at crf 12 moves a 64 px world-v2 pixel by 1.3/255 on average, up to 25/255 at edges) — what
    the benchmark's sources are too, rendered in memory — and a GPU's rays may round differently from the CPU's:
    its latents are close to the video route's, not equal (2.5–2.8 % of their mean size on three world-v2 scenes with
    the embedded VAE; tests/test_train.py holds them within 10 % at 32 px), while the cameras, contexts and index match
    exactly. With ``guide_sweep`` (plane depths, as ``ConditioningConfig.pixel_guide_sweep``) it also writes
    ``guides_swept``: each source's first frame reprojected through the depth its own frames and path show
    (:func:`realcam.guide.guide_depth`, as the pipeline makes it when the path is given), for a model that reads the
    swept guide (:class:`LatentPairs` gives it where the source's path is kept, the one-plane guide where it is
    withheld). ``guide_sweep_depth="renderer"`` draws those guides through the renderer's own depth of each source's
    first frame instead, rounded to the nearest plane (in inverse depth): what a perfect sweep would give, for
    experiments on how right a guide must be; the guides' metadata says so (``sweep_depth``). ``guide_sweep_smooth``
    (as ``ConditioningConfig.pixel_guide_sweep_smooth``) aggregates the sweep's costs semi-globally, as a model with
    that setting does at render time; the metadata records it (``sweep_smooth``). ``guide_sweep_depth="net"`` draws
    them through the depth the network ``guide_depth_net`` (:func:`realcam.weights.read_depth_net`, over the planes
    ``guide_sweep``) reads from each first frame (and key frame), as a model with ``pixel_guide_depth_net`` does at
    render time, and also writes ``guides_unknown``: each source's first frame alone through that depth, what such a
    model draws without the source's path; the metadata records the network's fingerprint (``depth_net``,
    :meth:`realcam.model.depth_net.DepthNet.digest`)."""
    from ..camera.trajectory_json import read_camera_extrinsics, write_camera_extrinsics
    from ..config import ConditioningConfig
    from ..data.synth import dataset_scene, render
    from ..camera.poses import as_c2w
    from ..guide import SourceKeys, key_depths, latent_starts, motion_frames
    from ..guide import guide_depth as guide_depth_map

    _check_frames(frames)
    if scenes < 1 or cameras < 2:
        raise ValueError(f"synth_latents needs at least 1 scene and 2 cameras, got {scenes} and {cameras}")
    if mode not in ("preset", "random"):
        raise ValueError(f"trajectories must be 'preset' or 'random', got {mode!r}")
    if guide_depth is not None and not guide_depth > 0:
        raise ValueError(f"guide_depth is the guide plane's depth in metres and must be > 0, got {guide_depth}")
    if guide_sweep_depth not in ("motion", "renderer", "net"):
        raise ValueError(f"guide_sweep_depth must be 'motion', 'renderer' or 'net', got {guide_sweep_depth!r}")
    if guide_sweep_depth != "motion" and not guide_sweep:
        raise ValueError(f"guide_sweep_depth={guide_sweep_depth!r} draws the swept guides: give guide_sweep (the planes) too")
    if guide_sweep_depth != "motion" and guide_sweep_smooth:
        raise ValueError(f"guide_sweep_smooth aggregates the costs of a sweep; guide_sweep_depth={guide_sweep_depth!r} "
                         "sweeps nothing")
    if (guide_depth_net is not None) != (guide_sweep_depth == "net"):
        raise ValueError("guide_sweep_depth='net' draws the guides through a depth network: give guide_depth_net (the "
                         "network's file), and only with it")
    net = None
    if guide_depth_net is not None:
        from ..model.depth_net import DepthNet
        from ..weights import read_depth_net

        tensors, planes, width, side = read_depth_net(guide_depth_net)
        if planes != tuple(float(d) for d in guide_sweep):
            raise ValueError(f"{Path(guide_depth_net).name} classifies into {len(planes)} planes, not the "
                             f"{len(guide_sweep)} of guide_sweep: give its planes (those of the model it serves)")
        net = DepthNet(planes, width, side)
        net.load_state_dict(tensors)
        net = net.to(device).eval()
    if guide_sweep:
        if not guide_depth:
            raise ValueError("guide_sweep needs guide_depth (the plane kept where the source's motion does not tell)")
        ConditioningConfig(camera_tokens="rays", pixel_guide_depth=guide_depth, pixel_guide_sweep=tuple(guide_sweep),
                           pixel_guide_sweep_smooth=tuple(guide_sweep_smooth), pixel_guide_views=guide_views)
        if guide_views != "first" and guide_sweep_depth == "renderer":
            raise ValueError("guide_views='nearest' needs each later source frame's depth: use guide_sweep_depth "
                             "'motion' or 'net'")
    elif guide_sweep_smooth or guide_views != "first":
        raise ValueError("guide_sweep_smooth and guide_views shape the swept guides: give guide_sweep (the planes) too")
    if Path(out).exists():
        raise FileExistsError(f"{out} exists; remove it or choose another --out")
    vae = _encoding_vae(vae_path, device)
    stride = vae.spatial_stride * getattr(vae, "patch", 1)
    if size < stride or size % stride:
        raise ValueError(f"size {size} must be a multiple of the VAE's spatial stride ({stride} for {Path(vae_path).name})")
    text_encoder = TextEncoder(0)
    writer = _LatentsWriter(out, shard_size)
    names = [f"cam{c:02d}" for c in range(1, cameras + 1)]
    guides: list[torch.Tensor] = []
    swept: list[torch.Tensor] = []
    unknown: list[torch.Tensor] = []      # guide_sweep_depth net: the first frame alone through the network's depth
    for n, index in enumerate(range(first, first + scenes)):
        scene, K, paths = dataset_scene(index, seed, cameras=cameras, frames=frames, size=size, mode=mode,
                                        shared_start=shared_start, world=world)
        rgb, depth = render(scene, torch.cat(paths), K, (size, size), torch.arange(frames).repeat(cameras), device=device)
        videos = ((rgb * 255).round() / 255).reshape(cameras, frames, size, size, 3)
        ext = json.loads(json.dumps(write_camera_extrinsics(dict(zip(names, paths)))))   # as a video folder stores it
        writer.contexts.append(text_encoder(scene.text))
        c2w = [read_camera_extrinsics(ext, cam)[::4].float() for cam in names]
        for cam, z, pose in zip(names, _encode_clips(vae, videos), c2w):
            writer.add(_Clip(n, cam, z, pose))
        if guide_depth:
            firsts = [v[0].permute(2, 0, 1).cpu() for v in videos]
            per_source = _scene_guides(vae, firsts, [p.double() for p in c2w], depth=guide_depth, fov_deg=guide_fov)
            guides.append(torch.stack(per_source, 1).half())          # [clips, slots, C, f, h, w]
        if guide_sweep and guide_sweep_depth == "renderer":
            planes = torch.tensor(guide_sweep, dtype=torch.float64)
            firsts_depth = depth.reshape(cameras, frames, size, size)[:, 0].cpu().to(torch.float64)
            maps = list(planes[nearest_plane(firsts_depth, planes)])
        elif net is not None:
            maps = list(net.depth(videos[:, 0].permute(0, 3, 1, 2)))
        elif guide_sweep:
            maps = [guide_depth_map(motion_frames(v.permute(3, 0, 1, 2)[None]), pose12(relative_poses(p, "first")),
                                    fov_deg=guide_fov, planes=tuple(guide_sweep), fallback=guide_depth,
                                    size=(size, size), device=device, smooth=tuple(guide_sweep_smooth))[0]
                    for v, p in zip(videos, paths)]
        keys = None
        if guide_sweep and guide_views == "nearest":
            starts = latent_starts(frames, vae.tiny)
            keys = []
            for v, p, m in zip(videos, paths, maps):
                path = pose12(relative_poses(p, "first"))
                if net is not None:
                    depths = net.depth(v[starts[1:]].permute(0, 3, 1, 2))
                else:
                    depths = key_depths(motion_frames(v.permute(3, 0, 1, 2)[None]), path, starts[1:], fov_deg=guide_fov,
                                        planes=tuple(guide_sweep), fallback=guide_depth, size=(size, size),
                                        device=device, smooth=tuple(guide_sweep_smooth))
                keys.append(SourceKeys(v[starts].permute(0, 3, 1, 2).cpu()[None],
                                       torch.cat([m[None].cpu(), depths])[None],
                                       as_c2w(path[starts].reshape(-1, 3, 4))[None]))
        if guide_sweep:
            per_source = _scene_guides(vae, firsts, [p.double() for p in c2w], depth=guide_depth, fov_deg=guide_fov,
                                       depth_maps=maps, keys=keys)
            swept.append(torch.stack(per_source, 1).half())
        if net is not None:
            per_source = _scene_guides(vae, firsts, [p.double() for p in c2w], depth=guide_depth, fov_deg=guide_fov,
                                       depth_maps=maps)
            unknown.append(torch.stack(per_source, 1).half())
        if progress:
            progress(n + 1, scenes)
    source = f"synth: world {world}, seed {seed}, scenes {first}-{first + scenes - 1}, {mode} paths, {size} px"
    tensors = {"guides": torch.cat(guides)} if guide_depth else {}
    if guide_sweep:
        tensors["guides_swept"] = torch.cat(swept)
    if net is not None:
        tensors["guides_unknown"] = torch.cat(unknown)
    meta = _guides_metadata(guide_depth, guide_fov, vae_path, tuple(guide_sweep)) if guide_depth else None
    if meta is not None and guide_sweep:
        meta["sweep_depth"] = guide_sweep_depth
        if net is not None:
            meta["depth_net"] = net.digest()
        if guide_sweep_smooth and guide_sweep_depth == "motion":
            meta["sweep_smooth"] = json.dumps([float(p) for p in guide_sweep_smooth])
        meta["views"] = guide_views
    written = (tensors, meta) if meta is not None else None
    return writer.finish(_index_fields(vae, vae_path, text_encoder, frames, source,
                                       [f"scene{i}" for i in range(first, first + scenes)]), written)


_SAME_ACROSS = ("frames", "latent_frames", "latent_channels", "spatial_stride", "vae", "vae_family", "text_encoder",
                "text_dim")


def merge_latents(out: str | Path, folders: list[str | Path], *, shard_size: int = 256,
                  progress: Callable[[int, int], None] | None = None) -> Path:
    """Latents folders made apart (``synth-latents --first`` in several processes, say) joined into one, as if one run
    had made their scenes in the order given: the clips re-sharded, each clip's scene renumbered, the text contexts and
    pixel guides (every tensor: ``guides``, ``guides_swept``, ``guides_unknown``) appended in the same order. The
    folders must agree on everything a model reads from them — the index's frames, latent shape, VAE and text encoder,
    and the guides' metadata (plane, field of view, sweep, how they were drawn, the depth network's fingerprint) —
    hold no scene twice and all hold guides or none; anything else is refused, naming the folder and the field, before
    anything is written. Everything is held in memory while it is written (as :class:`LatentPairs` holds a folder)."""
    from safetensors import safe_open

    out = Path(out)
    folders = [Path(f) for f in folders]
    if len(folders) < 2:
        raise ValueError(f"merge_latents joins two or more latents folders, got {len(folders)}")
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another --out")
    indexes = []
    for folder in folders:
        index_file = folder / INDEX
        if not index_file.is_file():
            raise FileNotFoundError(f"{folder} has no {INDEX}: give folders made by synth-latents or preprocess")
        try:
            index = json.loads(index_file.read_text())
        except ValueError as e:
            raise ValueError(f"{index_file} is not JSON ({e}): remake that folder") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            found = index.get("format") if isinstance(index, dict) else type(index).__name__
            raise ValueError(f"{index_file}: unknown latent format {found!r} (expected {FORMAT})")
        for key in ("scenes", "shards"):
            if not isinstance(index.get(key), list) or not all(isinstance(v, str) for v in index[key]):
                raise ValueError(f"{index_file}: {key!r} must be a list of names: remake that folder")
        for key in _SAME_ACROSS:
            if key not in index:
                raise ValueError(f"{index_file} has no {key!r}: remake that folder")
            if indexes and index[key] != indexes[0][1][key]:
                raise ValueError(f"{index_file}: {key} is {index[key]!r} but {indexes[0][0] / INDEX} has "
                                 f"{indexes[0][1][key]!r}: only folders made alike can be joined")
        indexes.append((folder, index))
    seen: dict[str, Path] = {}
    for folder, index in indexes:
        for name in index["scenes"]:
            if name in seen:
                raise ValueError(f"scene {name!r} is in both {seen[name]} and {folder}: each scene may be joined once")
            seen[name] = folder
    metas = []
    for folder, _ in indexes:
        path = folder / PIXEL_GUIDES
        if path.exists():
            with safe_open(str(path), "pt") as f:
                metas.append((f.metadata() or {}, sorted(f.keys())))
        else:
            metas.append(None)
    for (folder, _), meta in zip(indexes, metas):
        if (meta is None) != (metas[0] is None):
            have, lack = (folder, indexes[0][0]) if meta is not None else (indexes[0][0], folder)
            raise ValueError(f"{have} holds pixel guides and {lack} none: make both with the same --guide-* options")
        if meta is not None and meta != metas[0]:
            keys = sorted(k for k in set(meta[0]) | set(metas[0][0]) if meta[0].get(k) != metas[0][0].get(k))
            which = f"metadata {', '.join(keys)}" if keys else f"tensors {meta[1]} against {metas[0][1]}"
            raise ValueError(f"{folder / PIXEL_GUIDES} and {indexes[0][0] / PIXEL_GUIDES} differ in their {which}: "
                             "make both with the same --guide-* options (and the same depth network)")
    writer = _LatentsWriter(out, shard_size)
    try:
        guides: dict[str, list[torch.Tensor]] = {k: [] for k in metas[0][1]} if metas[0] is not None else {}
        offset, shape = 0, None
        for n, (folder, index) in enumerate(indexes):
            clips = 0
            for name in index["shards"]:
                with safe_open(str(folder / name), "pt") as f:
                    z, c2w, scene = f.get_tensor("latents"), f.get_tensor("c2w"), f.get_tensor("scene")
                    cameras = json.loads((f.metadata() or {}).get("cameras", "null"))
                if not (isinstance(cameras, list) and len(cameras) == len(z) == len(c2w) == len(scene)):
                    raise ValueError(f"{folder / name}: its latents, cameras and scene numbers do not match in count: "
                                     "remake that folder")
                if len(scene) and not 0 <= int(scene.min()) <= int(scene.max()) < len(index["scenes"]):
                    raise ValueError(f"{folder / name} names scenes outside the {len(index['scenes'])} of its index: "
                                     "remake that folder")
                if shape is None:
                    shape = (tuple(z.shape[1:]), tuple(c2w.shape[1:]), folder)
                if (tuple(z.shape[1:]), tuple(c2w.shape[1:])) != shape[:2]:
                    raise ValueError(f"{folder / name} holds latents {tuple(z.shape[1:])} and cameras "
                                     f"{tuple(c2w.shape[1:])} per clip, {shape[2]} {shape[0]} and {shape[1]}: only "
                                     "folders of the same frame size and length can be joined")
                for i in range(len(z)):
                    writer.add(_Clip(offset + int(scene[i]), str(cameras[i]), z[i], c2w[i]))
                clips += len(z)
            with safe_open(str(folder / "contexts.safetensors"), "pt") as f:
                for i in range(len(index["scenes"])):
                    writer.contexts.append(f.get_tensor(f"context_{i}"))
            if guides:
                with safe_open(str(folder / PIXEL_GUIDES), "pt") as f:
                    for key in guides:
                        held = f.get_tensor(key)
                        if held.shape[0] != clips:
                            raise ValueError(f"{folder / PIXEL_GUIDES} holds {key} for {held.shape[0]} clips and the "
                                             f"folder {clips}: remake that folder")
                        guides[key].append(held)
            offset += len(index["scenes"])
            if progress:
                progress(n + 1, len(indexes))
        if guides:
            slots = {g.shape[1:] for parts in guides.values() for g in parts}
            if len(slots) > 1:
                raise ValueError(f"the folders' pixel guides differ in shape ({sorted(map(tuple, slots))}): scenes "
                                 "with other camera counts cannot share one guide tensor; make them with the same "
                                 "--cameras")
        first = indexes[0][1]
        fields = {k: first[k] for k in _SAME_ACROSS}
        fields["source"] = "; ".join(str(index.get("source", folder)) for folder, index in indexes)
        fields["scenes"] = [name for _, index in indexes for name in index["scenes"]]
        written = ({k: torch.cat(v) for k, v in guides.items()}, metas[0][0]) if guides else None
        return writer.finish(fields, written)
    except BaseException:
        shutil.rmtree(writer.tmp, ignore_errors=True)
        raise


class LatentPairs:
    """(source, target) latent pairs from a preprocessed folder, held in memory.

    ``item(index, generator)``: target clip ``index``, with a source drawn from the other cameras of its
    scene. Target poses are relative to the *source* camera at frame 0 (ReCamMaster's training
    convention; at inference the target starts at the source pose, so latent 0 is the identity), or
    relative to the previous target pose (``pose_reference='previous'``, the first one to the source).

    ``source_camera_dropout``: the share of pairs whose source path is withheld — ``source_pose12`` is then the
    identity at every frame, which is what inference passes for a video whose camera is unknown (a still
    camera at the reference), so a model conditioned on source cameras also learns to work without them.

    ``same_camera_share``: the share of pairs whose source is the target clip itself — the target path is then the
    source's own, and the answer is the source: a re-rendering along the path the video was filmed on, which
    pairs of two cameras never show (the target camera is always another one). When such a pair's source path is
    also withheld, the source reads as filmed from a still camera, so its own path is the still one too: the target
    path is the identity, not the path the model was told nothing about (``same_camera_withheld='still'``). On the
    benchmark without the source's path this cost more than the moving path did (docs/results.md, "World v2: more
    planes, and a clip paired with itself"). ``same_camera_withheld='never'``: a self-pair always shows the source's
    path — the dropout passes it by — so every pair without the source's path is one of two cameras, as in runs
    without self-pairs: the embedded model's setting, level with ``'still'`` with the path and ahead of it without
    (docs/results.md, "World v2: self-pairs that keep their path"). Self-pairs are drawn after the other choices
    (the same random stream whichever setting is chosen), so the remaining pairs are the ones drawn without them.

    ``pixel_guide``: ``(depth, fov_deg)`` of a model with ``ConditioningConfig.pixel_guide_depth``: items also
    carry ``pixel_guide``, the pair's guide from :func:`write_pixel_guides` (checked to be made for that plane).
    ``pixel_guide_sweep`` (a model's ``ConditioningConfig.pixel_guide_sweep``): that guide is, as at render time, the
    swept one (``synth-latents --guide-sweep``) where the source's path is given and the one-plane one where it is
    withheld. ``pixel_guide_depth_net`` (the fingerprint of a model's depth network,
    :meth:`realcam.model.depth_net.DepthNet.digest`): the guides must be drawn through that network
    (``synth-latents --guide-sweep-depth net``), the swept one where the path is given and the first frame alone
    through its depth (``guides_unknown``) where it is withheld, as at render time.
    """

    def __init__(self, folder: str | Path, *, pose_reference: str = "first", text_dim: int | None = None,
                 source_camera_dropout: float = 0.0, same_camera_share: float = 0.0,
                 same_camera_withheld: str = "still", pixel_guide: tuple[float, float] | None = None,
                 pixel_guide_sweep: tuple[float, ...] = (), pixel_guide_sweep_smooth: tuple[float, ...] = (),
                 pixel_guide_views: str = "first", pixel_guide_depth_net: str | None = None) -> None:
        from safetensors import safe_open

        folder = Path(folder)
        index_file = folder / INDEX
        if not index_file.exists():
            raise FileNotFoundError(f"{folder} has no {INDEX}: create it with `python -m realcam preprocess`")
        self.index = json.loads(index_file.read_text())
        if self.index.get("format") != FORMAT:
            raise ValueError(f"{folder}: unknown latent format {self.index.get('format')!r} (expected {FORMAT})")
        latents, c2w, scenes, self.cameras = [], [], [], []
        for name in self.index["shards"]:
            with safe_open(str(folder / name), "pt") as f:
                latents.append(f.get_tensor("latents"))
                c2w.append(f.get_tensor("c2w"))
                scenes.append(f.get_tensor("scene"))
                self.cameras += json.loads(f.metadata()["cameras"])
        self.latents, self.c2w, self.scene = torch.cat(latents), torch.cat(c2w).double(), torch.cat(scenes)
        with safe_open(str(folder / "contexts.safetensors"), "pt") as f:
            self.contexts = [f.get_tensor(f"context_{i}") for i in range(len(self.index["scenes"]))]
        stored = self.index["text_dim"]
        if text_dim is not None and stored and stored != text_dim:
            raise ValueError(f"{folder} holds text contexts of width {stored} ({self.index['text_encoder']}) but the "
                             f"model reads {text_dim}; preprocess with a matching text encoder")
        self.text_dim = stored or text_dim or 0
        self.pose_reference = pose_reference
        if not 0.0 <= source_camera_dropout <= 1.0:
            raise ValueError(f"source_camera_dropout must be a share in [0, 1], got {source_camera_dropout}")
        self.source_camera_dropout = float(source_camera_dropout)
        if not 0.0 <= same_camera_share <= 1.0:
            raise ValueError(f"same_camera_share must be a share in [0, 1], got {same_camera_share}")
        self.same_camera_share = float(same_camera_share)
        if same_camera_withheld not in SAME_CAMERA_WITHHELD:
            raise ValueError(f"same_camera_withheld {same_camera_withheld!r}; choose one of {SAME_CAMERA_WITHHELD}")
        self.same_camera_withheld = same_camera_withheld
        self.by_scene: dict[int, list[int]] = {}
        for i, s in enumerate(self.scene.tolist()):
            self.by_scene.setdefault(s, []).append(i)
        lonely = [self.index["scenes"][s] for s, ids in self.by_scene.items() if len(ids) < 2]
        if lonely:
            raise ValueError(f"scenes with a single camera cannot make pairs: {', '.join(lonely[:5])}")
        if pixel_guide_sweep and pixel_guide is None:
            raise ValueError("pixel_guide_sweep needs pixel_guide (the plane and field of view of the guide)")
        if pixel_guide_depth_net is not None and not pixel_guide_sweep:
            raise ValueError("pixel_guide_depth_net needs pixel_guide_sweep (the planes its network classifies into)")
        self.guides, self.swept, self.unknown = (None, None, None) if pixel_guide is None else self._read_guides(
            folder, *pixel_guide, tuple(pixel_guide_sweep), tuple(float(p) for p in pixel_guide_sweep_smooth),
            pixel_guide_views, pixel_guide_depth_net)

    def _read_guides(self, folder: Path, depth: float, fov_deg: float, sweep: tuple[float, ...],
                     smooth: tuple[float, ...] = (), views: str = "first", net: str | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """The pixel guides of :func:`write_pixel_guides`, checked against what the model reads: the one-plane
        guides, the swept ones, and (a model with a depth network) the first frame alone through its depth."""
        from safetensors import safe_open

        make = (f"python -m realcam pixel-guides --latents {folder} --vae <the VAE of the latents> --depth {depth:g} "
                f"--fov {fov_deg:g}")
        if not (folder / PIXEL_GUIDES).exists():
            raise FileNotFoundError(f"the model reads a guide made from the source's pixels (pixel_guide_depth "
                                    f"{depth:g}) and {folder} has none: {make}")
        if self.same_camera_share and self.same_camera_withheld == "still":
            raise ValueError("pixel guides are encoded along each clip's own path; a self-pair whose path is withheld "
                             "would need the still one: use same_camera_withheld 'never' with pixel_guide_depth")
        with safe_open(str(folder / PIXEL_GUIDES), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != GUIDES_FORMAT:
                raise ValueError(f"{folder / PIXEL_GUIDES}: unknown format {meta.get('format')!r}; remake it: {make}")
            try:
                have = (float(meta["depth"]), float(meta["fov_deg"]))
            except (KeyError, ValueError):
                raise ValueError(f"{folder / PIXEL_GUIDES}: no depth/fov_deg in its metadata; remake it: {make}") from None
            if have != (float(depth), float(fov_deg)):
                raise ValueError(f"{folder / PIXEL_GUIDES} was made for depth {have[0]:g} m, fov {have[1]:g}° but the "
                                 f"model reads depth {depth:g}, fov {fov_deg:g}: remake it: {make}")
            guides = f.get_tensor("guides")
            swept = unknown = None
            if sweep:
                planes = ",".join(f"{d:g}" for d in sweep)
                remake = (f"make the folder with python -m realcam synth-latents ... --guide-depth {depth:g} --guide-fov "
                          f"{fov_deg:g} --guide-sweep {planes} (pixel-guides makes one-plane guides only), or train a "
                          "copy of the initial checkpoint without the sweep (python -m realcam set-guide-sweep --planes "
                          "none) and set it again after")
                try:
                    have_sweep = tuple(float(d) for d in json.loads(meta.get("sweep", "[]")))
                except (ValueError, TypeError):
                    have_sweep = ()
                if "guides_swept" not in f.keys() or have_sweep != tuple(float(d) for d in sweep):
                    held = ("guides swept over " + ",".join(f"{d:g}" for d in have_sweep)) if have_sweep else "no swept guides"
                    raise ValueError(f"the model reads its pixel guide through the depth the source's motion shows "
                                     f"(pixel_guide_sweep {planes}) and {folder / PIXEL_GUIDES} holds {held}: {remake}")
                try:
                    have_smooth = tuple(float(p) for p in json.loads(meta.get("sweep_smooth", "[]")))
                except (ValueError, TypeError):
                    have_smooth = None
                if meta.get("sweep_depth", "motion") == "motion" and have_smooth != smooth:
                    said = lambda p: ",".join(f"{x:g}" for x in p) if p else "none"  # noqa: E731
                    raise ValueError(f"the model aggregates its sweep's costs with penalties {said(smooth)} "
                                     f"(pixel_guide_sweep_smooth) and {folder / PIXEL_GUIDES} was swept with "
                                     f"{'unreadable penalties' if have_smooth is None else said(have_smooth)}: "
                                     f"{remake} --guide-sweep-smooth {said(smooth)}")
                if meta.get("views", "first") != views:
                    raise ValueError(f"the model draws its swept guide from the source's {views} frames "
                                     f"(pixel_guide_views) and {folder / PIXEL_GUIDES} holds guides drawn from its "
                                     f"{meta.get('views', 'first')!r} ones: {remake} --guide-views {views}")
                drawn = meta.get("sweep_depth", "motion")
                if net is not None and (drawn != "net" or meta.get("depth_net") != net or "guides_unknown" not in f.keys()):
                    raise ValueError(f"the model draws its guide through its depth network (pixel_guide_depth_net) and "
                                     f"{folder / PIXEL_GUIDES} holds guides drawn through "
                                     f"{'another depth network' if drawn == 'net' else f'the {drawn} depth'}: {remake} "
                                     "--guide-sweep-depth net --guide-depth-net <the model's network>")
                if net is None and drawn == "net":
                    raise ValueError(f"{folder / PIXEL_GUIDES} holds guides drawn through a depth network and the model "
                                     "has none (pixel_guide_depth_net): attach that network to the model first "
                                     "(python -m realcam set-guide-depth-net), or remake the folder without it")
                swept = f.get_tensor("guides_swept")
                unknown = f.get_tensor("guides_unknown") if net is not None else None
        slots = max(len(ids) for ids in self.by_scene.values())
        for name, held in (("guides", guides), ("guides_swept", swept), ("guides_unknown", unknown)):
            if held is not None and (held.shape[:2] != (len(self), slots) or held.shape[2:] != self.latents.shape[1:]):
                raise ValueError(f"{folder / PIXEL_GUIDES} holds {name} {tuple(held.shape)}; the latents need "
                                 f"{(len(self), slots, *self.latents.shape[1:])}: remake it: {make}")
        return guides, swept, unknown

    def __len__(self) -> int:
        return self.latents.shape[0]

    def item(self, index: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        others = [i for i in self.by_scene[int(self.scene[index])] if i != index]
        src = others[int(torch.randint(len(others), (1,), generator=generator))]
        # drawn only when asked for, so runs without them keep their random stream (and their resumes)
        withheld = bool(self.source_camera_dropout) and float(torch.rand((), generator=generator)) < self.source_camera_dropout
        if self.same_camera_share and float(torch.rand((), generator=generator)) < self.same_camera_share:
            src = index
        target_c2w, source_c2w = self.c2w[index], self.c2w[src]
        if withheld and src == index:
            if self.same_camera_withheld == "never":   # a self-pair keeps its path
                withheld = False
            else:   # the source's own path, as read without its cameras: the still one
                target_c2w = source_c2w = source_c2w[:1].expand_as(source_c2w)
        if self.pose_reference == "first":
            rel = relative_poses(target_c2w, "first", anchor=source_c2w[0])
        else:
            rel = relative_poses(target_c2w, "previous", previous=source_c2w[0])
        source_rel = relative_poses(source_c2w, "first")
        if withheld:
            source_rel = torch.eye(4, dtype=source_rel.dtype).expand_as(source_rel)
        ctx = self.contexts[int(self.scene[index])]
        if ctx.shape[1] == 0:
            ctx = torch.zeros(1, self.text_dim)
        out = {"source": self.latents[src], "target": self.latents[index], "pose12": pose12(rel), "context": ctx,
               "source_pose12": pose12(source_rel)}
        if self.guides is not None:
            slot = self.by_scene[int(self.scene[index])].index(src)
            # as at render time: swept with the path; without it the one plane, or through the depth network's
            held = (self.swept if self.swept is not None and not withheld
                    else self.unknown if self.unknown is not None else self.guides)
            out["pixel_guide"] = held[index, slot].float()
        return out

    def batch(self, indices: list[int], generator: torch.Generator) -> dict[str, torch.Tensor]:
        items = [self.item(i, generator) for i in indices]
        length = max(it["context"].shape[0] for it in items)
        ctx = torch.zeros(len(items), length, self.text_dim)
        for b, it in enumerate(items):
            ctx[b, :it["context"].shape[0]] = it["context"]
        out = {"source": torch.stack([it["source"] for it in items]), "target": torch.stack([it["target"] for it in items]),
               "pose12": torch.stack([it["pose12"] for it in items]), "context": ctx,
               "source_pose12": torch.stack([it["source_pose12"] for it in items])}
        if self.guides is not None:
            out["pixel_guide"] = torch.stack([it["pixel_guide"] for it in items])
        return out


def batch_indices(n: int, *, seed: int, step: int, micro: int, accum: int, rank: int, world: int, batch: int,
                  overfit_batches: int = 0) -> tuple[list[int], int]:
    """Dataset indices of one micro-batch and the epoch they belong to: every process reads a disjoint
    slice of a per-epoch permutation, in order, with no state beyond the step counter."""
    if overfit_batches:
        step = step % overfit_batches
    start = ((step * accum + micro) * world + rank) * batch
    out = [int(_epoch_order(n, seed, pos // n)[pos % n]) for pos in range(start, start + batch)]
    return out, start // n


@functools.lru_cache(maxsize=4)
def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The per-epoch permutation, drawn once per epoch rather than once per micro-batch."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))


def step_generator(*keys: int) -> torch.Generator:
    """A generator seeded from integers (seed, step, micro-step, rank, …): randomness that a resumed run repeats."""
    h = 0
    for k in keys:
        h = (h * 1_000_003 + int(k) + 1) % (2**63 - 1)
    return torch.Generator().manual_seed(h)
