"""The bidirectional teacher sampler: full attention over the whole interleaved (or prefix) sequence."""
from __future__ import annotations

from typing import Callable

import torch

from ..model import RealCamDiT
from .schedules import Sampler, Solver, flow_sigmas, to_x0


class Interrupted(RuntimeError):
    """Sampling was stopped between steps; nothing partial is returned."""


ProgressFn = Callable[[int, int, torch.Tensor], None]  # (step done, total, current x0 estimate)


@torch.no_grad()
def sample_teacher(model: RealCamDiT, source: torch.Tensor, context: torch.Tensor, *,
                   pose12: torch.Tensor | None = None, negative_context: torch.Tensor | None = None,
                   steps: int = 50, shift: float = 5.0, guidance: float = 5.0, solver: Solver = "unipc",
                   seed: int = 0, progress: ProgressFn | None = None,
                   should_stop: Callable[[], bool] | None = None) -> torch.Tensor:
    """Target latents ``[B, C, f, h, w]`` re-rendered from ``source`` latents along ``pose12`` ``[B, f, 12]``.

    Any number of latent frames (a video of 4k+1 frames has k+1). The source stays clean; the model's
    conditioning decides the layout (interleave or prefix). CFG: ``v = v_neg + guidance·(v − v_neg)``
    with ``negative_context`` (umT5 of the negative or empty prompt); ``guidance == 1`` skips it.
    ``progress`` is called after every step; ``should_stop`` is polled between steps and raises
    :class:`Interrupted`.
    """
    if guidance != 1.0 and negative_context is None:
        raise ValueError("classifier-free guidance needs negative_context (umT5 of the negative or empty prompt); "
                         "pass it, or set guidance=1")
    device, dtype = model.device, model.dtype
    source = source.to(device, dtype)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(source.shape, generator=gen, dtype=torch.float32).to(device)
    sampler = Sampler(flow_sigmas(steps, shift), solver)
    b = source.shape[0]
    ctx = model.embed_text(context.to(device))
    if guidance != 1.0:
        neg = model.embed_text(negative_context.to(device).expand(b, -1, -1))
        ctx = [(torch.cat([k, nk]), torch.cat([v, nv])) for (k, v), (nk, nv) in zip(ctx, neg)]
    for i in range(len(sampler)):
        if should_stop is not None and should_stop():
            raise Interrupted(f"teacher sampling interrupted after {i} of {len(sampler)} steps")
        sigma = sampler.sigmas[i]
        t = torch.full((b,), 1000.0 * sigma, device=device)
        if guidance != 1.0:
            double = lambda z: torch.cat([z, z])  # noqa: E731
            v_pos, v_neg = model.velocity(double(source), double(x.to(dtype)), double(t), ctx,
                                          None if pose12 is None else double(pose12)).float().chunk(2)
            v = v_neg + guidance * (v_pos - v_neg)
        else:
            v = model.velocity(source, x.to(dtype), t, ctx, pose12).float()
        x0_estimate = to_x0(x, v, sigma)
        x = sampler.step(i, x, v)
        if progress is not None:
            progress(i + 1, len(sampler), x0_estimate)
    return x.to(dtype)
