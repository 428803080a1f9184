"""The causal student's streaming session: one chunk of target latents per ``step()``.

Per chunk i (docs/method.md, "Student"):

1. read the camera (so it can change between chunks) and the source latents of chunk i;
2. for each warped timestep: predict the target velocity of ``[z_s^i, x]`` against the KV cache, take
   ``x0 = x − σ·v``, re-noise ``x0`` with fresh noise to the next level;
3. one more forward at ``t = context_noise`` on ``[z_s^i, x̂0]`` writes the chunk into the cache.

Training's self-rollout (:meth:`StreamingSession.rollout`, Self-Forcing DMD) runs the same
:meth:`~StreamingSession.denoise_chunk` and cache-writing pass as inference. Streams are interleaved
sequences; prefix conditioning has no causal chunks and is refused.
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass

import torch

from ..camera import pose12, relative_poses
from ..config import StreamingConfig
from ..model import RealCamDiT, SequenceLayout, TokenGrid
from ..seeding import seed_generator
from ..model.kv_cache import KVCache
from ..model.rope import Rope
from .schedules import renoise, to_x0, warp_timesteps


class EndOfSource(RuntimeError):
    """The source video has no latent frames for the next chunk (yet)."""


@dataclass
class ChunkResult:
    """One generated chunk."""

    index: int
    latents: torch.Tensor          # target latents [B, C, chunk, h, w]
    first_latent_frame: int
    wall_time_s: float
    cache_tokens: int              # allocated tokens per block (constant)
    cache_chunks: list[int]        # which chunks the cache held while this one was generated
    cache_bytes: int


@dataclass
class Denoised:
    """A chunk's few-step denoising: ``clean`` after the last step; ``exit`` the x0 predicted at the
    gradient-keeping step (training) or None."""

    clean: torch.Tensor
    exit: torch.Tensor | None = None


@dataclass
class Rollout:
    """A self-rollout over several chunks (training): per-chunk exit x0s with their graph, and the
    clean chunks that were written to the cache, both ``[B, C, chunks·chunk, h, w]``."""

    exit: torch.Tensor
    clean: torch.Tensor


@dataclass
class _Retained:
    source: torch.Tensor
    target: torch.Tensor


@dataclass
class SessionStats:
    """Running counters of a session: constant size however long it streams (the chunks themselves go
    to the caller, which decides what to keep)."""

    chunks: int = 0
    total_time_s: float = 0.0
    last_time_s: float = 0.0

    def add(self, result: ChunkResult) -> None:
        self.chunks += 1
        self.total_time_s += result.wall_time_s
        self.last_time_s = result.wall_time_s

    @property
    def mean_time_s(self) -> float:
        return self.total_time_s / self.chunks if self.chunks else 0.0


class StreamingSession:
    """Streams target latents chunk by chunk with a sink + rolling-window KV cache.

    ``context``: umT5 context ``[B, L, text_dim]`` (cross-attention K/V are computed once here).
    ``source``: source latents ``[B, C, f, h, w]`` given up front, or None and :meth:`push_source` as
    they arrive. ``camera``: absolute camera-to-world poses, one per latent frame (``[N, 3|4, 4]``),
    or None for no camera; :meth:`set_camera` changes future poses between chunks. ``pose12``
    (training): per-sample relative target poses ``[B, f, 12]`` as the data pipeline computes them,
    used instead of ``camera``. ``source_pose12``: the source's own cameras relative to its first one,
    ``[B, f, 12]``, when known, for a model conditioned on them (``conditioning.source_cameras``; held at the
    last one past its end). ``pixel_guide``: for a model with ``conditioning.pixel_guide_depth``, what makes each
    chunk's guide from its target cameras (:class:`realcam.guide.PixelGuide`, which encodes as the stream goes, or
    :class:`realcam.guide.GuideLatents`, already encoded); a gated model takes its share of a guide drawn through
    the swept depth at the checkpoint's ``pixel_guide_strength`` (:meth:`RealCamDiT.guide_strength`; training's
    already-encoded guides at 1), and with ``pixel_guide_agreement`` more of it where its two views agree
    (:meth:`realcam.guide.PixelGuide.strengths`).
    """

    def __init__(self, model: RealCamDiT, context: torch.Tensor, *, config: StreamingConfig | None = None,
                 source: torch.Tensor | None = None, camera: torch.Tensor | None = None, seed: int = 0,
                 latent_size: tuple[int, int] | None = None, pose12: torch.Tensor | None = None,
                 source_pose12: torch.Tensor | None = None, pixel_guide=None,
                 compile: bool = False, cuda_graphs: bool = False) -> None:
        if model.conditioning.mode != "interleave":
            raise ValueError("streaming needs interleave conditioning; a prefix (ReCamMaster) model can only run "
                             "the bidirectional teacher sampler")
        self.model = model
        # the network each chunk runs: torch.compile'd on request (fixed shapes: one graph per chunk position
        # until the cache is full); cuda_graphs compiles in reduce-overhead mode, whose CUDA graphs PyTorch skipped
        # on an H200 because the step writes its KV cache in place (docs/benchmarks.md): static cache inputs would fix it
        self._net = model
        if compile or cuda_graphs:
            if cuda_graphs and model.device.type != "cuda":
                raise ValueError("cuda_graphs needs the model on a CUDA device")
            self._net = torch.compile(model, dynamic=False, mode="reduce-overhead" if cuda_graphs else None)
        self.config = config or model.streaming
        self._initial_config = self.config
        seed_generator(seed)              # a clear error for a seed that is not a whole number, before any work
        self.seed = seed
        self.batch = context.shape[0]
        self._context = context.to(model.device)
        with torch.no_grad():
            self.context_kv = model.embed_text(self._context)
        self.timesteps = warp_timesteps(self.config.denoising_steps, self.config.shift)
        self._source: list[torch.Tensor] = []
        self._first_source: torch.Tensor | None = None   # the source's first latent frame (source_warp_first reads it)
        self._source_frames = 0      # latent frames received so far
        self._source_base = 0        # latent index of the first frame still held
        self._live_source = source is None  # pushed sources drop consumed frames (unbounded streams)
        self._latent_size = latent_size
        self._c2w: torch.Tensor | None = None
        self._anchor: torch.Tensor | None = None
        self._retained: dict[int, _Retained] = {}
        self._pose12 = None if pose12 is None else pose12.to(model.device)
        self._source_pose12 = None if source_pose12 is None else source_pose12.to(model.device)
        if model.conditioning.pixel_guide_depth and pixel_guide is None:
            raise ValueError("this model reads the source's first frame reprojected on pixels and encoded "
                             "(pixel_guide_depth): pass pixel_guide= (realcam.guide.PixelGuide, or GuideLatents)")
        self._pixel_guide = pixel_guide
        self._guide_strength = model.guide_strength(bool(getattr(pixel_guide, "swept", False)))
        self._pixels: dict[int, torch.Tensor] = {}    # pixel guide per chunk, made once (fixed over t)
        self._strengths: dict[int, torch.Tensor] = {}  # its strength per latent value (pixel_guide_agreement)
        self.cache: KVCache | None = None
        self.next_chunk = 0
        self.stats = SessionStats()
        self.notes: list[str] = []   # what the session decided by itself (e.g. a RoPE switch), for the user
        if source is not None:
            self.push_source(source)
        if camera is not None:
            self.set_camera(camera, from_latent=0)

    # inputs ---------------------------------------------------------------------------------------------
    @property
    def chunk(self) -> int:
        return self.config.chunk_latent_frames

    def push_source(self, latents: torch.Tensor) -> None:
        """Append source latents ``[B, C, n, h, w]`` (a live source may push a chunk at a time)."""
        if latents.ndim != 5 or latents.shape[0] != self.batch:
            raise ValueError(f"source latents must be [B={self.batch}, C, n, h, w], got {tuple(latents.shape)}")
        if self._latent_size is None:
            self._latent_size = tuple(latents.shape[3:])
        if tuple(latents.shape[3:]) != self._latent_size:
            raise ValueError(f"source latents are {tuple(latents.shape[3:])} but the stream is {self._latent_size}")
        self._source.append(latents.to(self.model.device, self.model.dtype))
        if self._first_source is None and latents.shape[2]:
            self._first_source = self._source[-1][:, :, :1].clone()
        self._source_frames += latents.shape[2]

    def set_camera(self, c2w: torch.Tensor, *, from_latent: int | None = None) -> None:
        """Absolute camera-to-world poses for latent frames ``from_latent, from_latent+1, …``.

        Default ``from_latent``: the first latent frame of the next chunk, so chunks already generated
        keep their poses (they are baked into the cache). A path shorter than the stream holds its last pose.
        """
        from ..camera import check_c2w

        c2w = check_c2w(c2w)
        start = self.next_chunk * self.chunk if from_latent is None else from_latent
        if start < self.next_chunk * self.chunk:
            raise ValueError(f"latent frames before {self.next_chunk * self.chunk} are already generated; "
                             "their cameras cannot change (use reanchor() to re-reference the poses)")
        if self._c2w is None:
            if start != 0:
                raise ValueError("the first camera path must start at latent frame 0")
            self._c2w = c2w
        else:
            keep = self._extend(self._c2w, start)[:start]
            self._c2w = torch.cat([keep, c2w])

    def reanchor(self, anchor_c2w: torch.Tensor) -> None:
        """Express poses relative to a new reference camera and re-cache sink + window under it
        (LongLive-style KV re-cache from the clean latents already generated)."""
        if self.model.conditioning.pose_reference != "first":
            raise ValueError("poses are relative to the previous frame: there is no anchor to change")
        from ..camera import check_c2w

        self._anchor = check_c2w(anchor_c2w.reshape(-1, *anchor_c2w.shape[-2:]))[0]
        if self.cache is None or not self._retained:
            return
        kept = self.cache.cached_chunks()
        self.cache.reset()
        with torch.no_grad():
            for i in kept:
                r = self._retained[i]
                self._write_cache(i, r.source, r.target)

    # the stream ---------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget generated chunks and the cache; keep model, text, source and camera (a live source
        that already dropped consumed frames must push them again)."""
        self.cache = None
        self.config = self._initial_config
        self.next_chunk = 0
        self._retained.clear()
        self._pixels.clear()
        self._strengths.clear()
        if self._pixel_guide is not None:
            self._pixel_guide.restart()
        self.stats = SessionStats()
        self.notes = []

    @torch.no_grad()
    def step(self) -> ChunkResult:
        """Generate the next chunk's target latents."""
        i = self.next_chunk
        start_time = time.perf_counter()
        source = self._source_chunk(i)
        self._prepare_cache(i, source)
        cache_chunks = self.cache.cached_chunks()
        latents = self.denoise_chunk(i, source).clean
        self._write_cache(i, source, latents)
        self.next_chunk += 1
        self._retain(i, source, latents)
        result = ChunkResult(i, latents, i * self.chunk, time.perf_counter() - start_time, self.cache.tokens,
                             cache_chunks, self.cache.nbytes)
        self.stats.add(result)
        return result

    def denoise_chunk(self, i: int, source: torch.Tensor, *, grad_step: int | None = None,
                      stop_at_grad_step: bool = False) -> Denoised:
        """Per warped timestep predict x0, then re-noise it with fresh noise to the next level.

        ``grad_step`` (training): only that step runs with autograd and its x0 is returned as ``exit``;
        the other steps run without it, and the chunk is still denoised to the end for ``clean`` —
        unless ``stop_at_grad_step``, where ``clean`` is the (detached) exit x0 (Self-Forcing's rollout).
        """
        if grad_step is not None and not 0 <= grad_step < len(self.timesteps):
            raise ValueError(f"grad_step {grad_step} outside the {len(self.timesteps)} denoising steps")
        layout = SequenceLayout(self.model.conditioning, self.chunk, start=i * self.chunk)
        cam, weight = self._cameras(i, layout)
        guide = self.model.source_guide(layout, source, cam, first=self._first_source,     # once per chunk: fixed over t
                                        pixels=self._chunk_pixels(i, layout, cam))
        gen = self._generator(i)
        x = torch.randn(source.shape, generator=gen).to(source)
        x0, exit_x0 = x, None
        for j, t in enumerate(self.timesteps):
            with torch.set_grad_enabled(torch.is_grad_enabled() and j == grad_step):
                x0 = self._predict_x0(i, layout, source, x, t, cam, weight, guide)
            if j == grad_step:
                exit_x0, x0 = x0, x0.detach()
                if stop_at_grad_step:
                    break
            if j + 1 < len(self.timesteps):
                x = renoise(x0, torch.randn(source.shape, generator=gen).to(source), self.timesteps[j + 1] / 1000.0)
        return Denoised(x0, exit_x0)

    def rollout(self, chunks: int, grad_step: int, cache_from: str = "clean") -> Rollout:
        """Self-Forcing rollout for training: ``chunks`` chunks from the next one, each written to the
        cache without autograd (the cache is detached); the x0 of ``grad_step`` keeps its graph in every
        chunk. ``cache_from="clean"`` (RealCam's self-rollout): every chunk is denoised to the end and the
        cache holds the clean chunk; ``"exit"`` (Self-Forcing): denoising stops at ``grad_step`` and the
        cache holds that step's x0. The raw text context goes to every forward, so the text and
        cross-attention layers train too and sharded (FSDP) weights are only used inside forward."""
        if cache_from not in ("clean", "exit"):
            raise ValueError(f"cache_from={cache_from!r}; choose 'clean' (RealCam) or 'exit' (Self-Forcing)")
        self.context_kv = self._context
        exits, cleans = [], []
        for _ in range(chunks):
            i = self.next_chunk
            source = self._source_chunk(i)
            self._prepare_cache(i, source)
            d = self.denoise_chunk(i, source, grad_step=grad_step, stop_at_grad_step=cache_from == "exit")
            with torch.no_grad():
                self._write_cache(i, source, d.clean)
            self._retain(i, source, d.clean.detach())
            self.next_chunk += 1
            exits.append(d.exit)
            cleans.append(d.clean)
        return Rollout(torch.cat(exits, dim=2), torch.cat(cleans, dim=2))

    # internals -----------------------------------------------------------------------------------------------
    def _predict_x0(self, i, layout, source, x, t, cam, weight, guide) -> torch.Tensor:
        self.cache.begin_chunk(i, self._rope_at_rank)
        tt = layout.frame_timesteps(torch.full((self.batch,), float(t), device=source.device))
        out = self._net(layout.build(source, x), tt, self.context_kv, cam=cam, cam_weight=weight,
                        t_positions=layout.temporal_positions(), cache=self.cache, guide=guide,
                        guide_strength=self._strengths.get(i, self._guide_strength))
        return to_x0(x, layout.split(out)[1], t / 1000.0)

    def _write_cache(self, i: int, source: torch.Tensor, clean: torch.Tensor) -> None:
        """The cache-writing pass at ``context_noise`` on the clean chunk, then commit."""
        layout = SequenceLayout(self.model.conditioning, self.chunk, start=i * self.chunk)
        cam, weight = self._cameras(i, layout)
        sigma = self.config.context_noise / 1000.0
        x = clean
        if sigma > 0:
            x = renoise(clean, torch.randn(clean.shape, generator=self._generator(i, salt=1)).to(clean), sigma)
        self.cache.begin_chunk(i, self._rope_at_rank)
        tt = layout.frame_timesteps(torch.full((self.batch,), self.config.context_noise, device=clean.device))
        guide = self.model.source_guide(layout, source, cam, first=self._first_source,
                                        pixels=self._chunk_pixels(i, layout, cam))
        self._net(layout.build(source, x.detach()), tt, self.context_kv, cam=cam, cam_weight=weight,
                  t_positions=layout.temporal_positions(), cache=self.cache, guide=guide,
                  guide_strength=self._strengths.get(i, self._guide_strength))
        self.cache.commit(i)

    def _prepare_cache(self, i: int, source: torch.Tensor) -> None:
        """Allocate the cache for the first chunk; switch an absolute-RoPE stream to cache-slot RoPE just
        before chunk ``i`` would pass the RoPE table (a live source has no end)."""
        self._ensure_cache(source)
        if self.config.rope_mode != "absolute":
            return
        positions = SequenceLayout(self.model.conditioning, self.chunk, start=i * self.chunk).temporal_positions()
        limit = self.model.cfg.rope_max_positions
        if positions.max() < limit:
            return
        self.config = dataclasses.replace(self.config, rope_mode="cache_slot")
        kept = self.cache.cached_chunks()
        self.cache = None
        self._ensure_cache(source)
        with torch.no_grad():  # re-cache sink + window from their clean latents, keys now rotated by cache slot
            for k in kept:
                self._write_cache(k, self._retained[k].source, self._retained[k].target)
        note = (f"chunk {i}: the stream reached the end of the {limit}-position RoPE table (absolute mode); it "
                f"continues with cache-slot RoPE (sink + window re-cached, constant cost from here on)")
        self.notes.append(note)
        warnings.warn(note, stacklevel=3)

    def _rope_at_rank(self, rank: int, chunk: int | None = None) -> Rope:
        """Cache-slot RoPE of ``chunk`` placed at rank ``rank``: temporal positions of the rank; spatial positions
        from the chunk's own cameras when the model places tokens by their rays (not memoised then: a table per
        (rank, chunk) would grow with the stream)."""
        layout = SequenceLayout(self.model.conditioning, self.chunk, start=rank * self.chunk)
        if self.model.conditioning.rope_positions == "rays" and chunk is not None:
            cam, _ = self._cameras(chunk, SequenceLayout(self.model.conditioning, self.chunk, start=chunk * self.chunk))
            if cam is not None:
                return self.model.rope_for(TokenGrid(2 * self.chunk, *self._token_hw), layout.temporal_positions(), cam)
        if rank not in self._rank_ropes:
            self._rank_ropes[rank] = self.model.rope_for(TokenGrid(2 * self.chunk, *self._token_hw),
                                                         layout.temporal_positions())
        return self._rank_ropes[rank]

    def _ensure_cache(self, source: torch.Tensor) -> None:
        if self.cache is not None:
            return
        cfg = self.model.cfg
        _, ph, pw = cfg.patch_size
        h, w = source.shape[3] // ph, source.shape[4] // pw
        self._token_hw = (h, w)
        self._rank_ropes: dict[int, Rope] = {}
        self.cache = KVCache(num_blocks=cfg.num_layers, batch=self.batch, heads=cfg.num_heads, head_dim=cfg.head_dim,
                             chunk_tokens=2 * self.chunk * h * w, sink_chunks=self.config.sink_chunks,
                             window_chunks=self.config.window_chunks, rope_mode=self.config.rope_mode,
                             dtype=self.model.dtype, device=self.model.device)

    def _source_chunk(self, i: int) -> torch.Tensor:
        lo, hi = i * self.chunk, (i + 1) * self.chunk
        if hi > self._source_frames:
            raise EndOfSource(f"chunk {i} needs source latent frames {lo}..{hi - 1} but only {self._source_frames} "
                              "have arrived; push_source() more or stop the stream")
        if lo < self._source_base:
            raise EndOfSource(f"source latent frames {lo}..{self._source_base - 1} of this live stream were already "
                              "consumed and dropped; push them again to replay from the start")
        if len(self._source) > 1:
            self._source = [torch.cat(self._source, dim=2)]
        chunk = self._source[0][:, :, lo - self._source_base:hi - self._source_base]
        if self._live_source:  # a pushed (live) source keeps only what later chunks will read
            self._source = [self._source[0][:, :, hi - self._source_base:]]
            self._source_base = hi
        return chunk

    def _retain(self, i: int, source: torch.Tensor, latents: torch.Tensor) -> None:
        """Keep clean latents of cached chunks only (for a re-cache); bounded like the cache."""
        self._retained[i] = _Retained(source, latents)
        cached = set(self.cache.cached_chunks())
        for k in [k for k in self._retained if k not in cached]:
            del self._retained[k]
        for k in [k for k in self._pixels if k <= i and k not in cached]:
            del self._pixels[k]
            self._strengths.pop(k, None)

    def _chunk_pixels(self, i: int, layout: SequenceLayout, cam: torch.Tensor | None) -> torch.Tensor | None:
        """Chunk ``i``'s pixel guide (``pixel_guide_depth``): made from its target cameras the first time it is
        asked for, then kept while the chunk is cached (a re-cache reads the guide it was generated with)."""
        if self._pixel_guide is None or cam is None:
            return None
        if i not in self._pixels:
            target_cam = cam[:, layout.is_target().to(cam.device)]
            self._pixels[i] = self._pixel_guide.for_chunk(i * self.chunk, target_cam).to(self.model.device,
                                                                                          self.model.dtype)
            agreement = self.model.conditioning.pixel_guide_agreement
            per_value = (self._pixel_guide.strengths(target_cam, i * self.chunk, tuple(self._pixels[i].shape[-2:]),
                                                     self._guide_strength, agreement)
                         if agreement and hasattr(self._pixel_guide, "strengths") else None)
            if per_value is not None:   # in sequence order; the source frames (σ = 0) take nothing from the guide
                self._strengths[i] = layout.build(torch.ones_like(per_value), per_value).to(self.model.device)
        return self._pixels[i]

    @staticmethod
    def _extend(c2w: torch.Tensor, n: int) -> torch.Tensor:
        if c2w.shape[0] >= n:
            return c2w
        return torch.cat([c2w, c2w[-1:].expand(n - c2w.shape[0], 4, 4)])

    def _cameras(self, i: int, layout: SequenceLayout):
        lo, hi = i * self.chunk, (i + 1) * self.chunk
        src = None
        if self._source_pose12 is not None:
            have = self._source_pose12
            if have.shape[1] < hi:      # past the known path: held at its last pose
                have = torch.cat([have, have[:, -1:].expand(-1, hi - have.shape[1], -1)], dim=1)
            src = have[:, lo:hi]
        if self._pose12 is not None:
            return layout.frame_cameras(self._pose12[:, lo:hi], src)
        if self._c2w is None:
            return None, None
        path = self._extend(self._c2w, hi)
        ref = self.model.conditioning.pose_reference
        if ref == "first":
            rel = relative_poses(path[lo:hi], "first", anchor=self._anchor if self._anchor is not None else path[0])
        else:
            rel = relative_poses(path[lo:hi], "previous", previous=path[lo - 1] if lo > 0 else None)
        poses = pose12(rel).to(self.model.device)[None].expand(self.batch, -1, -1)
        return layout.frame_cameras(poses, src)

    def _generator(self, i: int, salt: int = 0) -> torch.Generator:
        return seed_generator(self.seed, i, salt)      # any seed, no overflow, no two seeds alike
