"""The training objectives, each an ``nn.Module`` around the network it trains.

Wrapping the whole loss (not just the network) is what lets DDP see exactly one forward per backward
even when the loss calls the network many times (the DMD self-rollout).

- :class:`FlowMatchingLoss` — teacher (bidirectional) and causal initialisation (block-causal mask,
  per-chunk timesteps, sampled sink/window). Flow matching on the target latents:
  ``x_σ = (1−σ)·z_0 + σ·ε``, velocity target ``ε − z_0``; the teacher adds the motion loss
  ``L_motion = MSE(Δ_f v_θ, Δ_f (ε − z_0))`` over latent time: ``(1−α)·L_FM + α·L_motion``. With
  ``guide_gate_weight`` λ (models with ``pixel_guide_skip``) it adds ``λ·L_gate``: the gate regressed onto where the
  pixel guide is closer to the truth than the model's own clean estimate, or (``guide_gate_target: share``) onto the
  share of the guide that brings that estimate nearest the truth (:func:`gate_loss`).
- :class:`DMDGeneratorLoss` — Self-Forcing DMD: self-rollout through :class:`StreamingSession`, one
  random exit step (the same on every process) keeps the gradient; :func:`dmd_loss` (pure):
  ``grad = fake_x0 − real_x0`` normalised by ``mean|x − real_x0|``, loss ``0.5·‖x − sg(x − grad)‖²``.
  Real score: the frozen teacher (CFG baked in); fake score: the critic.
- :class:`CriticLoss` — the fake score learns the generator's distribution by flow matching on its samples.
"""
from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

from ..config import StreamingConfig
from ..guide import GuideLatents
from ..model import GateReading, RealCamDiT, SequenceLayout
from ..model.masks import block_causal_mask
from ..sampling.schedules import renoise, shift_sigma, to_x0
from ..sampling.streaming import StreamingSession
from .config import GATE_TARGETS, CausalSpec, DistillSpec, TeacherSpec


def sample_sigma(shape: tuple[int, ...], shift: float, generator: torch.Generator, lo: float = 0.0,
                 hi: float = 1.0) -> torch.Tensor:
    """Noise levels: ``U(lo, hi)`` warped by the shift schedule (most mass at high noise for shift > 1)."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64) * (hi - lo) + lo
    return shift_sigma(u, shift).float()


def motion_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between frame-wise differences along latent time (``[B, C, f, h, w]``, f ≥ 2)."""
    if pred.shape[2] < 2:
        return pred.new_zeros(())
    return F.mse_loss(pred.diff(dim=2), target.diff(dim=2))


