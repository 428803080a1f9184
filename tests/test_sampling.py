"""Schedules and the teacher sampler."""
from __future__ import annotations

import pytest
import torch

from realcam.config import RECAMMASTER_CONDITIONING, TINY, ConditioningConfig
from realcam.model import RealCamDiT
from realcam.sampling import Interrupted, Sampler, flow_sigmas, sample_teacher, warp_timesteps
from tests.conftest import randomize_


def test_warped_step_lists():
    assert warp_timesteps([1000, 750, 500], 5.0) == pytest.approx([1000.0, 937.5, 833.3333], abs=1e-3)
    assert warp_timesteps([1000, 750, 500, 250], 5.0) == pytest.approx([1000.0, 937.5, 833.3333, 625.0], abs=1e-3)
    with pytest.raises(ValueError, match="decrease"):
        warp_timesteps([500, 750], 5.0)


def _gaussian_velocity(mu=0.7, sd=0.3):
    """Exact flow-matching velocity for data ~ N(mu, sd²): E[ε − x0 | x_σ]."""
    def v(x, s):
        var = (1 - s) ** 2 * sd**2 + s**2
        d = x - (1 - s) * mu
        return s / var * d - (mu + (1 - s) * sd**2 / var * d)
    return v


@pytest.mark.parametrize("steps", [4, 10, 25])
def test_unipc_matches_diffusers_flow_unipc(steps):
    from diffusers import UniPCMultistepScheduler

    v = _gaussian_velocity()
    ref = UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=3.0,
                                  solver_order=2, predict_x0=True, solver_type="bh2", lower_order_final=True)
    ref.set_timesteps(steps)
    x1 = torch.randn(2, 500, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = x1.clone()
    for i, t in enumerate(ref.timesteps):
        a = ref.step(v(a, float(ref.sigmas[i])), t, a).prev_sample
    ours = Sampler(torch.tensor([float(s) for s in ref.sigmas]), "unipc")
    b = x1.clone()
    for i in range(steps):
        b = ours.step(i, b, v(b, ours.sigmas[i]))
    assert (a - b).abs().max() < 1e-6
    # and it is a better integrator than Euler on the same grid
    exact = 0.7 + 0.3 * x1
    e = Sampler(torch.tensor([float(s) for s in ref.sigmas]), "euler")
    c = x1.clone()
    for i in range(steps):
        c = e.step(i, c, v(c, e.sigmas[i]))
    assert (b - exact).abs().mean() <= (c - exact).abs().mean()


def test_flow_sigmas_shift():
    s = flow_sigmas(4, 5.0)
    assert s[0] == 1.0 and s[-1] == 0.0
    assert float(s[2]) == pytest.approx(5 * 0.5 / (1 + 4 * 0.5))


def _teacher_model(cond=None, seed=0):
    return randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond or ConditioningConfig()), seed=seed).eval()


@pytest.mark.parametrize("video_frames", [17, 33])
def test_teacher_runs_at_any_length(video_frames):
    f = (video_frames - 1) // 4 + 1
    model = _teacher_model()
    g = torch.Generator().manual_seed(0)
    source = torch.randn(1, 16, f, 4, 6, generator=g)
    ctx, neg = torch.randn(2, 1, 5, TINY.text_dim, generator=g)
    poses = 0.2 * torch.randn(1, f, 12, generator=g)
    out = sample_teacher(model, source, ctx, pose12=poses, negative_context=neg, steps=4, guidance=3.0, seed=1)
    assert out.shape == source.shape and torch.isfinite(out).all() and out.std() > 0.05
    again = sample_teacher(model, source, ctx, pose12=poses, negative_context=neg, steps=4, guidance=3.0, seed=1)
    other = sample_teacher(model, source, ctx, pose12=poses, negative_context=neg, steps=4, guidance=3.0, seed=2)
    assert torch.equal(out, again) and not torch.allclose(out, other)


def test_teacher_algorithm_step_by_step():
    """CFG, clean source at every step, Euler update: checked against a loop written out here."""
    model = _teacher_model(seed=3)
    g = torch.Generator().manual_seed(1)
    source = torch.randn(1, 16, 3, 4, 4, generator=g)
    ctx, neg = torch.randn(2, 1, 4, TINY.text_dim, generator=g)
    poses = 0.2 * torch.randn(1, 3, 12, generator=g)
    seen_sources = []
    original = model.velocity

    def spy(src, *a, **k):
        seen_sources.append(src.clone())
        return original(src, *a, **k)
    model.velocity = spy
    out = sample_teacher(model, source, ctx, pose12=poses, negative_context=neg, steps=3, shift=3.0, guidance=4.0,
                         solver="euler", seed=5)
    model.velocity = original
    assert all(torch.equal(s, torch.cat([source, source])) for s in seen_sources) and len(seen_sources) == 3
    x = torch.randn(source.shape, generator=torch.Generator().manual_seed(5))
    sig = flow_sigmas(3, 3.0)
    with torch.no_grad():
        for i in range(3):
            t = torch.tensor([1000.0 * float(sig[i])])
            vp = model.velocity(source, x, t, ctx, poses)
            vn = model.velocity(source, x, t, neg, poses)
            x = x + float(sig[i + 1] - sig[i]) * (vn + 4.0 * (vp - vn))
    assert (out - x).abs().max() < 1e-5


def test_teacher_prefix_mode_with_recammaster_layout():
    model = _teacher_model(cond=RECAMMASTER_CONDITIONING, seed=4)
    g = torch.Generator().manual_seed(2)
    source = torch.randn(1, 16, 5, 4, 4, generator=g)
    ctx = torch.randn(1, 4, TINY.text_dim, generator=g)
    poses = 0.2 * torch.randn(1, 5, 12, generator=g)
    out = sample_teacher(model, source, ctx, pose12=poses, steps=3, guidance=1.0)
    interleaved = RealCamDiT(TINY, camera_layers=True)
    interleaved.load_state_dict(model.state_dict())
    other = sample_teacher(interleaved.eval(), source, ctx, pose12=poses, steps=3, guidance=1.0)
    assert torch.isfinite(out).all() and not torch.allclose(out, other)  # the layout matters


def test_teacher_progress_interrupt_and_errors():
    model = _teacher_model()
    source, ctx = torch.randn(1, 16, 2, 4, 4), torch.randn(1, 3, TINY.text_dim)
    calls = []
    sample_teacher(model, source, ctx, steps=3, guidance=1.0, progress=lambda i, n, x0: calls.append((i, n, x0.shape)))
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    with pytest.raises(Interrupted, match="after 2 of 5 steps"):
        sample_teacher(model, source, ctx, steps=5, guidance=1.0, should_stop=lambda: len(calls) >= 5,
                       progress=lambda i, n, x0: calls.append(i))
    with pytest.raises(ValueError, match="negative_context"):
        sample_teacher(model, source, ctx, steps=2, guidance=5.0)
