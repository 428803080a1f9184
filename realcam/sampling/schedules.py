"""Flow-matching schedules and solvers.

``x_t = (1 − σ)·x0 + σ·ε``; the network predicts ``v = ε − x0``; timesteps are ``t = 1000·σ``.
Shift (Wan, SD3): ``σ' = s·σ / (1 + (s − 1)·σ)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch

from ..config import check_shift

Solver = Literal["euler", "unipc"]
SOLVERS = ("euler", "unipc")


def shift_sigma(sigma: torch.Tensor | float, shift: float) -> torch.Tensor:
    check_shift("shift_sigma", shift)
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return shift * sigma / (1 + (shift - 1) * sigma)


def warp_timesteps(steps: Sequence[float], shift: float) -> list[float]:
    """A few-step list in [0, 1000] warped through the shift schedule:
    ``[1000, 750, 500]`` at shift 5 → ``[1000, 937.5, 833.33…]``."""
    if any(not 0 <= s <= 1000 for s in steps):
        raise ValueError(f"denoising steps must lie in [0, 1000], got {list(steps)}")
    if list(steps) != sorted(steps, reverse=True):
        raise ValueError(f"denoising steps must decrease, got {list(steps)}")
    return [float(shift_sigma(s / 1000.0, shift) * 1000.0) for s in steps]


def flow_sigmas(steps: int, shift: float) -> torch.Tensor:
    """``steps + 1`` decreasing sigmas from 1 to 0, shifted (float64): the ``diffsynth`` grid."""
    return sigma_grid(steps, shift, "diffsynth").sigmas


@dataclass(frozen=True)
class SigmaGridPoints:
    """A sampling grid: ``sigmas`` (``steps + 1`` values, float64, the last one 0) where the solver steps,
    and ``timesteps`` (``steps`` values) that the network is given at each of them."""

    sigmas: torch.Tensor
    timesteps: torch.Tensor

    def __len__(self) -> int:
        return len(self.timesteps)


def sigma_grid(steps: int, shift: float, grid: str = "wan") -> SigmaGridPoints:
    """The sampling grid of a reference implementation (see :class:`realcam.config.TeacherSamplingConfig`).

    - ``wan``: official Wan's ``FlowUniPCMultistepScheduler`` (built with shift 1, shifted at ``set_timesteps``):
      ``linspace(σ_max, 0, steps + 1)[:-1]`` with ``σ_max = float32(0.999)``, shifted, sigmas stored in
      float32, timesteps ``int64(1000·σ)`` (truncated), then a final σ = 0.
    - ``diffsynth``: DiffSynth-Studio's ``FlowMatchScheduler(sigma_min=0, extra_one_step=True)`` as ReCamMaster's
      inference uses it: ``linspace(1, 0, steps + 1)[:-1]``, shifted, float timesteps ``1000·σ``, final σ = 0.
    - ``diffusers``: diffusers' ``UniPCMultistepScheduler(use_flow_sigmas=True)``: ``linspace(1, 1/1000,
      steps + 1)[:-1]``, shifted, a first σ of 1 lowered by 1e-6, timesteps ``int64(1000·σ)``, final σ = 0.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"need a whole number of sampling steps >= 1, got {steps!r}")
    if grid == "wan":
        sigma_max = float(torch.tensor(0.999, dtype=torch.float32))
        base = torch.linspace(sigma_max, 0.0, steps + 1, dtype=torch.float64)[:-1]
        shifted = shift_sigma(base, shift)
        timesteps = (shifted * 1000).to(torch.int64).to(torch.float64)
        sigmas = shifted.to(torch.float32).to(torch.float64)
    elif grid == "diffsynth":
        shifted = shift_sigma(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)[:-1], shift)
        timesteps, sigmas = shifted * 1000, shifted
    elif grid == "diffusers":
        shifted = shift_sigma(torch.linspace(1.0, 1.0 / 1000, steps + 1, dtype=torch.float64)[:-1], shift)
        if abs(float(shifted[0]) - 1) < 1e-6:
            shifted[0] -= 1e-6
        timesteps = (shifted * 1000).to(torch.int64).to(torch.float64)
        sigmas = shifted.to(torch.float32).to(torch.float64)
    else:
        raise ValueError(f"sigma grid {grid!r}; choose 'wan', 'diffsynth' or 'diffusers'")
    return SigmaGridPoints(torch.cat([sigmas, sigmas.new_zeros(1)]), timesteps)