def _device_batch(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


class FlowMatchingLoss(nn.Module):
    """Teacher (``causal=None``) or causal-initialisation (``causal`` given) flow-matching loss."""

    def __init__(self, model: RealCamDiT, *, teacher: TeacherSpec | None = None, causal: CausalSpec | None = None,
                 gate_weight: float = 0.0, gate_target: str = "better") -> None:
        super().__init__()
        self.model = model
        self.teacher, self.causal = teacher or TeacherSpec(), causal
        if gate_weight and model.guide_gate is None:
            raise ValueError(f"guide_gate_weight={gate_weight}: the model has no gate to train; it needs "
                             "conditioning.pixel_guide_skip")
        self.gate_weight = float(gate_weight)
        if gate_target not in GATE_TARGETS:
            raise ValueError(f"gate_target {gate_target!r}; choose one of {GATE_TARGETS}")
        self.gate_target = gate_target

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator,
                shared: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        b = _device_batch(batch, self.model.device)
        z0, source = b["target"], b["source"]
        bsz, _, f = z0.shape[:3]
        noise = torch.randn(z0.shape, generator=generator).to(z0)
        layout = SequenceLayout(self.model.conditioning, f)
        mask = None
        if self.causal is None:
            sigma = sample_sigma((bsz,), self.teacher.timestep_shift, generator).to(z0.device)
            s = sigma[:, None, None, None, None]
            t = sigma * 1000
        else:  # per-chunk noise levels (diffusion forcing), block-causal attention with a sampled cache shape
            c = self.causal.chunk
            if f % c:
                raise ValueError(f"causal training needs latent frames divisible by the chunk ({c}); the data has {f}")
            sigma = sample_sigma((bsz, f // c), self.causal.timestep_shift, generator).to(z0.device)
            sigma = sigma.repeat_interleave(c, dim=1)
            s = sigma[:, None, :, None, None]
            t = sigma * 1000
            rng = random.Random(int(torch.randint(2**31, (1,), generator=generator)))
            sink, window = rng.choice(self.causal.sink_choices), rng.choice(self.causal.window_choices)
            if window is None:
                sink = None
            _, ph, pw = self.model.cfg.patch_size
            chunk_tokens = 2 * c * (z0.shape[3] // ph) * (z0.shape[4] // pw)
            mask = block_causal_mask(f // c, chunk_tokens, sink, window, str(z0.device))
        x_t = (1 - s) * z0 + s * noise
        v_target = noise - z0
        reading = GateReading() if self.gate_weight else None
        pred = self.model.velocity(source, x_t, t, b["context"], b["pose12"], layout=layout, mask=mask,
                                   source_pose12=b.get("source_pose12"), pixel_guide=b.get("pixel_guide"),
                                   reading=reading).float()
        fm = F.mse_loss(pred, v_target.float())
        metrics = {"fm": float(fm.detach())}
        loss = fm
        if self.causal is None and self.teacher.motion_weight > 0:
            a = self.teacher.motion_weight
            mo = motion_loss(pred, v_target.float())
            metrics["motion"] = float(mo.detach())
            loss = (1 - a) * fm + a * mo
        if reading is not None:
            if reading.gate is None:
                raise ValueError("guide_gate_weight: the gate read no pixel guide (a batch without target cameras)")
            g = gate_loss(reading, x_t, s, z0, b["pixel_guide"], self.gate_target)
            metrics["gate"] = float(g.detach())
            loss = loss + self.gate_weight * g
        return loss, metrics


def gate_target(x0_model: torch.Tensor, guide: torch.Tensor, z0: torch.Tensor, kind: str = "better") -> torch.Tensor:
    """What the gate is regressed onto at each latent position, ``[B, 1, f, h, w]``.

    ``better``: 1 where the pixel guide's mean absolute error over channels is below that of the model's own estimate
    ``x0_model``, else 0 — a 0/1 target, so the gate learns how likely the guide is to be the better of the two.
    ``share``: the blend share ``a`` that brings ``x0_model + a·(guide − x0_model)`` nearest ``z0`` over channels
    (least squares: ``a = <z0 − x0_model, guide − x0_model> / |guide − x0_model|²``), clamped to [0, 1] — the share to
    take, which is what the gate does with its output; 0 where the guide equals the model's estimate."""
    if kind == "share":
        step = guide - x0_model
        norm = (step * step).sum(dim=1, keepdim=True)
        share = ((z0 - x0_model) * step).sum(dim=1, keepdim=True) / norm.clamp_min(1e-12)
        return torch.where(norm > 0, share, torch.zeros_like(share)).clamp(0.0, 1.0)
    guide_err = (guide - z0).abs().mean(dim=1, keepdim=True)
    model_err = (x0_model - z0).abs().mean(dim=1, keepdim=True)
    return (guide_err < model_err).float()


def gate_loss(reading: GateReading, x_t: torch.Tensor, sigma: torch.Tensor, z0: torch.Tensor,
              guide: torch.Tensor, kind: str = "better") -> torch.Tensor:
    """``guide_gate_weight``'s term: the gate regressed (squared error) onto :func:`gate_target` of ``kind``, the model's
    own estimate ``x_t − σ·v`` taken before the gate and without a gradient; only at noise levels above
    ``RealCamDiT.GATE_MIN_SIGMA``, where the gate acts in full (``sigma`` broadcasts against ``[B, C, f, h, w]``)."""
    x0_model = (x_t - sigma * reading.velocity.float()).detach()
    target = gate_target(x0_model, guide.float(), z0.float(), kind)
    live = (sigma > RealCamDiT.GATE_MIN_SIGMA).float().expand_as(reading.gate)
    err = (reading.gate.float() - target) ** 2 * live
    return err.sum() / live.sum().clamp_min(1.0)


def dmd_gradient(x: torch.Tensor, fake_x0: torch.Tensor, real_x0: torch.Tensor) -> torch.Tensor:
    """The DMD direction (DMD eq. 7–8, as Self-Forcing computes it): ``(fake_x0 − real_x0) / mean|x − real_x0|``,
    the mean taken per sample; non-finite values (a zero normaliser) become 0."""
    norm = (x - real_x0).abs().mean(dim=tuple(range(1, x.ndim)), keepdim=True)
    return torch.nan_to_num((fake_x0 - real_x0) / norm, nan=0.0, posinf=0.0, neginf=0.0)


def dmd_loss(x: torch.Tensor, fake_x0: torch.Tensor, real_x0: torch.Tensor) -> torch.Tensor:
    """``0.5·MSE(x, sg(x − g))`` with ``g`` = :func:`dmd_gradient`: a loss whose gradient in ``x`` is exactly
    ``g / x.numel()``, so an optimiser step moves the generator's sample against the DMD direction. The
    scores are constants (no gradient reaches the teacher or the critic)."""
    grad = dmd_gradient(x.detach(), fake_x0.detach(), real_x0.detach())
    return 0.5 * F.mse_loss(x, (x - grad).detach(), reduction="mean")


def dmd_sigma(shape: tuple[int, ...], shift: float, generator: torch.Generator, lo: float, hi: float) -> torch.Tensor:
    """DMD noise levels as Self-Forcing draws them: ``u ~ U(0, 1)``, shifted, then clamped to ``[lo, hi]``
    (the clamp comes after the shift, so at shift > 1 some mass sits at ``hi``)."""
    return sample_sigma(shape, shift, generator).clamp(lo, hi)


class DMDGeneratorLoss(nn.Module):
    """Self-Forcing DMD on the causal generator (see the module docstring).

    ``real``: the frozen teacher (bidirectional, interleave); ``critic``: the fake score. Neither gets a
    gradient from this loss (both run under ``torch.no_grad``). The rollout streams with the generator's
    own settings (``generator.streaming``: what its checkpoint carries, set by the stage builder); the DMD
    noise levels use the same shift.
    """

    def __init__(self, generator: RealCamDiT, real: RealCamDiT, critic: RealCamDiT, spec: DistillSpec) -> None:
        super().__init__()
        self.generator = generator
        self.spec = spec
        # not registered as submodules: DDP must not see (or synchronise) the teacher and the critic
        self._real, self._critic = [real], [critic]

    @property
    def streaming(self) -> StreamingConfig:
        return self.generator.streaming

    def rollout(self, batch: dict[str, torch.Tensor], generator: torch.Generator, shared: torch.Generator | None = None,
                grad_step: int | None = None):
        """Self-rollout of the whole clip through the inference code; returns (rollout, grad_step).

        The exit step is drawn from ``shared`` (a generator every process seeds alike), so all processes
        stop at the same step, as Self-Forcing's broadcast makes them; without it, from ``generator``."""
        b = _device_batch(batch, self.generator.device)
        cfg = self.streaming
        f = b["source"].shape[2]
        if f % cfg.chunk_latent_frames:
            raise ValueError(f"distillation streams chunks of {cfg.chunk_latent_frames} latent frames; the data has {f}")
        if grad_step is None:
            grad_step = int(torch.randint(len(cfg.denoising_steps), (1,), generator=shared or generator))
        seed = int(torch.randint(2**31, (1,), generator=generator))
        pixels = b.get("pixel_guide")
        session = StreamingSession(self.generator, b["context"], config=cfg, source=b["source"], seed=seed,
                                   pose12=b["pose12"], source_pose12=b.get("source_pose12"),
                                   pixel_guide=None if pixels is None else GuideLatents(pixels))
        return session.rollout(f // cfg.chunk_latent_frames, grad_step, cache_from=self.spec.cache_from), grad_step

    def scores(self, x: torch.Tensor, batch: dict[str, torch.Tensor], generator: torch.Generator):
        """(fake x0, real x0 with CFG, sigma) at a random DMD noise level, without autograd."""
        b = _device_batch(batch, x.device)
        bsz = x.shape[0]
        sigma = dmd_sigma((bsz,), self.streaming.shift, generator, self.spec.dmd_min, self.spec.dmd_max).to(x.device)
        s = sigma[:, None, None, None, None]
        x_t = renoise(x, torch.randn(x.shape, generator=generator).to(x), s)
        t = sigma * 1000
        real, critic = self._real[0], self._critic[0]
        with torch.no_grad():
            src_cams, pixels = b.get("source_pose12"), b.get("pixel_guide")
            fake_v = critic.velocity(b["source"], x_t, t, b["context"], b["pose12"], source_pose12=src_cams,
                                     pixel_guide=pixels)
            real_v = real.velocity(b["source"], x_t, t, b["context"], b["pose12"], source_pose12=src_cams,
                                   pixel_guide=pixels)
            g = self.spec.guidance_scale
            if g != 1.0:
                empty = torch.zeros_like(b["context"][:, :1])
                uncond = real.velocity(b["source"], x_t, t, empty, b["pose12"], source_pose12=src_cams,
                                       pixel_guide=pixels)
                real_v = uncond + g * (real_v - uncond)
        return to_x0(x_t, fake_v.float(), s), to_x0(x_t, real_v.float(), s), sigma

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator,
                shared: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        out, grad_step = self.rollout(batch, generator, shared)
        x = out.exit.float()
        fake_x0, real_x0, _ = self.scores(x.detach(), batch, generator)
        loss = dmd_loss(x, fake_x0, real_x0)
        grad = dmd_gradient(x.detach(), fake_x0, real_x0)
        return loss, {"dmd": float(loss.detach()), "exit_step": float(grad_step), "grad_norm_dmd": float(grad.abs().mean())}


class CriticLoss(nn.Module):
    """Flow matching of the fake score on (detached) generator samples from the same self-rollout code."""

    def __init__(self, critic: RealCamDiT, dmd: DMDGeneratorLoss) -> None:
        super().__init__()
        self.critic = critic
        self._dmd = [dmd]

    def forward(self, batch: dict[str, torch.Tensor], generator: torch.Generator,
                shared: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        dmd = self._dmd[0]
        with torch.no_grad():
            out, _ = dmd.rollout(batch, generator, shared)
        z0 = out.exit.float()
        b = _device_batch(batch, self.critic.device)
        sigma = sample_sigma((z0.shape[0],), dmd.streaming.shift, generator).to(z0.device)
        s = sigma[:, None, None, None, None]
        noise = torch.randn(z0.shape, generator=generator).to(z0)
        pred = self.critic.velocity(b["source"], (1 - s) * z0 + s * noise, sigma * 1000, b["context"], b["pose12"],
                                    source_pose12=b.get("source_pose12"), pixel_guide=b.get("pixel_guide"))
        loss = F.mse_loss(pred.float(), noise - z0)
        return loss, {"critic_fm": float(loss.detach())}
