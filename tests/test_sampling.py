"""Schedules and the teacher sampler."""
from __future__ import annotations

import pytest
import torch

from realcam.config import RECAMMASTER_CONDITIONING, TINY, ConditioningConfig
from realcam.model import RealCamDiT
from realcam.sampling import Interrupted, Sampler, flow_sigmas, sample_teacher, warp_timesteps
from realcam.sampling.schedules import sigma_grid
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
                         solver="euler", grid="diffsynth", seed=5)
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


@pytest.mark.parametrize("lengths", [(512, 1), (600, 512)], ids=["prompt-vs-empty", "long-prompt-vs-negative"])
def test_cfg_with_contexts_of_different_token_counts(lengths, report):
    """A CLIPTextEncode prompt (umT5 pads to >= 512 tokens) against the 1-token empty negative, or a prompt
    longer than its negative: CFG must run, and give exactly two separate forwards' result (no padding).
    Before the fix both raised "Sizes of tensors must match" (the contexts were concatenated along the batch)."""
    n_pos, n_neg = lengths
    model = _teacher_model(seed=6)
    g = torch.Generator().manual_seed(3)
    source = torch.randn(1, 16, 3, 4, 4, generator=g)
    ctx = torch.randn(1, n_pos, TINY.text_dim, generator=g)
    neg = torch.zeros(1, 1, TINY.text_dim) if n_neg == 1 else torch.randn(1, n_neg, TINY.text_dim, generator=g)
    poses = 0.2 * torch.randn(1, 3, 12, generator=g)
    out = sample_teacher(model, source, ctx, pose12=poses, negative_context=neg, steps=3, shift=3.0, guidance=4.0,
                         solver="euler", grid="wan", seed=2)
    points = sigma_grid(3, 3.0, "wan")
    x = torch.randn(source.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for i in range(3):
            t = torch.tensor([float(points.timesteps[i])])
            vp, vn = model.velocity(source, x, t, ctx, poses), model.velocity(source, x, t, neg, poses)
            x = x + float(points.sigmas[i + 1] - points.sigmas[i]) * (vn + 4.0 * (vp - vn))
    err = float((out - x).abs().max())
    report(f"CFG with {n_pos}-token prompt vs {n_neg}-token negative: max |sampler - two forwards| {err:.1e} "
           "(before the fix: RuntimeError, sizes of tensors must match)")
    assert err < 1e-5


def _official_wan_grid(steps: int, shift: float):
    """Official Wan's FlowUniPCMultistepScheduler (num_train_timesteps 1000, built with shift 1, shifted in
    set_timesteps), written out from its source: sigma_max = float32 of 1 − alphas[0] = 0.999, sigma_min = 0."""
    import numpy as np

    alphas = np.linspace(1, 1 / 1000, 1000)[::-1].copy()
    table = torch.from_numpy(1.0 - alphas).to(torch.float32)
    sigma_max, sigma_min = table[0].item(), table[-1].item()
    sigmas = np.linspace(sigma_max, sigma_min, steps + 1).copy()[:-1]
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    timesteps = torch.from_numpy(sigmas * 1000).to(torch.int64)
    return torch.from_numpy(np.concatenate([sigmas, [0]]).astype(np.float32)), timesteps


@pytest.mark.parametrize("steps,shift", [(10, 5.0), (50, 5.0), (50, 3.0), (4, 8.0)])
def test_sigma_grids_equal_their_references(steps, shift, report):
    from diffusers import UniPCMultistepScheduler

    wan = sigma_grid(steps, shift, "wan")
    ref_sigmas, ref_t = _official_wan_grid(steps, shift)
    assert torch.equal(wan.sigmas.float(), ref_sigmas) and torch.equal(wan.timesteps.long(), ref_t)
    d = UniPCMultistepScheduler(use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=shift)
    d.set_timesteps(steps)
    ours = sigma_grid(steps, shift, "diffusers")
    assert torch.equal(ours.sigmas.float(), d.sigmas.float()) and torch.equal(ours.timesteps.long(), d.timesteps)
    ds = sigma_grid(steps, shift, "diffsynth")   # DiffSynth's FlowMatchScheduler(sigma_min=0, extra_one_step=True)
    base = torch.linspace(1, 0, steps + 1, dtype=torch.float64)[:-1]
    assert torch.allclose(ds.sigmas[:-1], shift * base / (1 + (shift - 1) * base), atol=0, rtol=1e-15)
    assert torch.equal(ds.timesteps, 1000 * ds.sigmas[:-1]) and ds.sigmas[-1] == 0
    report(f"{steps} steps, shift {shift}: max |σ| wan vs diffsynth {float((wan.sigmas - ds.sigmas).abs().max()):.1e}, "
           f"diffusers vs diffsynth {float((ours.sigmas - ds.sigmas).abs().max()):.1e} (before: only diffsynth's grid)")


def test_released_weights_sample_like_their_reference(tmp_path):
    """Files without RealCam metadata get their reference's sampling: ReCamMaster → DiffSynth's Euler, Wan →
    official UniPC; a RealCam checkpoint carries its own; the shipped ReCamMaster workflow matches."""
    import json
    from pathlib import Path

    from safetensors.torch import save_file

    from realcam.config import RECAMMASTER_SAMPLING, WAN_SAMPLING, TeacherSamplingConfig
    from realcam.weights import load_dit, save_realcam_checkpoint

    rm = _teacher_model(cond=RECAMMASTER_CONDITIONING)
    save_file({k: v.contiguous() for k, v in rm.state_dict().items()}, str(tmp_path / "recammaster.safetensors"))
    assert load_dit(tmp_path / "recammaster.safetensors", num_heads=TINY.num_heads).sampling == RECAMMASTER_SAMPLING
    assert RECAMMASTER_SAMPLING == TeacherSamplingConfig(steps=50, shift=5.0, guidance=5.0, solver="euler", grid="diffsynth")
    wan = RealCamDiT(TINY, camera_layers=False)
    save_file({k: v.contiguous() for k, v in wan.state_dict().items()}, str(tmp_path / "wan.safetensors"))
    assert load_dit(tmp_path / "wan.safetensors", num_heads=TINY.num_heads).sampling == WAN_SAMPLING
    model = _teacher_model()
    model.sampling = TeacherSamplingConfig(steps=7, shift=2.5, guidance=1.0, solver="euler", grid="diffusers")
    assert load_dit(save_realcam_checkpoint(model, tmp_path / "rc.safetensors")).sampling == model.sampling
    wf = json.loads((Path(__file__).parents[1] / "workflows" / "recammaster_prefix.api.json").read_text())
    node = next(n for n in wf.values() if n["class_type"] == "RealCamTeacherSampler")["inputs"]
    assert (node["steps"], node["cfg"], node["shift"], node["scheduler"], node["grid"]) == (50, 5.0, 5.0, "euler", "diffsynth")