def to_x0(x_t: torch.Tensor, v: torch.Tensor, sigma: float) -> torch.Tensor:
    return x_t - sigma * v


def renoise(x0: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
    return (1 - sigma) * x0 + sigma * noise


Velocity = Callable[[torch.Tensor, float], torch.Tensor]  # (x_t, sigma) -> v


def _lambda(sigma: float) -> float:
    """log-SNR of flow matching, log((1 − σ)/σ)."""
    return math.log(1 - sigma) - math.log(sigma)


class Sampler:
    """Integrates the flow ODE over ``sigmas`` with ``euler`` or ``unipc``.

    ``unipc``: UniPC in data prediction with the bh2 variant, solver order 2, the UniC corrector, and
    order 1 on the first and last steps (the multistep family Wan's default scheduler uses).
    ``step(i, x, v)`` takes the velocity at ``sigmas[i]`` and returns x at ``sigmas[i+1]``; the caller
    owns the model calls, so it can apply CFG, report progress and check for interrupts between steps.
    """

    def __init__(self, sigmas: torch.Tensor, solver: Solver = "unipc") -> None:
        if solver not in SOLVERS:
            raise ValueError(f"solver {solver!r}; choose one of {SOLVERS}")
        self.sigmas = [float(s) for s in sigmas]
        if self.sigmas[0] >= 1.0:
            self.sigmas[0] = 1.0 - 1e-6 if solver == "unipc" else 1.0  # log-SNR needs σ < 1
        self.solver = solver
        self.history: list[tuple[float, torch.Tensor]] = []   # (σ, x0 prediction) of past model calls
        self.last_x: torch.Tensor | None = None
        self.last_order = 0

    def __len__(self) -> int:
        return len(self.sigmas) - 1

    def step(self, i: int, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        s = self.sigmas[i]
        if self.solver == "euler":
            return x + (self.sigmas[i + 1] - s) * v
        x0 = x - s * v
        if self.last_x is not None:
            x = self._update(self.last_x, s, self.last_order, corrector_x0=x0)  # UniC
        self.history.append((s, x0))
        self.history = self.history[-2:]
        order = min(2, len(self) - i, len(self.history))
        self.last_x, self.last_order = x, order
        return self._update(x, self.sigmas[i + 1], order)

    def _update(self, x: torch.Tensor, t: float, order: int, corrector_x0: torch.Tensor | None = None) -> torch.Tensor:
        """Predictor (``corrector_x0`` None) or corrector step from the newest history entry to σ=t."""
        s0, m0 = self.history[-1]
        if t <= 0:
            return m0
        alpha_t = 1 - t
        h = _lambda(t) - _lambda(s0)
        b_h = math.expm1(-h)                                   # bh2: B(h) = e^{−h} − 1
        x_t = (t / s0) * x - alpha_t * b_h * m0
        d1, rk = None, None
        if order == 2:
            s1, m1 = self.history[-2]
            rk = (_lambda(s1) - _lambda(s0)) / h
            d1 = (m1 - m0) / rk
        if corrector_x0 is None:
            return x_t if d1 is None else x_t - alpha_t * b_h * 0.5 * d1
        if d1 is None:
            return x_t - alpha_t * b_h * 0.5 * (corrector_x0 - m0)
        rho_1, rho_t = _unic_rhos(rk, h)
        return x_t - alpha_t * b_h * (rho_1 * d1 + rho_t * (corrector_x0 - m0))


def _unic_rhos(rk: float, h: float) -> tuple[float, float]:
    """Order-2 UniC weights: solve ``[[1, 1], [rk, 1]] ρ = b`` with ``b_k = k!·φ_{k+1}(−h)/B(h)``."""
    hh = -h
    b_h = math.expm1(hh)
    h_phi_k = math.expm1(hh) / hh - 1
    b, factorial = [], 1
    for k in (1, 2):
        b.append(h_phi_k * factorial / b_h)
        factorial *= k + 1
        h_phi_k = h_phi_k / hh - 1 / factorial
    sol = torch.linalg.solve(torch.tensor([[1.0, 1.0], [rk, 1.0]], dtype=torch.float64),
                             torch.tensor(b, dtype=torch.float64))
    return float(sol[0]), float(sol[1])
