"""Block-causal attention masks over a chunked sequence (training counterpart of the KV cache)."""
from __future__ import annotations

import functools

import torch

from .attention import AttentionMask


@functools.lru_cache(maxsize=32)
def block_causal_mask(num_chunks: int, chunk_tokens: int, sink_chunks: int | None = None,
                      window_chunks: int | None = None, device: str = "cpu") -> AttentionMask:
    """Query chunk q sees key chunk k iff ``k ≤ q`` and (no window, or ``k < sink`` or ``k ≥ q − window``).

    Exactly what a :class:`KVCache` with the same sink and window attends to. Built once per shape.
    """
    sink = 0 if sink_chunks is None else sink_chunks
    window = None if window_chunks is None else window_chunks

    def allowed(q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
        qc, kc = q // chunk_tokens, kv // chunk_tokens
        ok = kc <= qc
        if window is not None:
            ok = ok & ((kc < sink) | (kc >= qc - window))
        return ok

    n = num_chunks * chunk_tokens
    return AttentionMask(allowed, n, n, torch.device(device))
