"""Random generators from seeds of any size.

ComfyUI's frontend draws seeds from [0, 2^50) and the API accepts any integer, so a seed is never combined
with counters by arithmetic (which overflows 64 bits, or makes two seeds collide): the seed and the counters
are hashed together (BLAKE2b, 64 bits) into the generator's seed.
"""
from __future__ import annotations

import hashlib

import torch


def seed_generator(*parts: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from the integers ``parts`` (any size, any sign)."""
    data = bytearray()
    for p in parts:
        if isinstance(p, bool) or not isinstance(p, int):
            raise ValueError(f"seed: expected a whole number, got {p!r}")
        raw = p.to_bytes(p.bit_length() // 8 + 1, "little", signed=True)
        data += len(raw).to_bytes(4, "little") + raw
    return torch.Generator().manual_seed(int.from_bytes(hashlib.blake2b(bytes(data), digest_size=8).digest(), "little"))
