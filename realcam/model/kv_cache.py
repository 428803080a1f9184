"""KV cache for chunk-wise causal streaming: ``[current | sink | window]`` per block.

Each block keeps one key and one value buffer of ``1 + S + W`` regions of ``chunk_tokens`` tokens:
region 0 holds the chunk being generated (every denoising step overwrites it), regions ``1..S`` the
sink (the first S chunks, kept for ever), regions ``S+1..S+W`` a ring of the W most recent previous
chunks. ``commit(i)`` copies region 0 into chunk i's home region after the cache-writing pass, evicting
the oldest window chunk. Memory is fixed at construction, so the cost per chunk is constant.

Two RoPE modes (``StreamingConfig.rope_mode``):

- ``absolute``: keys are stored rotated at their absolute positions; queries likewise. Equals the
  masked full-sequence forward exactly; limited by the RoPE table (1024 positions per axis).
- ``cache_slot``: keys are stored un-rotated and rotated at attention time by their chronological
  rank in the cache (sink first, then window, then current), so positions stay bounded and streams can
  be unbounded (MotionStream, LongLive). Equals the masked forward while nothing has been evicted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import torch

from .attention import Backend, attention
from .rope import Rope

RopeMode = Literal["absolute", "cache_slot"]


@dataclass
class CachePlan:
    """What one chunk step attends to; shared by all blocks."""

    key_tokens: int                    # keys are buffer[:, :key_tokens]
    key_mask: torch.Tensor | None      # bool [key_tokens], False at empty regions (during a re-cache)
    query_rope: Rope | None            # cache_slot: rotation of the current chunk's queries and keys
    key_rope: Rope | None              # cache_slot: rotation of buffer[:, :key_tokens]


class BlockKV:
    """One block's buffers and the attention over them."""

    def __init__(self, cache: "KVCache", k: torch.Tensor, v: torch.Tensor) -> None:
        self.cache, self.k, self.v = cache, k, v
        self.snapshots: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}   # chunk id -> its keys/values (FrozenBlockKV)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rope: Rope, backend: Backend) -> torch.Tensor:
        plan = _current_plan(self.cache)
        _check_chunk(q, self.cache.chunk_tokens)
        n = q.shape[1]
        q, k = _rotate(self.cache.rope_mode, plan, rope, q, k)
        # The buffers never join the autograd graph (the cache is detached, as in Self-Forcing training):
        # under autograd the current chunk's own keys/values are concatenated with the cached ones instead.
        self.k[:, :n] = k.detach()
        self.v[:, :n] = v.detach()
        if k.requires_grad or v.requires_grad:
            keys = torch.cat([k, self.k[:, n:plan.key_tokens]], dim=1)
            values = torch.cat([v, self.v[:, n:plan.key_tokens]], dim=1)
        else:
            keys, values = self.k[:, :plan.key_tokens], self.v[:, :plan.key_tokens]
        return _attend(self.cache.rope_mode, plan, q, keys, values, backend)

    def frozen(self) -> "FrozenBlockKV":
        """This block's cache as the step about to run sees it, for activation checkpointing (below)."""
        return FrozenBlockKV(self)


class FrozenBlockKV:
    """One block's cache as one cached forward saw it, so that activation checkpointing can recompute the block
    in backward: by then the rollout has overwritten the buffers (later chunks, the ring). Each cached chunk's
    keys and values are copied once, the first time a step attends to them, and shared by every later step that
    does (a committed chunk never changes; ``BlockKV.snapshots``), so a rollout keeps one copy per chunk where
    the uncheckpointed steps keep one per chunk and step. The first call writes the current chunk's keys/values
    into the live buffers as :meth:`BlockKV.attend` does; the recomputation does not write."""

    def __init__(self, live: BlockKV) -> None:
        cache = live.cache
        plan = _current_plan(cache)
        ct = cache.chunk_tokens
        self.live, self.plan, self.written = live, plan, False
        regions = range(1, plan.key_tokens // ct)
        chunks = [cache.regions[r] for r in regions]
        if plan.key_mask is not None or None in chunks:      # a hole while re-caching: copy the slice as it is
            self.parts = [(live.k[:, ct:plan.key_tokens].clone(), live.v[:, ct:plan.key_tokens].clone())]
            return
        for r, c in zip(regions, chunks):
            if c not in live.snapshots:
                live.snapshots[c] = (live.k[:, r * ct:(r + 1) * ct].clone(), live.v[:, r * ct:(r + 1) * ct].clone())
        for c in [c for c in live.snapshots if c not in chunks and c != cache.regions[0]]:
            del live.snapshots[c]          # evicted: no later step attends to it (the steps that did keep their own)
        self.parts = [live.snapshots[c] for c in chunks]     # in buffer order, as the uncheckpointed step reads them

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rope: Rope, backend: Backend) -> torch.Tensor:
        _check_chunk(q, self.live.cache.chunk_tokens)
        mode = self.live.cache.rope_mode
        q, k = _rotate(mode, self.plan, rope, q, k)
        if not self.written:
            n = q.shape[1]
            self.live.k[:, :n] = k.detach()
            self.live.v[:, :n] = v.detach()
            self.written = True
        keys = torch.cat([k, *(kv[0] for kv in self.parts)], dim=1)
        values = torch.cat([v, *(kv[1] for kv in self.parts)], dim=1)
        return _attend(mode, self.plan, q, keys, values, backend)


def _current_plan(cache: "KVCache") -> CachePlan:
    if cache.plan is None:
        raise RuntimeError("KVCache.begin_chunk() must be called before a cached forward")
    return cache.plan


