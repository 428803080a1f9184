"""One attention entry point for the whole model.

``attention(q, k, v, mask=None, backend="auto")`` with ``q, k, v`` shaped ``[B, L, H, D]``:

- ``sdpa``  — ``torch.nn.functional.scaled_dot_product_attention`` (default; picks its own kernels);
- ``flash`` — flash-attn 2/3 ``flash_attn_func`` when installed, on CUDA, fp16/bf16 tensors, no mask;
- masked    — an :class:`AttentionMask` (e.g. the block-causal masks of streaming training) runs through
  FlexAttention on CUDA (compiled once per process) or as a dense boolean mask through SDPA elsewhere.

``backend="auto"`` uses flash when it applies, else SDPA. Asking for ``flash`` where it cannot run
raises an error that says why, rather than silently using another kernel.

On the meta device (``python -m realcam plan``) attention is shapes only and is costed as flash attention
would run it: it keeps q, k, v, the output and the log-sum-exp for backward (never the L × L scores), and
every call is recorded in :data:`META_CALLS` when a recorder is active (:func:`record_meta_attention`).
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Literal

import torch
import torch.nn.functional as F

Backend = Literal["auto", "sdpa", "flash", "flex", "dense"]
BACKENDS: tuple[str, ...] = ("auto", "sdpa", "flash", "flex", "dense")
MaskFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@functools.lru_cache(maxsize=1)
def _flash_attn_func():
    for mod in ("flash_attn_interface", "flash_attn"):  # FA3 (Hopper) first, then FA2
        if importlib.util.find_spec(mod) is not None:
            return importlib.import_module(mod).flash_attn_func
    return None


def flash_available() -> bool:
    return _flash_attn_func() is not None and torch.cuda.is_available()


@dataclass
class AttentionMask:
    """A boolean attention pattern ``allowed[q, kv]`` built from an index predicate.

    ``fn(q_idx, kv_idx) -> bool tensor`` must be written with tensor ops only, so that the same
    predicate serves the dense mask and FlexAttention's ``mask_mod``. Construction checks that every
    query keeps a key, a block of rows at a time; nothing of size ``q_len × kv_len`` is kept. ``dense``
    (the SDPA path off CUDA, and tests) is materialised on first use and cached; the FlexAttention block
    mask (the CUDA path) likewise. At real size the dense mask is large — 4.3 GB for the 65,520 tokens
    of an 81-frame 480×832 Wan2.1 clip, source and target — so a GPU run never builds it.
    """

    fn: MaskFn
    q_len: int
    kv_len: int
    device: torch.device
    _dense: torch.Tensor | None = field(default=None, init=False, repr=False)
    _block_mask: object = field(default=None, init=False, repr=False)

    CHECK_ROWS: ClassVar[int] = 4096     # query rows evaluated at once by the construction check

    def __post_init__(self) -> None:
        kv = torch.arange(self.kv_len, device=self.device)[None, :]
        for start in range(0, self.q_len, self.CHECK_ROWS):
            q = torch.arange(start, min(start + self.CHECK_ROWS, self.q_len), device=self.device)[:, None]
            if not bool(self.fn(q, kv).expand(q.shape[0], self.kv_len).any(dim=1).all()):
                raise ValueError("attention mask leaves some queries with no key to attend to")

    @property
    def dense(self) -> torch.Tensor:
        """``allowed[q, kv]`` as a ``[q_len, kv_len]`` bool tensor, built on first use."""
        if self._dense is None:
            q = torch.arange(self.q_len, device=self.device)[:, None]
            kv = torch.arange(self.kv_len, device=self.device)[None, :]
            self._dense = self.fn(q, kv).expand(self.q_len, self.kv_len).contiguous()
        return self._dense

    def block_mask(self):
        if self._block_mask is None:
            from torch.nn.attention.flex_attention import create_block_mask

            fn = self.fn
            self._block_mask = create_block_mask(lambda b, h, q, kv: fn(q, kv), None, None,
                                                 self.q_len, self.kv_len, device=str(self.device))
        return self._block_mask


@functools.lru_cache(maxsize=1)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def _flex(q, k, v, mask: AttentionMask, compiled: bool) -> torch.Tensor:
    from torch.nn.attention.flex_attention import flex_attention

    fn = _compiled_flex() if compiled else flex_attention
    out = fn(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), block_mask=mask.block_mask())
    return out.transpose(1, 2)


META_CALLS: list | None = None    # (phase, B, H, Lq, Lk, D, matmuls) per meta-device attention call while recording


@contextlib.contextmanager
def record_meta_attention():
    """Collect the meta-device attention calls (forward and backward) made inside the block."""
    global META_CALLS
    outer, META_CALLS = META_CALLS, []
    try:
        yield META_CALLS
    finally:
        META_CALLS = outer


class _MetaFlash(torch.autograd.Function):
    """Shapes-only attention on the meta device, saving what flash attention saves for backward."""

    @staticmethod
    def forward(ctx, q, k, v):
        out = torch.empty_like(q)
        lse = q.new_empty((q.shape[0], q.shape[2], q.shape[1]), dtype=torch.float32)
        ctx.save_for_backward(q, k, v, out, lse)
        if META_CALLS is not None:
            META_CALLS.append(("forward", q.shape[0], q.shape[2], q.shape[1], k.shape[1], q.shape[3], 2))
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, _, _ = ctx.saved_tensors
        dq, dk, dv = ctx.needs_input_grad
        if META_CALLS is not None:  # matmuls of the size of Q·Kᵀ: dP = dO·Vᵀ (for dq or dk), dQ, dK, dV
            matmuls = int(dq or dk) + int(dq) + int(dk) + int(dv)
            META_CALLS.append(("backward", q.shape[0], q.shape[2], q.shape[1], k.shape[1], q.shape[3], matmuls))
        return (torch.empty_like(q) if dq else None, torch.empty_like(k) if dk else None,
                torch.empty_like(v) if dv else None)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask | None = None,
              backend: Backend = "auto") -> torch.Tensor:
    """Softmax attention over ``[B, L, H, D]`` tensors; returns ``[B, Lq, H, D]``."""
    if backend not in BACKENDS:
        raise ValueError(f"attention backend {backend!r}; choose one of {BACKENDS}")
    if q.device.type == "meta":       # planning: costed as flash attention (a mask's sparsity is the planner's)
        return _MetaFlash.apply(q, k, v)
    if mask is not None:
        if (mask.q_len, mask.kv_len) != (q.shape[1], k.shape[1]):
            raise ValueError(f"attention mask is {mask.q_len}x{mask.kv_len} but q/k have {q.shape[1]}/{k.shape[1]} tokens")
        if backend == "flash":
            raise ValueError("flash-attn cannot take an arbitrary mask; use backend 'auto', 'flex' or 'dense'")
        if backend == "flex" or (backend == "auto" and q.is_cuda):
            return _flex(q, k, v, mask, compiled=q.is_cuda)
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                              attn_mask=mask.dense).transpose(1, 2)
    if backend == "flash" or (backend == "auto" and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)):
        fa = _flash_attn_func()
        if fa is not None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
            out = fa(q, k, v)
            return out[0] if isinstance(out, tuple) else out
        if backend == "flash":
            why = ("flash-attn is not installed" if fa is None else
                   "flash-attn needs CUDA tensors in fp16/bf16" )
            raise RuntimeError(f"attention backend 'flash' unavailable: {why}; use 'sdpa'")
    return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)
