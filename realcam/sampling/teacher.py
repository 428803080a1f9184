"""The bidirectional teacher sampler: full attention over the whole interleaved (or prefix) sequence."""
from __future__ import annotations

from typing import Callable

import torch

from ..model import RealCamDiT, SequenceLayout
from .schedules import Sampler, Solver, sigma_grid, to_x0


class Interrupted(RuntimeError):
    """Sampling was stopped between steps; nothing partial is returned."""


ProgressFn = Callable[[int, int, torch.Tensor], None]  # (step done, total, current x0 estimate)


@torch.no_grad()
def check_rope_reach(model: RealCamDiT, latent_shape: torch.Size | tuple[int, ...]) -> None:
    """Refuse, before any work, a clip whose sequence needs RoPE positions past the model's table.

    The teacher attends over the whole clip at once, so a clip past ``rope_max_positions`` (1,024 for Wan)
    cannot be rendered faithfully by any mode: it used to fail (or turn to garbage) minutes into sampling.
    The streaming sampler has no such limit (it switches to cache-slot RoPE).
    """
    f, h, w = latent_shape[2], latent_shape[3], latent_shape[4]
    limit = model.cfg.rope_max_positions
    reach = int(SequenceLayout(model.conditioning, f).temporal_positions().max()) + 1
    _, ph, pw = model.cfg.patch_size
    if reach > limit:
        most = (limit // max(1, round(reach / f)) - 1) * 4 + 1
        raise ValueError(f"the clip's {f} latent frames need {reach:,} RoPE positions in {model.conditioning.mode} "
                         f"mode; the model's table has {limit:,}. Render at most {max(most, 1):,} video frames with the "
                         "teacher, or use the streaming sampler (no length limit)")
    if max(h // ph, w // pw) > limit:
        raise ValueError(f"latents of {h}x{w} need {max(h // ph, w // pw):,} spatial RoPE positions; the model's table "
                         f"has {limit:,}: render a smaller frame")


def sample_teacher(model: RealCamDiT, source: torch.Tensor, context: torch.Tensor, *,
                   pose12: torch.Tensor | None = None, negative_context: torch.Tensor | None = None,
                   source_pose12: torch.Tensor | None = None, pixel_guide: torch.Tensor | None = None,
                   steps: int | None = None, shift: float | None = None, guidance: float | None = None,
                   solver: Solver | None = None, grid: str | None = None,
                   seed: int = 0, progress: ProgressFn | None = None,
                   should_stop: Callable[[], bool] | None = None,
                   guide_strength: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Target latents ``[B, C, f, h, w]`` re-rendered from ``source`` latents along ``pose12`` ``[B, f, 12]``.

    Any number of latent frames (a video of 4k+1 frames has k+1). The source stays clean; the model's
    conditioning decides the layout (interleave or prefix). ``steps``, ``shift``, ``guidance``, ``solver``
    and ``grid`` default to the model's own sampling settings (``model.sampling``, which a checkpoint
    carries); a value given here overrides that one setting.

    CFG: ``v = v_neg + guidance·(v − v_neg)`` with ``negative_context`` (umT5 of the negative or empty
    prompt); ``guidance == 1`` skips it. Positive and negative contexts may have different token counts
    (a 512-token prompt against a 1-token empty context): they then run as two forwards instead of one
    batch, which gives the same result. ``progress`` is called after every step; ``should_stop`` is
    polled between steps and raises :class:`Interrupted`. ``source_pose12`` ``[B, f, 12]``: the source's own
    cameras, relative to its first one, for a model conditioned on them (``conditioning.source_cameras``).
    ``pixel_guide`` ``[B, C, f, h, w]``: the guide latents of ``conditioning.pixel_guide_depth``
    (:meth:`realcam.guide.PixelGuide.encode`); ``guide_strength``: how much of it a gated model takes
    (:meth:`realcam.model.RealCamDiT.guide_strength`; or per target latent value ``[B, 1, f, h, w]``,
    :meth:`realcam.guide.PixelGuide.strengths`).
    """
    settings = model.sampling.override(steps=steps, shift=shift, guidance=guidance, solver=solver, grid=grid)
    guidance = settings.guidance
    check_rope_reach(model, source.shape)
    if guidance != 1.0 and negative_context is None:
        raise ValueError("classifier-free guidance needs negative_context (umT5 of the negative or empty prompt); "
                         "pass it, or set guidance=1")
    device, dtype = model.device, model.dtype
    source = source.to(device, dtype)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"seed: expected a whole number in [0, 2^64), got {seed!r}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(source.shape, generator=gen, dtype=torch.float32).to(device)
    points = sigma_grid(settings.steps, settings.shift, settings.grid)
    sampler = Sampler(points.sigmas, settings.solver)
    b = source.shape[0]
    pos = model.embed_text(context.to(device))
    neg = None
    if guidance != 1.0:
        neg = model.embed_text(negative_context.to(device).expand(b, -1, -1))
    batched = neg is not None and neg[0][0].shape[1] == pos[0][0].shape[1]
    if batched:  # one forward over [positive; negative]
        both = [(torch.cat([k, nk]), torch.cat([v, nv])) for (k, v), (nk, nv) in zip(pos, neg)]
    double = lambda z: None if z is None else torch.cat([z, z])  # noqa: E731
    for i in range(len(sampler)):
        if should_stop is not None and should_stop():
            raise Interrupted(f"teacher sampling interrupted after {i} of {len(sampler)} steps")
        t = torch.full((b,), float(points.timesteps[i]), device=device)
        xt = x.to(dtype)
        if neg is None:
            v = model.velocity(source, xt, t, pos, pose12, source_pose12=source_pose12, pixel_guide=pixel_guide,
                               guide_strength=guide_strength).float()
        else:
            if batched:
                v_pos, v_neg = model.velocity(double(source), double(xt), double(t), both,
                                              double(pose12), source_pose12=double(source_pose12),
                                              pixel_guide=double(pixel_guide),
                                              guide_strength=double(guide_strength) if isinstance(
                                                  guide_strength, torch.Tensor) else guide_strength).float().chunk(2)
            else:
                v_pos = model.velocity(source, xt, t, pos, pose12, source_pose12=source_pose12,
                                       pixel_guide=pixel_guide, guide_strength=guide_strength).float()
                v_neg = model.velocity(source, xt, t, neg, pose12, source_pose12=source_pose12,
                                       pixel_guide=pixel_guide, guide_strength=guide_strength).float()
            v = v_neg + guidance * (v_pos - v_neg)
        x0_estimate = to_x0(x, v, sampler.sigmas[i])
        x = sampler.step(i, x, v)
        if progress is not None:
            progress(i + 1, len(sampler), x0_estimate)
    return x.to(dtype)
