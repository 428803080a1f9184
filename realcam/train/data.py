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

import torch

from ..camera import pose12, relative_poses

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


def preprocess(data: str | Path, vae_path: str | Path, out: str | Path, *, frames: int, shard_size: int = 256,
               text_encoder: TextEncoder | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Encode a MultiCamVideo folder into latent shards under ``out`` (written to a temporary folder and
    renamed when complete, so an interrupted run leaves nothing half-written)."""
    from ..camera.trajectory_json import read_camera_extrinsics
    from ..data.multicam import find_scenes, read_video
    from ..vae import load_vae
    from ..weights import save_safetensors_atomic

    if (frames - 1) % 4:
        raise ValueError(f"frames must be 4k+1 (the VAE's time stride is 4), got {frames}")
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists; remove it or choose another --out")
    scenes = find_scenes(data)
    vae = load_vae(vae_path)
    if not vae.can_encode:
        raise ValueError(f"{Path(vae_path).name} has no encoder; preprocessing needs a VAE that can encode")
    text_encoder = text_encoder or TextEncoder(0)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    contexts, clips, shards, shard_clips = [], [], [], []
    total = sum(len(s.cameras) for s in scenes)

    def flush() -> None:
        if not clips:
            return
        name = f"shard_{len(shards):05d}.safetensors"
        save_safetensors_atomic({"latents": torch.stack([c.latents for c in clips]).contiguous(),
                                 "c2w": torch.stack([c.c2w for c in clips]).contiguous(),
                                 "scene": torch.tensor([c.scene for c in clips])}, tmp / name,
                                {"format": FORMAT, "cameras": json.dumps([c.camera for c in clips])})
        shards.append(name)
        shard_clips.append(len(clips))
        clips.clear()

    done = 0
    for si, scene in enumerate(scenes):
        ext = json.loads((scene.root / "cameras" / "camera_extrinsics.json").read_text())
        contexts.append(text_encoder(scene.text))  # width 0 without a text encoder: the model's empty text
        for cam in scene.cameras:
            video = read_video(scene.root / "videos" / f"{cam}.mp4")
            if video.shape[0] < frames:
                raise ValueError(f"{scene.root}/{cam}: {video.shape[0]} frames, fewer than --frames {frames}")
            with torch.no_grad():
                z = vae.encode(video[:frames].permute(3, 0, 1, 2)[None].to(vae.dtype))[0].float()
            c2w = read_camera_extrinsics(ext, cam)[:frames:4].float()
            clips.append(_Clip(si, cam, z, c2w))
            done += 1
            if progress:
                progress(done, total)
            if len(clips) >= shard_size:
                flush()
    flush()
    save_safetensors_atomic({f"context_{i}": c.contiguous() for i, c in enumerate(contexts)},
                            tmp / "contexts.safetensors")
    index = {"format": FORMAT, "frames": frames, "latent_frames": (frames - 1) // 4 + 1,
             "latent_channels": vae.latent_channels, "spatial_stride": vae.spatial_stride * getattr(vae, "patch", 1),
             "vae": Path(vae_path).name, "vae_family": vae.family,
             "text_encoder": text_encoder.name, "text_dim": text_encoder.text_dim, "source": str(Path(data).resolve()),
             "scenes": [s.root.name for s in scenes], "shards": shards, "shard_clips": shard_clips}
    (tmp / INDEX).write_text(json.dumps(index, indent=1))
    os.replace(tmp, out)
    return out


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
    from ..guide import PixelGuide
    from ..vae import load_vae
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
    vae = load_vae(vae_path)
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
        done: list[tuple[int, torch.Tensor]] = []   # (slot, guides of that source) already encoded
        for j, src in enumerate(ids):
            same = next((g for k, g in done if torch.equal(firsts[k], firsts[j])
                         and torch.allclose(c2w[ids[k]][0], c2w[src][0], atol=1e-6)), None)
            if same is None:
                targets = torch.stack([pose12(relative_poses(c2w[t], "first", anchor=c2w[src][0])) for t in ids])
                guide = PixelGuide(vae, firsts[j][None].expand(len(ids), -1, -1, -1), fov_deg=fov_deg, depth=depth)
                same = guide.encode(targets.float())
            done.append((j, same))
            if out is None:
                out = torch.zeros(len(scene), slots, *same.shape[1:], dtype=torch.float16)
            if same.shape[2] != f:
                raise ValueError(f"{scene_dir}: the guide has {same.shape[2]} latent frames, the latents {f}")
            for t_slot, t in enumerate(ids):
                out[t, j] = same[t_slot].half()
        if progress:
            progress(n + 1, len(by_scene))
    target = folder / PIXEL_GUIDES
    save_safetensors_atomic({"guides": out.contiguous()}, target,
                            {"format": GUIDES_FORMAT, "depth": repr(float(depth)), "fov_deg": repr(float(fov_deg)),
                             "vae": Path(vae_path).name})
    return target


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
    """

    def __init__(self, folder: str | Path, *, pose_reference: str = "first", text_dim: int | None = None,
                 source_camera_dropout: float = 0.0, same_camera_share: float = 0.0,
                 same_camera_withheld: str = "still", pixel_guide: tuple[float, float] | None = None) -> None:
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
        self.guides = None if pixel_guide is None else self._read_guides(folder, *pixel_guide)

    def _read_guides(self, folder: Path, depth: float, fov_deg: float) -> torch.Tensor:
        """The pixel guides of :func:`write_pixel_guides`, checked against what the model reads."""
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
        slots = max(len(ids) for ids in self.by_scene.values())
        if guides.shape[:2] != (len(self), slots) or guides.shape[2:] != self.latents.shape[1:]:
            raise ValueError(f"{folder / PIXEL_GUIDES} holds guides {tuple(guides.shape)}; the latents need "
                             f"{(len(self), slots, *self.latents.shape[1:])}: remake it: {make}")
        return guides

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
            out["pixel_guide"] = self.guides[index, slot].float()
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