def _check_chunk(q: torch.Tensor, chunk_tokens: int) -> None:
    if q.shape[1] != chunk_tokens:
        raise ValueError(f"cached forward expects one chunk of {chunk_tokens} tokens, got {q.shape[1]}")


def _rotate(mode: RopeMode, plan: CachePlan, rope: Rope, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The current chunk's queries (and, in absolute mode, keys) rotated as they are cached."""
    if mode == "absolute":
        return rope.apply(q), rope.apply(k)
    return plan.query_rope.apply(q), k


def _attend(mode: RopeMode, plan: CachePlan, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
            backend: Backend) -> torch.Tensor:
    if mode != "absolute":
        keys = plan.key_rope.apply(keys)
    if plan.key_mask is None:
        return attention(q, keys, values, backend=backend)
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), keys.transpose(1, 2), values.transpose(1, 2), attn_mask=plan.key_mask[None, :])
    return out.transpose(1, 2)


class KVCache:
    """Sink + rolling-window KV cache for all blocks of one model and one stream."""

    def __init__(self, *, num_blocks: int, batch: int, heads: int, head_dim: int, chunk_tokens: int,
                 sink_chunks: int, window_chunks: int, rope_mode: RopeMode, dtype: torch.dtype,
                 device: torch.device | str) -> None:
        if rope_mode not in ("absolute", "cache_slot"):
            raise ValueError(f"rope_mode {rope_mode!r}; choose 'absolute' or 'cache_slot'")
        self.chunk_tokens, self.sink_chunks, self.window_chunks = chunk_tokens, sink_chunks, window_chunks
        self.rope_mode: RopeMode = rope_mode
        self.num_regions = 1 + sink_chunks + window_chunks
        shape = (batch, self.num_regions * chunk_tokens, heads, head_dim)
        self.blocks = [BlockKV(self, torch.zeros(shape, dtype=dtype, device=device),
                               torch.zeros(shape, dtype=dtype, device=device)) for _ in range(num_blocks)]
        self.regions: list[int | None] = [None] * self.num_regions  # chunk id per region (region 0: current)
        self.plan: CachePlan | None = None

    # bookkeeping ---------------------------------------------------------------------------------------
    def home_region(self, chunk: int) -> int | None:
        """Where chunk ``chunk`` lives once committed (None: it is not kept)."""
        if chunk < self.sink_chunks:
            return 1 + chunk
        if self.window_chunks == 0:
            return None
        return 1 + self.sink_chunks + (chunk - self.sink_chunks) % self.window_chunks

    def cached_chunks(self) -> list[int]:
        """Committed chunk ids in chronological order."""
        return sorted(c for c in self.regions[1:] if c is not None)

    @property
    def tokens(self) -> int:
        """Allocated tokens per block (constant for the life of the cache)."""
        return self.num_regions * self.chunk_tokens

    @property
    def nbytes(self) -> int:
        return sum(b.k.numel() * b.k.element_size() * 2 for b in self.blocks)

    def reset(self) -> None:
        self.regions = [None] * self.num_regions
        self.plan = None
        for b in self.blocks:
            b.snapshots.clear()

    # one chunk -------------------------------------------------------------------------------------------
    def begin_chunk(self, chunk: int, rope_at_rank: Callable[[int, int | None], Rope] | None = None) -> None:
        """Plan the attention of chunk ``chunk`` over what is cached.

        ``rope_at_rank(r, c)`` (cache_slot mode) gives the RoPE of chunk ``c`` placed at chronological rank r (``c``
        is None for an empty, masked region); the chunk matters where spatial positions follow its cameras
        (``ConditioningConfig.rope_positions='rays'``).
        """
        ct = self.chunk_tokens
        filled = [i for i, c in enumerate(self.regions) if i > 0 and c is not None]
        last = max(filled, default=0)
        key_tokens = (last + 1) * ct
        key_mask = None
        if len(filled) < last:  # a hole (possible while re-caching): mask the empty regions
            key_mask = torch.zeros(key_tokens, dtype=torch.bool, device=self.blocks[0].k.device)
            for i in [0, *filled]:
                key_mask[i * ct:(i + 1) * ct] = True
        query_rope = key_rope = None
        if self.rope_mode == "cache_slot":
            if rope_at_rank is None:
                raise ValueError("cache_slot RoPE needs rope_at_rank")
            order = sorted(filled, key=lambda i: self.regions[i])
            rank = {region: r for r, region in enumerate(order)}
            rank[0] = len(order)
            ropes = [rope_at_rank(rank.get(i, 0), chunk if i == 0 else self.regions[i]) for i in range(last + 1)]
            key_rope = Rope.cat(ropes)   # per-sample tables (camera positions) broadcast a masked region's grid one
            query_rope = ropes[0]
        self.plan = CachePlan(key_tokens, key_mask, query_rope, key_rope)
        self.regions[0] = chunk

    def commit(self, chunk: int) -> None:
        """Keep the chunk just written to region 0 (after its cache-writing pass)."""
        if self.regions[0] != chunk:
            raise RuntimeError(f"commit({chunk}) but region 0 holds chunk {self.regions[0]}")
        home = self.home_region(chunk)
        if home is not None:
            ct = self.chunk_tokens
            for b in self.blocks:
                b.k[:, home * ct:(home + 1) * ct] = b.k[:, :ct]
                b.v[:, home * ct:(home + 1) * ct] = b.v[:, :ct]
            self.regions[home] = chunk
        self.regions[0] = None
        self.plan = None
