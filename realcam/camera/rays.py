"""Per-token camera rays: what a token of a frame sees, for ``ConditioningConfig.camera_tokens = 'rays'``.

A frame's camera (a relative pose, ``pose12``) and a pinhole field of view give every token of the patch grid
the ray through its centre: direction ``d = R · normalize(x, y, 1)`` and origin ``o = t`` in the reference
camera's frame (OpenCV: x right, y down, z forward). The model reads, per token,

    [ sin(2^k·π/2·d), cos(2^k·π/2·d) for k = 0 … RAY_OCTAVES−1 ]  (Fourier features of the direction)
    [ d, o × d ]                                                      (Plücker coordinates, CameraCtrl)

The Fourier features make "the source token that sees the same direction" something attention can find with
one dot product: for two tokens the sum over features of sin·sin + cos·cos is ``Σ cos(ω(d₁ − d₂))``, sharp at
``d₁ = d₂`` — an additive per-frame pose, turned into a shift of the attended position only through RoPE, is
not (docs/method.md, "Camera tokens").
"""
from __future__ import annotations

import math

import torch

from .poses import as_c2w

RAY_OCTAVES = 5
RAY_DIM = 3 * 2 * RAY_OCTAVES + 6


def token_directions(height: int, width: int, fov_deg: float, *, device=None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Unit ray directions ``[height·width, 3]`` through the centres of a ``height × width`` token grid in the
    camera's own frame; ``fov_deg`` is the horizontal field of view (square pixels)."""
    if not 0 < fov_deg < 180:
        raise ValueError(f"ray_fov_deg must be in (0, 180) degrees, got {fov_deg}")
    tan_x = math.tan(math.radians(fov_deg) / 2)
    tan_y = tan_x * height / width
    ys = ((torch.arange(height, device=device, dtype=torch.float64) + 0.5) / height * 2 - 1) * tan_y
    xs = ((torch.arange(width, device=device, dtype=torch.float64) + 0.5) / width * 2 - 1) * tan_x
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    d = torch.stack([x, y, torch.ones_like(x)], dim=-1).reshape(-1, 3)
    return (d / d.norm(dim=-1, keepdim=True)).to(dtype)


def ray_features(poses: torch.Tensor, height: int, width: int, fov_deg: float) -> torch.Tensor:
    """``poses`` ``[B, F, 12]`` (row-major 3×4 camera-to-reference per frame) → ``[B, F, height·width, RAY_DIM]``."""
    if poses.shape[-1] != 12:
        raise ValueError(f"poses must be [..., 12] (flattened 3x4), got {tuple(poses.shape)}")
    m = poses.float().unflatten(-1, (3, 4))
    rot, origin = m[..., :3], m[..., 3]
    local = token_directions(height, width, fov_deg, device=poses.device)
    d = torch.einsum("bfij,nj->bfni", rot, local)                      # [B, F, N, 3]
    o = origin[:, :, None].expand_as(d)
    freqs = (2.0 ** torch.arange(RAY_OCTAVES, device=poses.device)) * (math.pi / 2)
    angles = (d[..., None] * freqs).flatten(-2)                          # [B, F, N, 3·octaves]
    return torch.cat([angles.sin(), angles.cos(), d, torch.linalg.cross(o, d, dim=-1)], dim=-1).to(poses.dtype)


def reference_positions(poses: torch.Tensor, height: int, width: int, fov_deg: float, depth: float) -> torch.Tensor:
    """Where each token's ray lands in the reference camera's token grid: ``[B, F, height·width, 2]`` (row, column),
    float64, for ``ConditioningConfig.rope_positions = 'rays'``.

    The point ``depth`` metres along the ray through a token's centre (origin ``o`` and direction ``d`` as in
    :func:`ray_features`) is projected by the reference pinhole camera of the same field of view; a camera at the
    reference pose gets back exactly its own grid (row ``i``, column ``j``). For a pure rotation the result does not
    depend on ``depth``; under translation it is exact for scene points at that depth. Points at or behind the
    reference camera's plane are held just in front of it, and positions are clamped to four grids either side so a
    backward-looking camera yields large but finite positions."""
    if poses.shape[-1] != 12:
        raise ValueError(f"poses must be [..., 12] (flattened 3x4), got {tuple(poses.shape)}")
    m = poses.to(torch.float64).unflatten(-1, (3, 4))
    rot, origin = m[..., :3], m[..., 3]
    local = token_directions(height, width, fov_deg, device=poses.device, dtype=torch.float64)
    d = torch.einsum("bfij,nj->bfni", rot, local)
    point = origin[:, :, None] + depth * d                                    # [B, F, N, 3]
    z = point[..., 2].clamp(min=1e-3 * depth)
    tan_x = math.tan(math.radians(fov_deg) / 2)
    tan_y = tan_x * height / width
    col = (point[..., 0] / z / tan_x + 1) * width / 2 - 0.5
    row = (point[..., 1] / z / tan_y + 1) * height / 2 - 0.5
    return torch.stack([row.clamp(-4.0 * height, 5.0 * height), col.clamp(-4.0 * width, 5.0 * width)], dim=-1)


def _backward_warp(images: torch.Tensor, source_c2w: torch.Tensor, target_c2w: torch.Tensor, K: torch.Tensor,
                   z: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """``images`` ``[N, C, H, W]`` seen from ``source_c2w`` ``[N, 4, 4]``, sampled where each pixel of the target
    camera ``target_c2w`` sees the point at depth ``z`` ``[N, H·W, 1]`` along its optical axis (``K``: pixel-corner
    pinhole of the ``H × W`` picture). Bilinear; outside the picture the border is repeated, or with ``padding="zeros"``
    zeros are read there and for points behind the source camera (so a channel of ones marks what the source sees)."""
    import torch.nn.functional as F

    n, _, h, w = images.shape
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=images.device) + 0.5,
                          torch.arange(w, dtype=torch.float64, device=images.device) + 0.5, indexing="ij")
    K = K.to(images.device, torch.float64)
    ray = torch.stack([u, v, torch.ones_like(u)], dim=-1).reshape(-1, 3) @ torch.linalg.inv(K).T     # z = 1
    tgt, src = target_c2w.to(images.device, torch.float64), source_c2w.to(images.device, torch.float64)
    world = (ray[None] * z) @ tgt[:, :3, :3].transpose(1, 2) + tgt[:, None, :3, 3]
    cam = (world - src[:, None, :3, 3]) @ src[:, :3, :3]                     # Rᵀ (p − c), as row vectors
    pix = cam @ K.T
    uv = pix[..., :2] / pix[..., 2:].clamp(min=1e-6)
    grid = torch.stack([uv[..., 0] / w * 2 - 1, uv[..., 1] / h * 2 - 1], dim=-1).reshape(n, h, w, 2)
    if padding == "zeros":                      # behind the source camera: outside its picture
        grid = torch.where((pix[..., 2] > 1e-6).reshape(n, h, w, 1), grid, torch.full_like(grid, 8.0))
    return F.grid_sample(images, grid.to(images.dtype).clamp(-8, 8), mode="bilinear", padding_mode=padding,
                         align_corners=False)


