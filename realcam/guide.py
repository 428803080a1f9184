"""The guide built from the source's pixels (``ConditioningConfig.pixel_guide_depth``).

The source's first video frame, reprojected on pixels from the reference camera (where the source and the
target path start) into every target camera through a plane, then encoded by the VAE: a guide that keeps the
picture's detail, where resampling latents (``source_warp``) blurs it (docs/results.md, "What limits the tiny
model"). The DiT never sees a VAE, so the guide is made here, by whoever holds the VAE: the pipeline at render
time, ``python -m realcam pixel-guides`` for training data.

Latent frame ``k`` of the guide is the VAE's encoding of the picture seen from target camera ``k``, held for the
video frames that latent frame covers: four for the tiny (TAEHV) encoder, whose latent ``k`` covers frames
``4k..4k+3``; one for latent 0 of a causal Wan VAE, then four. A stream encodes it chunk by chunk with the VAE's
own encode stream, so a streamed guide is the whole-path guide cut into chunks, and the camera can change before
every chunk.

With ``ConditioningConfig.pixel_guide_sweep`` and the source's own camera path, the first frame is reprojected through
a depth per pixel instead of the one plane: the depth the source's motion shows (:func:`guide_depth`) — or, with
``pixel_guide_depth_net``, with or without the path, the depth the checkpoint's network reads from the frame itself
(:class:`realcam.model.depth_net.DepthNet`) — layer by layer
(:func:`realcam.camera.rays.layered_reproject`); with ``pixel_guide_sweep_smooth`` that depth follows the picture
across plain regions and edges (the sweep's costs aggregated semi-globally). With ``pixel_guide_views: nearest`` each
latent frame is drawn from the first frame or from the source frame that latent frame starts at, whichever was filmed
nearer its target camera (:class:`SourceKeys`, :func:`nearest_views`). With ``pixel_guide_agreement`` too, where those
two frames' reprojections agree the gate's share is taken more strongly (:func:`view_agreement`,
:meth:`PixelGuide.strengths`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .camera.poses import as_c2w
from .camera.rays import (latent_intrinsics, layered_reproject, plane_sweep_depth, plane_views, reproject_layers,
                          warp_latents)
from .vae import VideoVAE

TIME_STRIDE = 4     # video frames per latent frame (both VAE families)
SWEEP_SIZE = 128    # the depth of a larger first frame is estimated on frames resized to this longer side
SWEEP_FRAMES = 81   # ... and from the source's first frames only (those that see most of what the first one sees)
SAME_TIME_REACH = 8  # a later source frame's depth (pixel_guide_views nearest) is swept from the frames this near it
AGREE = 0.05        # mean absolute RGB difference under which two source frames' reprojections agree (pixel_guide_agreement)


def latent_starts(frames: int, tiny: bool) -> list[int]:
    """The video frame each latent frame of a ``frames``-frame video starts at: ``4k`` for the tiny (TAEHV) VAE,
    frame 0 and then ``4k − 3`` for a causal Wan VAE (latent 0 holds frame 0 alone)."""
    return [k * TIME_STRIDE - (0 if tiny or k == 0 else TIME_STRIDE - 1)
            for k in range(len(range(0, frames, TIME_STRIDE)) if tiny else (frames - 1) // TIME_STRIDE + 1)]


@dataclass
class SourceKeys:
    """The source frames a ``pixel_guide_views: nearest`` guide is drawn from, one per latent frame of the source
    (key ``k``: the video frame latent ``k`` starts at, :func:`latent_starts`; key 0 is the first frame, whose own
    guide the others are weighed against)."""

    pictures: torch.Tensor      # [B, K, 3, H, W] in [0, 1], as the VAE encodes the source
    depths: torch.Tensor        # [B, K, H, W] float64: each key's depth from the source's motion (key_depths)
    c2w: torch.Tensor           # [B, K, 4, 4] float64: each key's camera relative to the reference (key 0: identity)

    def __post_init__(self) -> None:
        b, k = self.pictures.shape[:2]
        h, w = self.pictures.shape[-2:]
        if self.pictures.ndim != 5 or self.pictures.shape[2] != 3 or self.depths.shape != (b, k, h, w) or (
                self.c2w.shape != (b, k, 4, 4)):
            raise ValueError(f"source keys: pictures [B, K, 3, H, W] with depths [B, K, H, W] and c2w [B, K, 4, 4], got "
                             f"{tuple(self.pictures.shape)}, {tuple(self.depths.shape)}, {tuple(self.c2w.shape)}")


def motion_frames(frames: torch.Tensor) -> torch.Tensor:
    """What :func:`guide_depth` keeps of a source video ``[B, 3, F, H, W]`` in [0, 1] (batch element 0): its frames
    resized to at most :data:`SWEEP_SIZE` on the longer side, as bytes ``[F, 3, h, w]`` on the CPU (a 1080p video
    of 81 frames keeps 2.2 MB)."""
    import torch.nn.functional as F

    video = frames[0].detach().float().cpu().permute(1, 0, 2, 3)                      # [F, 3, H, W]
    h, w = video.shape[-2:]
    scale = min(1.0, SWEEP_SIZE / max(h, w))
    if scale < 1:
        video = F.interpolate(video, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")
    return (video.clamp(0, 1) * 255).round().to(torch.uint8)


def key_frames(frames: torch.Tensor, tiny: bool) -> torch.Tensor:
    """The frames of a video ``[B, 3, F, H, W]`` in [0, 1] (batch element 0) that its latent frames start at
    (:func:`latent_starts`), as bytes ``[K, 3, H, W]`` on the CPU: what a ``pixel_guide_views: nearest`` guide is
    drawn from besides the first frame."""
    picked = frames[0, :, latent_starts(frames.shape[2], tiny)].detach().float().cpu().permute(1, 0, 2, 3)
    return (picked.clamp(0, 1) * 255).round().to(torch.uint8)


def guide_depth(frames: torch.Tensor, source_pose12: torch.Tensor, *, fov_deg: float, planes: tuple[float, ...],
                fallback: float, size: tuple[int, int], device: torch.device | str = "cpu",
                smooth: tuple[float, ...] = ()) -> torch.Tensor:
    """The depth of every pixel of the source's first frame as its own motion shows it, ``[1, H, W]`` for a first
    frame of ``size`` ``(H, W)``: :func:`realcam.camera.rays.plane_sweep_depth` over ``planes`` on ``frames``
    (:func:`motion_frames`; the first :data:`SWEEP_FRAMES`) filmed along ``source_pose12`` ``[F, 12]`` (relative to
    the first camera, the model's cameras), ``fallback`` where the motion does not tell, its costs aggregated
    semi-globally with the penalties ``smooth`` when given (``pixel_guide_sweep_smooth``); nearest-resized to ``size``;
    computed on ``device`` (the CPU at render time; ``synth-latents`` uses its own), returned on the CPU."""
    import torch.nn.functional as F

    if source_pose12.ndim != 2 or source_pose12.shape != (frames.shape[0], 12):
        raise ValueError(f"the source's path must give one pose per source frame: {frames.shape[0]} frames, poses "
                         f"{tuple(source_pose12.shape)}")
    frames, source_pose12 = frames[:SWEEP_FRAMES], source_pose12[:SWEEP_FRAMES]
    h, w = frames.shape[-2:]
    c2w = as_c2w(source_pose12.detach().cpu().to(torch.float64).reshape(-1, 3, 4))
    depth = plane_sweep_depth(frames.to(device).float() / 255, c2w, latent_intrinsics(h, w, fov_deg), planes,
                              fallback=fallback, smooth=tuple(smooth))
    return F.interpolate(depth[None, None], size=size, mode="nearest")[0].cpu()


def key_depths(frames: torch.Tensor, source_pose12: torch.Tensor, starts: list[int], *, fov_deg: float,
               planes: tuple[float, ...], fallback: float, size: tuple[int, int], device: torch.device | str = "cpu",
               smooth: tuple[float, ...] = ()) -> torch.Tensor:
    """The depth of each later source frame of ``starts`` (frame 0's is :func:`guide_depth`'s) as the source's motion
    shows it, ``[K, H, W]`` for frames of ``size``: the sweep of :func:`guide_depth` with that frame as the reference,
    from the source frames within :data:`SAME_TIME_REACH` of it (before and after). ``frames``
    (:func:`motion_frames`) and ``source_pose12`` ``[F, 12]`` as for :func:`guide_depth`."""
    import torch.nn.functional as F

    if source_pose12.shape != (frames.shape[0], 12):
        raise ValueError(f"the source's path must give one pose per source frame: {frames.shape[0]} frames, poses "
                         f"{tuple(source_pose12.shape)}")
    if any(not 0 < s < frames.shape[0] for s in starts):
        raise ValueError(f"key frames {starts} must be later frames of the source's {frames.shape[0]}")
    c2w = as_c2w(source_pose12.detach().cpu().to(torch.float64).reshape(-1, 3, 4))
    h, w = frames.shape[-2:]
    out = [torch.empty(0, *size, dtype=torch.float64)]
    for s in starts:
        near = [s] + [j for j in range(max(0, s - SAME_TIME_REACH), min(frames.shape[0], s + SAME_TIME_REACH + 1))
                      if j != s]
        depth = plane_sweep_depth(frames[near].to(device).float() / 255, c2w[near], latent_intrinsics(h, w, fov_deg),
                                  planes, fallback=fallback, every=1, smooth=tuple(smooth))
        out.append(F.interpolate(depth[None, None], size=size, mode="nearest")[0].cpu())
    return torch.cat(out)


def nearest_views(first: torch.Tensor, depth: torch.Tensor, keys: SourceKeys, target_c2w: torch.Tensor, start: int,
                  K: torch.Tensor, *, fallback: float, agreement: bool = False):
    """The ``pixel_guide_views: nearest`` guide, ``[B, C, f, H, W]``: ``first`` ``[B, C, H, W]`` (the reference
    camera's picture, per-pixel ``depth`` ``[B, H, W]``) and the key frames of ``keys``, for latent frames
    ``start .. start + f − 1`` seen from ``target_c2w`` ``[B, f, 4, 4]`` (relative to the reference camera).

    Latent frame ``k`` is drawn from key ``k`` (the last key past the source's end) or from the first frame, whichever
    camera stands nearer the target camera (the first frame when as near): its layers
    (:func:`realcam.camera.rays.reproject_layers`) over the other one's, over the first frame through the plane at
    ``fallback`` — where neither covers, what :func:`realcam.camera.rays.layered_reproject` shows there.

    ``agreement``: also return where the two views agree, as :func:`view_agreement` does: ``(views, agree, second)``."""
    layers, cover = reproject_layers(first, depth, target_c2w, K)
    plane = plane_views(first, target_c2w, K, fallback)
    views = layers + (1 - cover) * plane                                        # the first frame's guide
    b, f = target_c2w.shape[:2]
    agree = torch.zeros(b, f, *first.shape[-2:], dtype=torch.float32, device=first.device)
    second = torch.zeros(f, dtype=torch.bool)
    last = keys.c2w.shape[1] - 1
    for j in range(f):
        k = min(start + j, last)
        if k == 0:
            continue
        target = target_c2w[:, j]                                               # [B, 4, 4]
        rel = torch.linalg.solve(keys.c2w[:, k], target)                        # the target seen from key k's camera
        own, own_cover = reproject_layers(keys.pictures[:, k], keys.depths[:, k], rel[:, None], K)
        own, own_cover = own[:, :, 0], own_cover[:, :, 0]
        key_first = own + (1 - own_cover) * views[:, :, j]
        first_key = layers[:, :, j] + (1 - cover[:, :, j]) * (own + (1 - own_cover) * plane[:, :, j])
        nearer = ((target[:, :3, 3] - keys.c2w[:, k, :3, 3]).norm(dim=-1) < target[:, :3, 3].norm(dim=-1))
        views[:, :, j] = torch.where(nearer.reshape(-1, 1, 1, 1), key_first, first_key)
        close = (layers[:, :, j] - own).abs().mean(1) < AGREE
        agree[:, j] = ((cover[:, 0, j] > 0.5) & (own_cover[:, 0] > 0.5) & close).float()
        second[j] = True
    return (views, agree, second) if agreement else views


def view_agreement(first: torch.Tensor, depth: torch.Tensor, keys: SourceKeys, target_c2w: torch.Tensor,
                   start: int, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the two source frames a ``pixel_guide_views: nearest`` guide is drawn from tell the same story: for latent
    frames ``start .. start + f − 1`` seen from ``target_c2w`` ``[B, f, 4, 4]``, ``agree`` ``[B, f, H, W]`` is 1 where the
    first frame (``first`` ``[B, C, H, W]`` through ``depth`` ``[B, H, W]``) and key ``k`` of ``keys`` (the frame latent
    frame ``k`` starts at, as :func:`nearest_views` picks it) both reproject onto the pixel and differ there by less
    than ``AGREE`` in mean absolute RGB, else 0. Two views that agree were drawn through a depth both their cameras
    confirm, so the guide is likely right there (docs/results.md, "World v2: where the guide's two views agree").
    ``second`` ``[f]`` bool: whether latent frame ``start + j`` has a second view (latent frame 0 has only the first
    frame; its ``agree`` is 0)."""
    _, agree, second = nearest_views(first, depth, keys, target_c2w, start, K, fallback=1.0, agreement=True)
    return agree, second


class PixelGuide:
    """``first_frame`` ``[B, 3, H, W]`` in [0, 1] (the source's first frame as the VAE encodes it), reprojected into
    target cameras through the plane ``depth`` metres ahead (pinhole of ``fov_deg``) and encoded by ``vae``.
    ``swept``: whether the guide is drawn through a depth map that decided something (the sweep on the source's path
    found depth somewhere, or the model's depth network read one; a map at the plane everywhere — a source that only
    turned — is the one-plane guide): where ``conditioning.pixel_guide_strength`` acts."""

    def __init__(self, vae: VideoVAE, first_frame: torch.Tensor, *, fov_deg: float, depth: float,
                 depth_map: torch.Tensor | None = None, keys: SourceKeys | None = None) -> None:
        if not vae.can_encode:
            raise ValueError("this model reads a guide made from the source's pixels (pixel_guide_depth), which the "
                             "VAE encodes: load a VAE with an encoder (the tiny one with its encoder, or Wan's)")
        if first_frame.ndim != 4 or first_frame.shape[1] != 3:
            raise ValueError(f"first_frame must be [B, 3, H, W], got {tuple(first_frame.shape)}")
        if depth_map is not None and depth_map.shape != (first_frame.shape[0], *first_frame.shape[-2:]):
            raise ValueError(f"depth_map must be [B, H, W] like first_frame {tuple(first_frame.shape)}, "
                             f"got {tuple(depth_map.shape)}")
        self.vae, self.fov_deg, self.depth = vae, float(fov_deg), float(depth)
        self.first_frame = first_frame.to(vae.device, vae.dtype)
        # per-pixel depth of the first frame (pixel_guide_sweep with the source's path), else the one plane; a map at
        # the plane's depth everywhere (a source that did not move) is the one-plane guide, made exactly as such
        if depth_map is not None and bool((depth_map == float(depth)).all()):
            depth_map = None
        self.depth_map = None if depth_map is None else depth_map.to(vae.device, torch.float64)
        self.swept = self.depth_map is not None
        if keys is not None and (keys.pictures.shape[0] != first_frame.shape[0]
                                 or keys.pictures.shape[-2:] != first_frame.shape[-2:]):
            raise ValueError("source keys (pixel_guide_views nearest): one set per first frame, of its size "
                             f"{tuple(first_frame.shape[-2:])}, got {tuple(keys.pictures.shape)}")
        # the later source frames a nearest-view guide may be drawn from (with the first frame's own depth map; a
        # source whose motion decided nothing keeps the one-plane guide)
        self.keys = None if keys is None or self.depth_map is None else SourceKeys(
            keys.pictures.to(vae.device, torch.float32), keys.depths.to(vae.device, torch.float64),
            keys.c2w.to(vae.device, torch.float64))
        self._stream = None
        self._next = 0          # the next latent frame the stream encodes
        self._drawn = None      # (start, cameras, agree, second) of the nearer-frame guide drawn last

    @classmethod
    def for_model(cls, model, vae: VideoVAE | None, first_frame: torch.Tensor | None, *,
                  source_frames: torch.Tensor | None = None, source_pose12: torch.Tensor | None = None,
                  key_frames: torch.Tensor | None = None) -> PixelGuide | None:
        """The guide ``model`` reads (None for a model without ``pixel_guide_depth``); a clear error when the
        VAE or the source's first frame is missing. With ``pixel_guide_sweep``, ``source_frames``
        (:func:`motion_frames`) and the source's path ``source_pose12`` ``[F, 12]`` (one pose per frame), the first
        frame is reprojected through the depth its motion shows; without either, through the one plane. With
        ``pixel_guide_depth_net`` it is reprojected through the depth the model's network reads from each first frame
        itself, path or none. With ``pixel_guide_views: nearest`` and the path, ``key_frames`` (the video frames each
        latent frame starts at, :func:`latent_starts`, as bytes ``[K, 3, H, W]`` of the first frame's size) are the
        later frames it may be drawn from (through the sweep's depth of each, or the network's)."""
        cond = model.conditioning
        if not cond.pixel_guide_depth:
            return None
        if vae is None or first_frame is None:
            raise ValueError(f"{model.cfg.name} reads the source's first frame reprojected on pixels and encoded "
                             "(pixel_guide_depth): encode the source with a VAE that has an encoder (RealCam Encode "
                             "Source / encode_video), so the source keeps its first frame and the VAE")
        depth_map = None
        net = getattr(model, "depth_net", None)
        # the source's path, where it moved: a still one shows no depth and no other view (as a withheld one)
        path = source_frames is not None and source_pose12 is not None and not torch.allclose(
            source_pose12, torch.eye(3, 4, dtype=source_pose12.dtype, device=source_pose12.device).flatten(),
            rtol=0, atol=1e-9)
        if net is not None:         # pixel_guide_depth_net: each first frame's depth from itself, path or none
            depth_map = net.depth(first_frame)
        elif cond.pixel_guide_sweep and path:
            depth_map = guide_depth(source_frames, source_pose12, fov_deg=cond.ray_fov_deg, planes=cond.pixel_guide_sweep,
                                    fallback=cond.pixel_guide_depth, size=tuple(first_frame.shape[-2:]),
                                    smooth=cond.pixel_guide_sweep_smooth)
            depth_map = depth_map.expand(first_frame.shape[0], -1, -1)
        keys = None
        if depth_map is not None and path and cond.pixel_guide_views == "nearest":
            if key_frames is None or key_frames.ndim != 4 or key_frames.shape[1:] != first_frame.shape[1:]:
                raise ValueError(f"{model.cfg.name} draws its guide from the source frame nearest each target camera "
                                 "(pixel_guide_views nearest), which needs the source's frames at its latent frames "
                                 "(RealCam Encode Source / encode_video keeps them)")
            starts = latent_starts(source_frames.shape[0], vae.tiny)[:key_frames.shape[0]]
            if net is not None:
                later = net.depth(key_frames[1:len(starts)], tuple(first_frame.shape[-2:]))
            else:
                later = key_depths(source_frames, source_pose12, starts[1:], fov_deg=cond.ray_fov_deg,
                                   planes=cond.pixel_guide_sweep, fallback=cond.pixel_guide_depth,
                                   size=tuple(first_frame.shape[-2:]), smooth=cond.pixel_guide_sweep_smooth)
            depths = torch.cat([depth_map[:1].to(torch.float64), later])
            c2w = as_c2w(source_pose12.detach().cpu().to(torch.float64)[starts].reshape(-1, 3, 4))
            b = first_frame.shape[0]
            keys = SourceKeys(key_frames[:len(starts)].float()[None].expand(b, -1, -1, -1, -1) / 255,
                              depths[None].expand(b, -1, -1, -1), c2w[None].expand(b, -1, -1, -1))
        return cls(vae, first_frame, fov_deg=cond.ray_fov_deg, depth=cond.pixel_guide_depth, depth_map=depth_map,
                   keys=keys)

    def _cameras(self, target_pose12: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Target cameras ``[B, n, 4, 4]`` and the first frame's pixel intrinsics."""
        target = target_pose12.to(self.vae.device)
        b, f = target.shape[:2]
        h, w = self.first_frame.shape[-2:]
        return (as_c2w(target.reshape(b * f, 3, 4)).reshape(b, f, 4, 4).to(self.first_frame.device),
                latent_intrinsics(h, w, self.fov_deg))

    def strengths(self, target_pose12: torch.Tensor, start: int, size: tuple[int, int], strength: float,
                  agreement: float) -> torch.Tensor | None:
        """``conditioning.pixel_guide_agreement`` A: the strength of the gate's share per latent value of latent frames
        ``start ..`` (``target_pose12`` ``[B, n, 12]``), ``[B, 1, n, h, w]`` at the latent ``size``. Where a latent frame
        has a second view, ``1 + (A − 1)·a``, ``a`` the share of the latent cell's pixels where the guide's two views
        agree (:func:`view_agreement`): the gate as trained where they disagree or only one reaches, up to A where
        they agree; at latent frames with one view (the first), ``strength`` (the checkpoint's
        ``pixel_guide_strength``). None without a second view to compare (a guide drawn from the first frame alone,
        or through the one plane) or with A = 0: the strength stays the one number."""
        import torch.nn.functional as F

        if not agreement or self.keys is None:
            return None
        c2w, K = self._cameras(target_pose12)
        drawn = self._drawn
        if drawn is not None and drawn[0] == start and drawn[1].shape == c2w.shape and torch.equal(drawn[1], c2w):
            agree, second = drawn[2], drawn[3]              # the guide just drawn for these cameras: no second pass
        else:
            agree, second = view_agreement(self.first_frame.float(), self.depth_map, self.keys, c2w, start, K)
        cell = F.adaptive_avg_pool2d(agree, size)[:, None]                      # [B, 1, n, h, w]
        raised = 1 + (agreement - 1) * cell
        return torch.where(second.to(cell.device)[None, None, :, None, None], raised, torch.full_like(cell, strength))

    def video(self, target_pose12: torch.Tensor, start: int = 0) -> torch.Tensor:
        """The guide's video frames ``[B, 3, T, H, W]`` for latent frames ``start, start + 1, …`` of
        ``target_pose12`` ``[B, n, 12]``: each reprojection held for the frames its latent covers."""
        target = target_pose12.to(self.vae.device)
        b, f = target.shape[:2]
        if self.depth_map is not None:
            c2w, K = self._cameras(target_pose12)
            if self.keys is None:
                views = layered_reproject(self.first_frame, self.depth_map, c2w, K, fallback=self.depth)
            else:   # where its two views agree comes with the drawing, kept for strengths() of the same cameras
                views, agree, second = nearest_views(self.first_frame.float(), self.depth_map, self.keys, c2w, start, K,
                                                     fallback=self.depth, agreement=True)
                self._drawn = (start, c2w, agree, second)
        else:
            reference = torch.eye(3, 4, dtype=target.dtype, device=target.device).flatten().expand(b, f, 12)
            views = warp_latents(self.first_frame[:, :, None].expand(-1, -1, f, -1, -1), reference, target, self.fov_deg,
                                 (self.depth,))     # the same reprojection as on latents, on the pixel grid
        repeats = torch.full((views.shape[2],), TIME_STRIDE, device=views.device)
        if start == 0 and not self.vae.tiny:
            repeats[0] = 1          # a causal Wan VAE encodes frame 0 alone
        return views.repeat_interleave(repeats, dim=2).to(self.vae.dtype)

    @torch.no_grad()
    def encode(self, target_pose12: torch.Tensor) -> torch.Tensor:
        """Guide latents ``[B, C, f, h, w]`` for the whole path ``target_pose12`` ``[B, f, 12]``."""
        return self.vae.encode(self.video(target_pose12)).float()

    def restart(self) -> None:
        """Start the stream again at latent frame 0 (a session reset)."""
        self._stream, self._next, self._drawn = None, 0, None

    @torch.no_grad()
    def for_chunk(self, start: int, target_pose12: torch.Tensor) -> torch.Tensor:
        """Guide latents of latent frames ``start .. start + n − 1`` (``target_pose12`` ``[B, n, 12]``), encoded
        with the VAE's encode stream: chunks must come in order, each once."""
        if start != self._next:
            raise ValueError(f"the pixel guide is encoded as a stream: expected latent frame {self._next}, got {start}")
        if self._stream is None:
            self._stream = self.vae.encode_stream()
        out = self._stream.push(self.video(target_pose12, start))
        n = target_pose12.shape[1]
        if out.shape[2] != n:
            raise RuntimeError(f"internal: the encode stream returned {out.shape[2]} latent frames for {n}")
        self._next += n
        return out.float()


class GuideLatents:
    """A guide already encoded for the whole clip ``[B, C, f, h, w]`` (training data: ``LatentPairs``), served
    chunk by chunk like :class:`PixelGuide`."""

    def __init__(self, latents: torch.Tensor) -> None:
        if latents.ndim != 5:
            raise ValueError(f"guide latents must be [B, C, f, h, w], got {tuple(latents.shape)}")
        self.latents = latents

    def restart(self) -> None:
        """Nothing to do: the guide is already encoded."""

    def for_chunk(self, start: int, target_pose12: torch.Tensor) -> torch.Tensor:
        n = target_pose12.shape[1]
        if start + n > self.latents.shape[2]:
            raise ValueError(f"the guide holds {self.latents.shape[2]} latent frames; chunk needs {start}..{start + n - 1}")
        return self.latents[:, :, start:start + n]