def reproject(frames: torch.Tensor, source_c2w: torch.Tensor, target_c2w: torch.Tensor, K: torch.Tensor,
              depth: float | torch.Tensor) -> torch.Tensor:
    """Frame ``t`` of ``frames`` (``[F, H, W, C]``, seen from ``source_c2w[t]``) as ``target_c2w[t]`` would see it,
    by backward warping: each target pixel's ray is followed to ``depth`` along the optical axis (a plane, or
    ``[F, H, W]`` per pixel, e.g. the renderer's depth), the point is projected into the source camera and the
    source is sampled there (bilinear; outside the frame the border is repeated). ``K`` is the pinhole matrix in
    the pixel-corner convention of ``realcam.data.synth.intrinsics`` (pixel ``j`` spans ``[j, j + 1]``). What the
    source does not see (disocclusion, outside its frame) comes back wrong: this is the geometry-only answer a
    re-rendering model should beat, not a renderer."""
    if frames.ndim != 4 or source_c2w.shape != target_c2w.shape or source_c2w.shape != (frames.shape[0], 4, 4):
        raise ValueError(f"frames [F, H, W, C] with source_c2w and target_c2w [F, 4, 4]: got {tuple(frames.shape)}, "
                         f"{tuple(source_c2w.shape)}, {tuple(target_c2w.shape)}")
    n, h, w, _ = frames.shape
    z = (depth.to(torch.float64).clamp(max=1e6).reshape(n, -1, 1) if torch.is_tensor(depth)
         else torch.full((n, h * w, 1), float(depth), dtype=torch.float64))
    out = _backward_warp(frames.permute(0, 3, 1, 2).float(), source_c2w, target_c2w, K, z.to(frames.device))
    return out.permute(0, 2, 3, 1).to(frames.dtype)


def latent_intrinsics(height: int, width: int, fov_deg: float) -> torch.Tensor:
    """The pinhole matrix of a ``height × width`` grid with horizontal field of view ``fov_deg`` (square pixels,
    principal point at the centre, pixel-corner convention): the camera :func:`token_directions` assumes."""
    f = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
    return torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]], dtype=torch.float64)


def warp_latents(latents: torch.Tensor, source_pose12: torch.Tensor, target_pose12: torch.Tensor, fov_deg: float,
                 depths: tuple[float, ...]) -> torch.Tensor:
    """Source latents ``[B, C, f, h, w]`` reprojected into the target cameras, once per plane depth: ``[B, C·len(depths),
    f, h, w]`` (plane-major channels). Latent frame ``k`` of the source, seen from ``source_pose12[:, k]``, is
    resampled where the target camera ``target_pose12[:, k]`` sees each plane (poses ``[B, f, 12]``, row-major 3×4
    camera-to-reference, the model's cameras; the grid is a pinhole of ``fov_deg`` as :func:`latent_intrinsics`),
    for ``ConditioningConfig.source_warp``."""
    b, c, f, h, w = latents.shape
    if source_pose12.shape != (b, f, 12) or target_pose12.shape != (b, f, 12):
        raise ValueError(f"source and target poses must be [{b}, {f}, 12] for latents {tuple(latents.shape)}, got "
                         f"{tuple(source_pose12.shape)} and {tuple(target_pose12.shape)}")
    images = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w).float()
    src, tgt = (as_c2w(p.reshape(b * f, 3, 4)) for p in (source_pose12, target_pose12))
    K = latent_intrinsics(h, w, fov_deg)
    planes = [_backward_warp(images, src, tgt, K, torch.full((b * f, h * w, 1), float(d), dtype=torch.float64,
                                                             device=latents.device)) for d in depths]
    return torch.cat(planes, dim=1).reshape(b, f, c * len(depths), h, w).permute(0, 2, 1, 3, 4).to(latents.dtype)


def sweep_differences(frames: torch.Tensor, c2w: torch.Tensor, K: torch.Tensor, depth: float | torch.Tensor, *,
                      every: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """What the plane sweep compares (:func:`plane_sweep_depth`): every ``every``-th later frame of ``frames``
    ``[F, 3, H, W]`` in [0, 1] (seen from ``c2w`` ``[F, 4, 4]``; ``K`` the pixel-corner pinhole) warped into frame 0's
    camera through ``depth`` (metres along frame 0's optical axis: a plane, or ``[H, W]`` per pixel). Returns the
    absolute RGB difference against frame 0, summed over channels, and where that frame sees the pixel (1, else 0),
    both ``[L, 1, H, W]`` for the ``L`` later frames, on the frames' device."""
    if frames.ndim != 4 or frames.shape[1] != 3 or c2w.shape != (frames.shape[0], 4, 4):
        raise ValueError(f"frames [F, 3, H, W] with c2w [F, 4, 4]: got {tuple(frames.shape)}, {tuple(c2w.shape)}")
    n, _, h, w = frames.shape
    dev = frames.device                                          # runs where the frames are (a GPU for training data)
    later = torch.arange(every, n, every, device=dev)
    images = torch.cat([frames[later].float(), torch.ones(len(later), 1, h, w, device=dev)], 1)   # ones: seen
    z = (depth.to(dev, torch.float64).reshape(1, h * w, 1).expand(len(later), h * w, 1) if torch.is_tensor(depth)
         else torch.full((len(later), h * w, 1), float(depth), dtype=torch.float64, device=dev))
    c2w = c2w.to(dev)
    warped = _backward_warp(images, c2w[later], c2w[:1].expand(len(later), 4, 4), K, z, padding="zeros")
    return (warped[:, :3] - frames[0].float()).abs().sum(1, keepdim=True), (warped[:, 3:] > 0.999).float()


def nearest_plane(depth: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    """Index of the plane of ``planes`` ``[P]`` nearest each value of ``depth`` in inverse depth (how the plane sweep
    rounds a depth; an infinite depth, the sky, goes to the farthest plane): ``depth``'s shape, long."""
    return (1 / depth.to(planes.dtype)[..., None] - 1 / planes).abs().argmin(-1)


def plane_sweep_depth(frames: torch.Tensor, c2w: torch.Tensor, K: torch.Tensor, planes: tuple[float, ...], *,
                      fallback: float, every: int = 2, window: int = 5, min_spread: float = 0.02,
                      smooth: tuple[float, float] | tuple[()] = ()) -> torch.Tensor:
    """The depth of every pixel of ``frames[0]`` estimated from the camera's own motion (plane-sweep stereo).

    ``frames`` ``[F, 3, H, W]`` in [0, 1] were seen from ``c2w`` ``[F, 4, 4]`` (any common frame; ``K`` the
    pixel-corner pinhole of the ``H × W`` picture). For each depth of ``planes`` every ``every``-th later frame is
    warped into frame 0's camera through the plane at that depth; the cost of a pixel is its mean absolute RGB
    difference (summed over channels) against frame 0, over the frames that see it, averaged over a ``window`` ×
    ``window`` box; the cheapest plane wins. Where the costs of all planes differ by less than ``min_spread`` — the
    camera only turned (every plane warps alike), a plain region, or no later frame sees the pixel — the pixel keeps
    ``fallback``. Returns ``[H, W]`` float64, every value one of ``planes`` or ``fallback``. Memory: the later frames
    warped through one plane at a time (keep ``frames`` small: :func:`realcam.guide.motion_frames`).

    ``smooth`` ``(p1, p2)``: before the cheapest plane is taken, the costs are aggregated semi-globally
    (:func:`semi_global_costs`, penalties ``p1`` for a step to the next plane, ``p2`` for a larger jump, in the cost's
    units): a pixel whose own costs do not tell — a plain region, one the window straddles at an edge — takes the depth
    its neighbours along four directions agree on, where the box alone keeps the fallback or picks noise."""
    import torch.nn.functional as F

    h, w = frames.shape[-2:]
    costs = torch.full((len(planes), h, w), 3.0, device=frames.device)  # 3: the most a pixel can differ (nothing sees it)
    for i, d in enumerate(planes):
        diff, valid = sweep_differences(frames, c2w, K, d, every=every)
        total = (diff * valid).sum(0)
        seen = valid.sum(0)
        cost = torch.where(seen > 0, total / seen.clamp(min=1), torch.full_like(total, 3.0))
        costs[i] = F.avg_pool2d(cost[None], window, 1, window // 2, count_include_pad=False)[0, 0]
    if smooth:
        costs = semi_global_costs(costs, *smooth)
    best = costs.argmin(0)
    spread = costs.max(0).values - costs.min(0).values
    depth = torch.tensor(planes, dtype=torch.float64, device=frames.device)[best]
    return torch.where(spread > min_spread, depth, torch.full_like(depth, float(fallback)))


def semi_global_costs(costs: torch.Tensor, p1: float, p2: float) -> torch.Tensor:
    """Semi-global aggregation (Hirschmüller's SGM) of a plane-sweep cost volume ``costs`` ``[P, H, W]`` (planes in
    order of depth), along the four directions of the pixel grid, averaged. Along a direction ``r`` the path cost is
    ``L(p, d) = C(p, d) + min(L(p − r, d), L(p − r, d ± 1) + p1, min_k L(p − r, k) + p2) − min_k L(p − r, k)``: a
    pixel's depth may step to the next plane for ``p1`` and jump anywhere for ``p2``, so depth follows the image's
    structure across regions whose own costs are flat. Returns ``[P, H, W]`` in the units of ``costs``."""
    if costs.ndim != 3 or not 0 <= p1 <= p2:
        raise ValueError(f"costs [P, H, W] with 0 <= p1 <= p2: got {tuple(costs.shape)}, p1={p1}, p2={p2}")

    def along_rows(c: torch.Tensor) -> torch.Tensor:       # left to right along the last axis of [P, rows, cols]
        out = torch.empty_like(c)
        prev = out[..., 0] = c[..., 0]
        edge = torch.full_like(prev[:1], float("inf"))
        for x in range(1, c.shape[-1]):
            low = prev.min(0).values
            step = torch.minimum(torch.cat([prev[1:], edge]), torch.cat([edge, prev[:-1]])) + p1
            prev = out[..., x] = c[..., x] + torch.minimum(torch.minimum(prev, step), low + p2) - low
        return out

    t = costs.transpose(1, 2)
    total = along_rows(costs) + along_rows(costs.flip(2)).flip(2)
    total = total + (along_rows(t) + along_rows(t.flip(2)).flip(2)).transpose(1, 2)
    return total / 4


def layered_reproject(image: torch.Tensor, depth: torch.Tensor, target_c2w: torch.Tensor, K: torch.Tensor, *,
                      fallback: float) -> torch.Tensor:
    """``image`` ``[B, C, H, W]``, seen from the reference camera (the identity) with per-pixel ``depth`` ``[B, H, W]``,
    as each camera of ``target_c2w`` ``[B, f, 4, 4]`` sees it: ``[B, C, f, H, W]``.

    The picture is cut into layers, one per depth value, and each layer is reprojected through its plane — the plane
    ``depth`` metres ahead of the reference camera, where the depth was measured (:func:`plane_sweep_depth`), met by
    each target pixel's ray wherever the target camera stands — and laid over the farther ones (a multi-plane image:
    exact for scenes made of such planes, right in parallax wherever the depth is: :func:`reproject_layers`); what no
    layer covers — uncovered background, outside the first view, a plane the ray meets behind the camera — is the whole
    picture reprojected through the plane at ``fallback`` ahead of each target camera (:func:`plane_views`: as
    :func:`reproject` with that depth, its border repeated: the one-plane guide)."""
    layers, cover = reproject_layers(image, depth, target_c2w, K)
    return layers + (1 - cover) * plane_views(image, target_c2w, K, fallback)


def reproject_layers(image: torch.Tensor, depth: torch.Tensor, target_c2w: torch.Tensor,
                     K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The layers of :func:`layered_reproject` alone: ``image`` ``[B, C, H, W]`` cut by its ``depth`` ``[B, H, W]``
    (one layer per value, at most 64) and each layer reprojected through its plane into the cameras ``target_c2w``
    ``[B, f, 4, 4]``, nearer over farther. Returns the picture they make, premultiplied (black where nothing covers),
    ``[B, C, f, H, W]``, and how much of each target pixel they cover, ``[B, 1, f, H, W]`` in [0, 1]: a picture laid
    under them shows through by ``1 − cover``."""
    b, c, h, w = image.shape
    f = target_c2w.shape[1]
    if depth.shape != (b, h, w) or target_c2w.shape != (b, f, 4, 4):
        raise ValueError(f"image [B, C, H, W] with depth [B, H, W] and target_c2w [B, f, 4, 4]: got {tuple(image.shape)}, "
                         f"{tuple(depth.shape)}, {tuple(target_c2w.shape)}")
    values = sorted({float(v) for v in depth.unique()}, reverse=True)                      # far to near
    if len(values) > 64:
        raise ValueError(f"depth holds {len(values)} distinct values; layered_reproject draws one layer per value: "
                         "quantise it to at most 64 planes (plane_sweep_depth gives one of its planes per pixel)")
    tgt = target_c2w.reshape(b * f, 4, 4)
    eye = torch.eye(4, dtype=torch.float64, device=image.device).expand(b * f, 4, 4)
    pic = image.float().repeat_interleave(f, dim=0)                                        # [B·f, C, H, W]
    full = lambda d: torch.full((b * f, h * w, 1), float(d), dtype=torch.float64, device=image.device)  # noqa: E731
    out = torch.zeros_like(pic)
    cover = torch.zeros(b * f, 1, h, w, dtype=pic.dtype, device=image.device)
    mask_of = depth.repeat_interleave(f, dim=0)[:, None]
    # a target pixel's ray r (camera frame, z = 1) meets the reference plane Z = d at target depth (d − o_z) / (R r)_z
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=image.device) + 0.5,
                          torch.arange(w, dtype=torch.float64, device=image.device) + 0.5, indexing="ij")
    rays = torch.stack([u, v, torch.ones_like(u)], -1).reshape(-1, 3) @ torch.linalg.inv(K.to(image.device, torch.float64)).T
    along = (rays @ tgt[:, 2, :3].to(image.device, torch.float64).T).T[..., None]           # (R r)_z: [B·f, H·W, 1]
    ahead = tgt[:, None, 2:3, 3].to(image.device, torch.float64)                              # o_z: [B·f, 1, 1]
    for d in values:
        z = (d - ahead) / along.clamp(min=1e-9)
        meets = ((along > 1e-9) & (z > 0)).to(pic.dtype).reshape(b * f, 1, h, w)
        alpha = (mask_of == d).to(pic.dtype)
        layer = _backward_warp(torch.cat([pic * alpha, alpha], 1), eye, tgt, K, torch.where(z > 0, z, full(d)),
                               padding="zeros") * meets
        a = layer[:, c:].clamp(0, 1)
        out = layer[:, :c] + (1 - a) * out                                                 # premultiplied "over"
        cover = a + (1 - a) * cover
    per_view = lambda x: x.reshape(b, f, x.shape[1], h, w).permute(0, 2, 1, 3, 4)         # noqa: E731
    return per_view(out), per_view(cover)


def plane_views(image: torch.Tensor, target_c2w: torch.Tensor, K: torch.Tensor, depth: float) -> torch.Tensor:
    """``image`` ``[B, C, H, W]`` seen from the reference camera, as each camera of ``target_c2w`` ``[B, f, 4, 4]`` sees
    it through the plane ``depth`` metres ahead of that camera (its border repeated), ``[B, C, f, H, W]``: what
    :func:`layered_reproject` shows where no layer covers."""
    b, c, h, w = image.shape
    f = target_c2w.shape[1]
    eye = torch.eye(4, dtype=torch.float64, device=image.device).expand(b * f, 4, 4)
    z = torch.full((b * f, h * w, 1), float(depth), dtype=torch.float64, device=image.device)
    out = _backward_warp(image.float().repeat_interleave(f, dim=0), eye, target_c2w.reshape(b * f, 4, 4), K, z)
    return out.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)
