"""The guide made from the source's pixels (``ConditioningConfig.pixel_guide_depth``, :mod:`realcam.guide`): what it
holds, that a stream encodes exactly the whole-path guide, and that a model given it starts as the file it was loaded
from."""
from __future__ import annotations

import math

import pytest
import torch

from realcam.camera import pose12, relative_poses
from realcam.camera.rays import reproject, latent_intrinsics
from realcam.config import ConditioningConfig, StreamingConfig, TINY
from realcam.guide import GuideLatents, PixelGuide
from realcam.model import RealCamDiT
from realcam.sampling import StreamingSession
from realcam.vae import VideoVAE
from realcam.vae.taehv import TinyVAE

from .conftest import randomize_

COND = ConditioningConfig(camera_tokens="rays", rope_positions="rays", source_cameras=True, source_warp=(2.0,),
                          source_warp_first=True, pixel_guide_depth=4.0)


def _vae() -> VideoVAE:
    torch.manual_seed(0)
    return VideoVAE(randomize_(TinyVAE(16, encoder_width=8, decoder_widths=(16, 8, 8, 8)), 1), "taehv-wan2.1").eval()


def _path(frames: int) -> torch.Tensor:
    """A pan with a sideways move: camera-to-world ``[frames, 4, 4]``."""
    c2w = torch.eye(4, dtype=torch.float64).repeat(frames, 1, 1)
    for k in range(frames):
        c, s = math.cos(0.05 * k), math.sin(0.05 * k)
        c2w[k, :3, :3] = torch.tensor([[c, 0, s], [0, 1, 0], [-s, 0, c]], dtype=torch.float64)
        c2w[k, 0, 3] = 0.1 * k
    return c2w


def test_the_guide_is_the_first_frame_as_each_target_camera_sees_the_plane_and_streams_exactly():
    """Latent frame k of the guide is the VAE's encoding of the source's first frame reprojected (on pixels, through
    the plane) into target camera k, held for the four frames the tiny encoder folds into it; encoded chunk by chunk
    it is the whole-path guide exactly; chunks must come in order."""
    vae = _vae()
    first = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    poses = pose12(relative_poses(_path(6), "first"))[None].float()
    guide = PixelGuide(vae, first, fov_deg=60.0, depth=4.0)
    whole = guide.encode(poses)
    video = guide.video(poses)
    assert video.shape == (1, 3, 24, 32, 32)
    c2w = _path(6)
    rel = relative_poses(c2w, "first")
    for k in (0, 3, 5):    # the same as the scene reprojection the probe and the geometry baselines use
        expected = reproject(first[0].permute(1, 2, 0)[None], torch.eye(4, dtype=torch.float64)[None], rel[k:k + 1],
                             latent_intrinsics(32, 32, 60.0), 4.0)[0].permute(2, 0, 1)
        for j in range(4):
            torch.testing.assert_close(video[0, :, 4 * k + j], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(whole, vae.encode(video).float(), atol=0, rtol=0)
    torch.testing.assert_close(video[0, :, 0], first[0], atol=1e-5, rtol=0)   # camera 0 is the reference itself
    streamed = PixelGuide(vae, first, fov_deg=60.0, depth=4.0)
    parts = [streamed.for_chunk(0, poses[:, :3]), streamed.for_chunk(3, poses[:, 3:])]
    torch.testing.assert_close(torch.cat(parts, dim=2), whole, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="expected latent frame 6, got 3"):
        streamed.for_chunk(3, poses[:, 3:])
    streamed.restart()
    torch.testing.assert_close(streamed.for_chunk(0, poses[:, :3]), whole[:, :, :3], atol=1e-6, rtol=0)


def test_a_session_encodes_the_guide_as_it_streams_and_steering_changes_it():
    """The student reads each chunk's guide made from that chunk's cameras: a session that encodes the guide as it
    streams gives exactly the latents of one handed the whole-path guide already encoded (as training is); a camera
    steered before a chunk changes that chunk's guide; a model without its guide is refused with what to pass."""
    vae = _vae()
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=COND), seed=3).float().eval()
    first = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    source = torch.randn(1, 16, 6, 4, 4, generator=torch.Generator().manual_seed(4))
    ctx = torch.zeros(1, 1, TINY.text_dim)
    cfg = StreamingConfig(sink_chunks=1, window_chunks=1)
    path = _path(6)

    def run(pixel_guide, steer: torch.Tensor | None = None) -> torch.Tensor:
        session = StreamingSession(model, ctx, config=cfg, source=source, camera=path, seed=7, pixel_guide=pixel_guide)
        out = [session.step().latents]
        if steer is not None:
            session.set_camera(steer)
        return torch.cat(out + [session.step().latents], dim=2)

    live = run(PixelGuide(vae, first, fov_deg=60.0, depth=4.0))
    encoded = PixelGuide(vae, first, fov_deg=60.0, depth=4.0).encode(pose12(relative_poses(path, "first"))[None].float())
    torch.testing.assert_close(live, run(GuideLatents(encoded)), atol=1e-6, rtol=0)
    assert not torch.allclose(live, run(GuideLatents(torch.zeros_like(encoded))), atol=1e-3)
    turned = path[3:].clone()
    turned[:, 0, 3] -= 0.5
    steered = run(PixelGuide(vae, first, fov_deg=60.0, depth=4.0), steer=turned)
    torch.testing.assert_close(steered[:, :, :3], live[:, :, :3], atol=0, rtol=0)
    assert not torch.allclose(steered[:, :, 3:], live[:, :, 3:], atol=1e-3)
    with pytest.raises(ValueError, match="pass pixel_guide="):
        StreamingSession(model, ctx, config=cfg, source=source, camera=path)


def test_a_model_given_the_pixel_guide_starts_as_its_file_and_keeps_it(tmp_path):
    """Loading a file without the pixel guide with ``pixel_guide_depth`` adds zero weights for it after the file's
    own reprojections, so the model computes exactly what the file's does whatever guide it is given; a file that
    reads it cannot be loaded without it; forward passes without the guide are refused."""
    from realcam.weights import WeightsError, load_dit, save_realcam_checkpoint

    file_cond = COND.replace(pixel_guide_depth=0.0)
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=file_cond), seed=4).eval()
    path = save_realcam_checkpoint(model, tmp_path / "file.safetensors")
    model = load_dit(path, dtype=torch.float32)
    pixels = load_dit(path, dtype=torch.float32, conditioning=COND)
    c = TINY.in_dim
    assert pixels.guide_embedding.weight.shape[1] == 3 * c and not pixels.guide_embedding.weight[:, 2 * c:].any()
    assert torch.equal(pixels.guide_embedding.weight[:, :2 * c], model.guide_embedding.weight)
    assert any("(added: pixels 4)" in n for n in pixels.load_info.notes)
    g = torch.Generator().manual_seed(5)
    src, tgt, guide = torch.randn(3, 1, 16, 3, 4, 4, generator=g)
    ctx, t = torch.randn(1, 3, TINY.text_dim, generator=g), torch.tensor([700.0])
    pose = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    pose[0, 1:, 3] = 0.4
    with torch.no_grad():
        torch.testing.assert_close(pixels.velocity(src, tgt, t, ctx, pose, pixel_guide=guide),
                                   model.velocity(src, tgt, t, ctx, pose), rtol=0, atol=1e-5)
        with pytest.raises(ValueError, match="pass pixel_guide="):
            pixels.velocity(src, tgt, t, ctx, pose)
        with pytest.raises(ValueError, match=r"pixel guide must be \(1, 16, 3, 4, 4\)"):
            pixels.velocity(src, tgt, t, ctx, pose, pixel_guide=guide[:, :, :2])
    saved = save_realcam_checkpoint(pixels, tmp_path / "pixels.safetensors")
    assert load_dit(saved).conditioning.pixel_guide_depth == 4.0
    with pytest.raises(WeightsError, match="pixel_guide_depth 4, .*keep every"):
        load_dit(saved, conditioning=file_cond)
    with pytest.raises(ValueError, match="pixel_guide_depth needs camera_tokens='rays'"):
        ConditioningConfig(pixel_guide_depth=4.0)
    with pytest.raises(ValueError, match="pixel_guide_depth=-1"):
        ConditioningConfig(camera_tokens="rays", pixel_guide_depth=-1)


def _velocity_inputs():
    """Source, target and guide latents ``[1, 16, 3, 4, 4]``, a text context and three target poses that move."""
    g = torch.Generator().manual_seed(8)
    src, tgt, guide = torch.randn(3, 1, 16, 3, 4, 4, generator=g)
    ctx = torch.randn(1, 3, TINY.text_dim, generator=g)
    pose = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    pose[0, 1:, 3] = 0.4
    return src, tgt, guide, ctx, pose


def test_the_guide_gate_starts_closed_and_an_open_gate_returns_the_guide(tmp_path):
    """``pixel_guide_skip``: a file without the gate loads with one that outputs zero, so the model computes exactly what
    the file's does; where the gate is open (g = 1) the clean estimate of every target frame is the pixel guide itself
    (σ ≥ ``GATE_MIN_SIGMA``), fading to the model's own estimate below it; a streaming session whose gate is open streams
    the guide; the option round-trips through a checkpoint and needs the pixel guide."""
    from realcam.weights import load_dit, save_realcam_checkpoint

    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=COND), seed=6).eval()
    path = save_realcam_checkpoint(model, tmp_path / "file.safetensors")
    model = load_dit(path, dtype=torch.float32)
    gated = load_dit(path, dtype=torch.float32, conditioning=COND.replace(pixel_guide_skip=True))
    assert any("no guide_gate in the file" in n for n in gated.load_info.notes)
    src, tgt, guide, ctx, pose = _velocity_inputs()
    with torch.no_grad():
        for t in (900.0, 300.0, 20.0):
            tt = torch.tensor([t])
            torch.testing.assert_close(gated.velocity(src, tgt, tt, ctx, pose, pixel_guide=guide),
                                       model.velocity(src, tgt, tt, ctx, pose, pixel_guide=guide), rtol=0, atol=0)
        torch.nn.init.constant_(gated.guide_gate.head.bias, 1.0)       # open everywhere
        for t in (900.0, 300.0):
            x0 = tgt - t / 1000 * gated.velocity(src, tgt, torch.tensor([t]), ctx, pose, pixel_guide=guide)
            torch.testing.assert_close(x0, guide, rtol=0, atol=1e-5)
        own = tgt - 0.02 * model.velocity(src, tgt, torch.tensor([20.0]), ctx, pose, pixel_guide=guide)
        x0 = tgt - 0.02 * gated.velocity(src, tgt, torch.tensor([20.0]), ctx, pose, pixel_guide=guide)
        share = 0.02 / RealCamDiT.GATE_MIN_SIGMA
        torch.testing.assert_close(x0, own + share * (guide - own), rtol=0, atol=1e-5)
    cfg = StreamingConfig(sink_chunks=1, window_chunks=1)
    g = torch.Generator().manual_seed(9)
    encoded = torch.randn(1, 16, 6, 4, 4, generator=g)
    session = StreamingSession(gated, ctx[:, :1], config=cfg, source=torch.randn(1, 16, 6, 4, 4, generator=g),
                               camera=_path(6), seed=7, pixel_guide=GuideLatents(encoded))
    streamed = torch.cat([session.step().latents, session.step().latents], dim=2)
    assert min(cfg.denoising_steps) / 1000 >= RealCamDiT.GATE_MIN_SIGMA    # (shifted, each step is higher still)
    torch.testing.assert_close(streamed.float(), encoded, rtol=0, atol=1e-4)
    saved = save_realcam_checkpoint(gated, tmp_path / "gated.safetensors")
    assert load_dit(saved).conditioning.pixel_guide_skip
    with pytest.raises(ValueError, match="pixel_guide_skip=true needs pixel_guide_depth"):
        COND.replace(pixel_guide_depth=0.0, pixel_guide_skip=True)
    with pytest.raises(ValueError, match="pixel_guide_skip='yes'; give true or false"):
        COND.replace(pixel_guide_skip="yes")


def _set_by_command(command: str, path, out, *args: str) -> str:
    """``python -m realcam <command> --weights path ... --out out`` (set-guide-sweep, set-guide-strength): it succeeds
    and leaves the tensors and every metadata entry but the conditioning as they were; its printout."""
    import subprocess
    import sys

    from realcam.weights import read_state_dict

    done = subprocess.run([sys.executable, "-m", "realcam", command, "--weights", str(path), *args, "--out", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (a, meta_a), (b, meta_b) = read_state_dict(path), read_state_dict(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert {k: v for k, v in meta_a.items() if k != "conditioning"} == {k: v for k, v in meta_b.items() if k != "conditioning"}
    return done.stdout


def _arc_case(vae: VideoVAE):
    """A 13-frame 32-px source filmed along an arc, encoded; its path; a target that rises as it goes."""
    from realcam.camera.trajectory import Trajectory
    from realcam.pipeline import encode_video

    frames, rel, _, _, _, _ = _filmed("arc_right", frames=13, size=32)
    source = encode_video(vae, frames.permute(0, 2, 3, 1).contiguous())
    target = Trajectory(torch.eye(4, dtype=torch.float64).repeat(13, 1, 1))
    target.c2w[:, 1, 3] = torch.linspace(0, -0.5, 13, dtype=torch.float64)
    return source, Trajectory(rel[:13]), target


def test_the_guide_strength_scales_the_gates_share_of_a_swept_guide_up_to_all_of_it(tmp_path):
    """``pixel_guide_strength`` s: the gate g becomes min(s·g, max(g, 1)) — scaled, capped at the whole guide unless
    the model itself takes more — so a gate at half takes the whole guide at s = 2 and a shut one stays shut; at s = 1
    the model is exactly the one trained. It acts where the guide is swept (a render with the source's path, whose
    motion shows depth), not on the one-plane guide of a render without it or of a still source, nor in training.
    ``set-guide-strength`` writes it (tensors untouched); it needs the gate and a strength from 0 to 4."""
    import subprocess
    import sys

    from realcam.camera.trajectory import Trajectory
    from realcam.pipeline import render_stream, render_teacher, text_context
    from realcam.weights import WeightsError, load_dit, save_realcam_checkpoint, set_guide_strength

    share = RealCamDiT.guide_share
    gate = torch.tensor([-0.2, 0.0, 0.3, 0.5, 0.8, 1.0, 1.2])
    assert share(gate, 1.0) is gate
    torch.testing.assert_close(share(gate, 1.5), torch.tensor([-0.3, 0.0, 0.45, 0.75, 1.0, 1.0, 1.2]))
    torch.testing.assert_close(share(gate, 0.5), gate / 2)

    cond = COND.replace(source_cameras=False, rope_positions="grid", pixel_guide_skip=True, pixel_guide_sweep=SWEEP)
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=6).eval()
    path = save_realcam_checkpoint(model, tmp_path / "gated.safetensors")
    out = tmp_path / "strong.safetensors"
    assert "pixel guide strength 2" in _set_by_command("set-guide-strength", path, out, "--strength", "2")
    one, two = load_dit(path, dtype=torch.float32), load_dit(out, dtype=torch.float32)
    assert two.conditioning == one.conditioning.replace(pixel_guide_strength=2.0)
    assert (one.guide_strength(True), two.guide_strength(True), two.guide_strength(False)) == (1.0, 2.0, 1.0)
    src, tgt, guide, ctx, pose = _velocity_inputs()
    with torch.no_grad():
        torch.nn.init.zeros_(one.guide_gate.head.weight)                # half open everywhere
        torch.nn.init.constant_(one.guide_gate.head.bias, 0.5)
        t = torch.tensor([600.0])
        x0 = lambda **kw: tgt - 0.6 * one.velocity(src, tgt, t, ctx, pose, pixel_guide=guide, **kw)  # noqa: E731
        own = x0()
        gate_head, one.guide_gate = one.guide_gate, None                # the model's own estimate, before the gate
        bare = x0()
        one.guide_gate = gate_head
        torch.testing.assert_close(own, bare + 0.5 * (guide - bare), rtol=0, atol=1e-5)
        torch.testing.assert_close(x0(guide_strength=2.0), guide, rtol=0, atol=1e-5)
        torch.testing.assert_close(x0(guide_strength=1.5), bare + 0.75 * (guide - bare), rtol=0, atol=1e-5)

    # renders: the strength changes the swept guide's render (the source's path given), not the one-plane one's
    source, src_path, target = _arc_case(_vae())
    plain, strong = load_dit(path, dtype=torch.float32), load_dit(out, dtype=torch.float32)
    for m in (plain, strong):                                           # a gate that takes a part of the guide
        torch.nn.init.constant_(m.guide_gate.head.bias, 0.3)
    stream = lambda m, camera: render_stream(m, source, target, text_context(m), seed=1,  # noqa: E731
                                             source_camera=camera).latents
    teach = lambda m, camera: render_teacher(m, source, target, text_context(m), seed=1, steps=2,  # noqa: E731
                                             source_camera=camera)
    still = Trajectory(torch.eye(4, dtype=torch.float64).repeat(13, 1, 1))   # a path whose motion shows no depth
    for render in (stream, teach):
        torch.testing.assert_close(render(strong, None), render(plain, None), rtol=0, atol=0)
        torch.testing.assert_close(render(strong, still), render(plain, still), rtol=0, atol=0)
        assert not torch.allclose(render(strong, src_path), render(plain, src_path), atol=1e-4)

    ungated = save_realcam_checkpoint(randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(
        pixel_guide_skip=False)), seed=6), tmp_path / "ungated.safetensors")
    with pytest.raises(ValueError, match="pixel_guide_strength=2.0 needs pixel_guide_skip"):
        set_guide_strength(ungated, tmp_path / "bad.safetensors", 2.0)
    with pytest.raises(ValueError, match="pixel_guide_strength=5.0; give a number from 0 to 4"):
        set_guide_strength(path, tmp_path / "bad.safetensors", 5.0)
    no_guide = save_realcam_checkpoint(randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=COND.replace(
        pixel_guide_depth=0.0, source_warp_first=True)), seed=6), tmp_path / "no_guide.safetensors")
    with pytest.raises(WeightsError, match="reads no pixel guide"):
        set_guide_strength(no_guide, tmp_path / "bad.safetensors", 2.0)
    done = subprocess.run([sys.executable, "-m", "realcam", "set-guide-strength", "--weights", str(path), "--strength",
                           "-1"], capture_output=True, text=True)
    assert done.returncode != 0 and "set-guide-strength: conditioning pixel_guide_strength=-1.0" in done.stderr
    assert not (tmp_path / "bad.safetensors").exists()


def test_the_gate_loss_teaches_the_gate_where_the_guide_beats_the_models_own_estimate():
    """``guide_gate_weight``: the model hands back its gate and its own velocity before the gate (``GateReading``, the
    velocity exactly that of the same model without the gate); the target is 1 where the guide's error is below the
    model's own and 0 elsewhere; the term counts only noise levels where the gate acts in full, is zero for a gate that
    equals its target, and training on it moves the gate towards the target; a model without the gate, or a batch
    without the guide, is refused."""
    from realcam.model import GateReading
    from realcam.train.losses import FlowMatchingLoss, gate_loss, gate_target

    torch.manual_seed(0)
    plain = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=COND), seed=3).eval()
    gated = RealCamDiT(TINY, camera_layers=True, conditioning=COND.replace(pixel_guide_skip=True)).eval()
    gated.load_state_dict(plain.state_dict(), strict=False)
    torch.nn.init.constant_(gated.guide_gate.head.bias, 0.3)
    g = torch.Generator().manual_seed(1)
    src, tgt, guide = torch.randn(3, 1, 16, 3, 4, 4, generator=g)
    ctx = torch.randn(1, 3, TINY.text_dim, generator=g)
    pose = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    reading = GateReading()
    with torch.no_grad():
        gated.velocity(src, tgt, torch.tensor([500.0]), ctx, pose, pixel_guide=guide, reading=reading)
        own = plain.velocity(src, tgt, torch.tensor([500.0]), ctx, pose, pixel_guide=guide)
    torch.testing.assert_close(reading.velocity, own, rtol=0, atol=1e-6)
    torch.testing.assert_close(reading.gate, torch.full_like(own, 0.3), rtol=0, atol=1e-6)

    z0 = torch.zeros(1, 2, 1, 1, 3)
    model_x0 = torch.full_like(z0, 0.5)
    near_far = torch.tensor([0.1, 0.9, 0.5]).expand_as(z0)      # guide better, worse, level (level is not better)
    assert gate_target(model_x0, near_far, z0).flatten().tolist() == [1.0, 0.0, 0.0]

    x_t = torch.zeros(2, 2, 1, 1, 3)
    sigma = torch.tensor([0.5, 0.01]).reshape(2, 1, 1, 1, 1)     # the second sample sits below GATE_MIN_SIGMA
    right = GateReading(gate=torch.tensor([1.0, 0.0, 0.0]).expand(2, 2, 1, 1, 3), velocity=torch.full_like(x_t, -1.0))
    batch_guide, batch_z0 = near_far.expand(2, -1, -1, -1, -1), z0.expand(2, -1, -1, -1, -1)
    assert gate_loss(right, x_t, sigma, batch_z0, batch_guide) == 0
    wrong_below = GateReading(gate=torch.cat([right.gate[:1], 1 - right.gate[1:]]), velocity=right.velocity)
    assert gate_loss(wrong_below, x_t, sigma, batch_z0, batch_guide) == 0
    assert gate_loss(GateReading(gate=1 - right.gate, velocity=right.velocity), x_t, sigma, batch_z0, batch_guide) == 1

    gated.train()
    loss_fn = FlowMatchingLoss(gated, gate_weight=100.0)     # the gate term dominates the random model's flow matching
    batch = {"source": src, "target": tgt, "context": ctx, "pose12": pose, "pixel_guide": guide}
    opt = torch.optim.SGD(gated.guide_gate.parameters(), lr=2e-3)
    first = None
    for step in range(6):
        loss, metrics = loss_fn(batch, generator=torch.Generator().manual_seed(step % 2))
        first = first if first is not None else metrics["gate"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert metrics["gate"] < 0.5 * first
    with pytest.raises(ValueError, match="guide_gate_weight=1.0: the model has no gate"):
        FlowMatchingLoss(plain, gate_weight=1.0)
    with pytest.raises(ValueError, match="this model reads the source's first frame reprojected"):
        loss_fn({k: v for k, v in batch.items() if k != "pixel_guide"}, generator=torch.Generator().manual_seed(0))


SWEEP = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.5, 8.5, 12.0, 20.0, 1e4)


def test_the_share_target_is_the_blend_of_the_guide_nearest_the_truth():
    """``guide_gate_target: share``: the gate is regressed onto the least-squares share ``a`` of the guide that brings the
    model's estimate nearest the truth over channels, clamped to [0, 1] (0 where the guide adds nothing); taking that
    share never leaves the estimate farther from the truth than either end, and a finer share than the 0/1 target
    leaves less error where the guide is half right. The loss takes the kind it was built with; an unknown one is
    refused."""
    from realcam.model import GateReading
    from realcam.train.losses import FlowMatchingLoss, gate_loss, gate_target

    x0 = torch.zeros(1, 2, 1, 1, 5)
    z0 = torch.tensor([[1.0, 1.0, -1.0, 0.3, 0.0], [0.0, 1.0, -1.0, 0.0, 0.0]]).reshape(1, 2, 1, 1, 5)
    guide = torch.tensor([[1.0, 0.5, 1.0, 0.0, 0.0], [1.0, 0.5, 1.0, 0.0, 0.0]]).reshape(1, 2, 1, 1, 5)
    # half right; overshoots (share 2, clamped); the wrong way (clamped to 0); the guide adds nothing (twice)
    share = gate_target(x0, guide, z0, "share")
    assert share.shape == (1, 1, 1, 1, 5)
    torch.testing.assert_close(share.flatten(), torch.tensor([0.5, 1.0, 0.0, 0.0, 0.0]))
    assert gate_target(x0, guide, z0).flatten().tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]

    g = torch.Generator().manual_seed(0)
    x0, guide, z0 = torch.randn(3, 1, 4, 2, 3, 3, generator=g)
    blended = x0 + gate_target(x0, guide, z0, "share") * (guide - x0)
    err = lambda est: ((est - z0) ** 2).sum(dim=1)  # noqa: E731
    assert (err(blended) <= torch.minimum(err(x0), err(guide)) + 1e-6).all()
    picked = x0 + gate_target(x0, guide, z0) * (guide - x0)
    assert err(blended).sum() < err(picked).sum()

    x_t, sigma = torch.zeros(1, 2, 1, 1, 5), torch.tensor([0.5]).reshape(1, 1, 1, 1, 1)
    z0 = torch.tensor([[1.0, 1.0, -1.0, 0.3, 0.0], [0.0, 1.0, -1.0, 0.0, 0.0]]).reshape(1, 2, 1, 1, 5)
    guide = torch.tensor([[1.0, 0.5, 1.0, 0.0, 0.0], [1.0, 0.5, 1.0, 0.0, 0.0]]).reshape(1, 2, 1, 1, 5)
    half = GateReading(gate=torch.tensor([0.5, 1.0, 0.0, 0.0, 0.0]).expand(1, 2, 1, 1, 5), velocity=torch.zeros_like(x_t))
    assert gate_loss(half, x_t, sigma, z0, guide, "share") == 0
    assert gate_loss(half, x_t, sigma, z0, guide) == pytest.approx(0.25 / 5)
    plain = RealCamDiT(TINY, camera_layers=True, conditioning=COND.replace(pixel_guide_skip=True))
    assert FlowMatchingLoss(plain, gate_weight=1.0, gate_target="share").gate_target == "share"
    with pytest.raises(ValueError, match="gate_target 'half'; choose one of"):
        FlowMatchingLoss(plain, gate_weight=1.0, gate_target="half")


def _filmed(preset: str, frames: int = 17, seed: int = 3, size: int = 64):
    """A procedural world-v2 scene filmed along ``preset`` from a start pose: (frames [F, 3, H, W], c2w relative to the
    first camera [F, 4, 4], depth of frame 0 [H, W], K, the scene and the start pose)."""
    from realcam.camera.presets import preset_trajectory
    from realcam.data.synth import camera_paths, intrinsics, random_scene, render

    g = torch.Generator().manual_seed(seed)
    scene = random_scene(g, "v2")
    start = camera_paths(g, 1, 2, "preset")[0][0]
    rel = preset_trajectory(preset, frames).c2w
    K = intrinsics((size, size))
    rgb, depth = render(scene, start @ rel, K, (size, size), torch.arange(frames))
    return rgb.permute(0, 3, 1, 2), rel, depth[0], K, scene, start


def test_the_plane_sweep_finds_the_depth_a_moving_camera_shows_and_keeps_the_plane_where_it_cannot():
    """A camera that moves sideways shows depth: the sweep's depth of the first frame agrees with the renderer's (in
    inverse depth, within about one plane's step, on most pixels it decides); a camera that only turns shows none: every
    pixel keeps the fallback plane."""
    from realcam.camera.rays import plane_sweep_depth

    frames, rel, true, K, _, _ = _filmed("arc_right")
    est = plane_sweep_depth(frames, rel, K, SWEEP, fallback=4.0)
    assert est.shape == true.shape and set(est.unique().tolist()) <= set(SWEEP)
    decided = est != 4.0
    assert decided.float().mean() > 0.5
    err = (1 / est - 1 / true.double().clamp(max=1e4)).abs()[decided]
    assert (err < 0.1).float().mean() > 0.7, f"inverse-depth error: median {err.median():.3f}"
    turned, rel_t, _, K, _, _ = _filmed("pan_right")
    assert torch.equal(plane_sweep_depth(turned, rel_t, K, SWEEP, fallback=4.0), torch.full_like(est, 4.0))
    with pytest.raises(ValueError, match=r"frames \[F, 3, H, W\] with c2w \[F, 4, 4\]"):
        plane_sweep_depth(frames, rel[:3], K, SWEEP, fallback=4.0)


def test_semi_global_aggregation_carries_the_depth_across_a_plain_region():
    """A camera moving sideways past a textured wall 2 m ahead with a plain square in its middle: inside the square
    every plane that keeps the samples within it costs nothing, so the sweep alone picks one of them at random (the
    first: a near one); aggregated semi-globally (``smooth``), the square takes the wall's depth from its textured
    surroundings. Where the texture decides, both agree with the wall; bad penalties are refused by name."""
    from realcam.camera.rays import plane_sweep_depth, semi_global_costs
    from realcam.data.synth import intrinsics

    size, n = 48, 9
    K = intrinsics((size, size))
    texture = torch.rand(size, size, 3, generator=torch.Generator().manual_seed(0))
    texture = torch.nn.functional.avg_pool2d(texture.permute(2, 0, 1)[None], 3, 1, 1, count_include_pad=False)[0].permute(1, 2, 0)
    texture[14:34, 14:34] = torch.tensor([0.3, 0.5, 0.7])                       # the plain square
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 0.4, n, dtype=torch.float64)               # 0.4 m to the right
    frames = reproject(texture[None].expand(n, -1, -1, -1), torch.eye(4, dtype=torch.float64).expand(n, 4, 4), c2w, K,
                       2.0).permute(0, 3, 1, 2)
    alone = plane_sweep_depth(frames, c2w, K, SWEEP, fallback=4.0)
    smooth = plane_sweep_depth(frames, c2w, K, SWEEP, fallback=4.0, smooth=(0.02, 0.08))
    inside, around = (slice(20, 28), slice(20, 28)), torch.ones(size, size, dtype=torch.bool)
    around[10:38, 10:38] = False
    around[:, -8:] = False                                                      # what the later frames do not see
    assert (alone[inside] == 2.0).float().mean() < 0.2
    assert (smooth[inside] == 2.0).float().mean() > 0.9
    assert (smooth[around] == 2.0).float().mean() >= (alone[around] == 2.0).float().mean() > 0.75
    with pytest.raises(ValueError, match="0 <= p1 <= p2"):
        semi_global_costs(torch.zeros(3, 4, 4), 0.1, 0.05)


def test_the_sweeps_differences_vanish_through_the_true_depth_and_the_layers_say_what_they_cover():
    """``sweep_differences`` through a per-pixel depth: a camera moving sideways past a textured wall 2 m ahead, compared
    through the wall's depth given as a map, differs from frame 0 only by resampling where a later frame sees the pixel, and
    through the wall's plane given as a number exactly alike; through another depth it differs many times more. ``reproject_layers``:
    a target at the first camera is covered everywhere by the wall's layer, one moved 0.5 m to the right sees a strip
    on its right that no layer covers (about f·0.5 / 2 px wide), where ``layered_reproject`` shows the fallback
    (``plane_views``) and elsewhere the layers."""
    from realcam.camera.rays import layered_reproject, plane_views, reproject_layers, sweep_differences
    from realcam.data.synth import intrinsics

    size, n = 48, 9
    K = intrinsics((size, size))
    coarse = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(1))          # smooth: resampling keeps it
    texture = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear")[0].permute(1, 2, 0)
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, 0, 3] = torch.linspace(0, 0.4, n, dtype=torch.float64)
    frames = reproject(texture[None].expand(n, -1, -1, -1), torch.eye(4, dtype=torch.float64).expand(n, 4, 4), c2w, K,
                       2.0).permute(0, 3, 1, 2)
    diff, valid = sweep_differences(frames, c2w, K, torch.full((size, size), 2.0, dtype=torch.float64))
    assert diff.shape == valid.shape == (4, 1, size, size) and valid[:, :, :, size // 2:].min() == 1
    inner = valid.bool()                                                  # the left edge leaves the later frames
    assert float(diff[inner].mean()) < 0.02 and float(valid[-1, :, :, :4].max()) == 0
    same, _ = sweep_differences(frames, c2w, K, 2.0)
    assert torch.equal(same, diff)
    off, _ = sweep_differences(frames, c2w, K, 1.0)
    assert float(off[inner].mean()) > 20 * float(diff[inner].mean())
    target = torch.eye(4, dtype=torch.float64).repeat(2, 1, 1)
    target[1, 0, 3] = 0.5
    wall = torch.full((1, size, size), 2.0, dtype=torch.float64)
    layers, cover = reproject_layers(frames[:1], wall, target[None], K)
    torch.testing.assert_close(layered_reproject(frames[:1], wall, target[None], K, fallback=4.0),
                               layers + (1 - cover) * plane_views(frames[:1], target[None], K, 4.0), atol=0, rtol=0)
    assert cover.shape == (1, 1, 2, size, size) and float(cover[0, 0, 0].min()) > 0.999
    strip = 1 - cover[0, 0, 1].mean(0)                                    # per column: the share not covered
    width = float(K[0, 0]) * 0.5 / 2.0
    assert abs(float((strip > 0.5).sum()) - width) <= 1.5 and float(strip[: size // 2].max()) < 1e-3


def test_the_guide_through_the_swept_depth_shows_the_parallax_the_one_plane_misses():
    """Reprojected through the depth the source's own sideways motion shows, the first frame is closer to what a camera
    that moves elsewhere sees (the renderer's truth) than through the one plane: over four scenes and three moves
    (arc, vertical move, dolly), by more than 1.5 dB on average and in at least 10 of the 12; through a single depth
    the layered reprojection is that plane's, ahead of the first camera (away from the picture's edge): a dolly comes
    nearer to it."""
    from realcam.camera.presets import preset_trajectory
    from realcam.camera.rays import layered_reproject, plane_sweep_depth
    from realcam.data.synth import render
    from realcam.metrics import psnr

    gains = []
    for seed in range(4):
        frames, rel, _, K, scene, start = _filmed("arc_right", seed=seed)
        depth = plane_sweep_depth(frames, rel, K, SWEEP, fallback=4.0)
        first = frames[:1]
        for move in ("arc_left", "translate_down", "zoom_in"):
            target = preset_trajectory(move, 9).c2w
            truth = render(scene, start @ target, K, (64, 64), torch.zeros(9, dtype=torch.long))[0]
            layered = layered_reproject(first, depth[None], target[None], K, fallback=4.0)[0].permute(1, 2, 3, 0)
            plane = reproject(first.permute(0, 2, 3, 1).expand(9, -1, -1, -1),
                              torch.eye(4, dtype=torch.float64).expand(9, 4, 4), target, K, 4.0)
            gains.append(psnr(layered, truth) - psnr(plane, truth))
    assert sum(gains) / len(gains) > 1.5 and sum(g > 0 for g in gains) >= 10, gains
    # a single depth is one plane 4 m ahead of the first camera: a dolly (the last move) comes 4 − t_z metres from it
    one = layered_reproject(first, torch.full((1, 64, 64), 4.0, dtype=torch.float64), target[None], K, fallback=4.0)
    nearer = reproject(first.permute(0, 2, 3, 1).expand(9, -1, -1, -1), torch.eye(4, dtype=torch.float64).expand(9, 4, 4),
                       target, K, (4.0 - target[:, 2, 3])[:, None, None].expand(9, 64, 64))
    assert target[-1, 2, 3] > 1 and torch.equal(target[:, :3, :3], torch.eye(3, dtype=torch.float64).expand(9, 3, 3))
    torch.testing.assert_close(one[0].permute(1, 2, 3, 0)[:, 8:-8, 8:-8], nearer[:, 8:-8, 8:-8], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="quantise it to at most 64 planes"):
        layered_reproject(first, torch.rand(1, 64, 64, dtype=torch.float64) + 1, target[None], K, fallback=4.0)


def test_the_nearest_view_guide_draws_each_latent_frame_from_the_source_frame_filmed_nearer():
    """``pixel_guide_views: nearest``: the frames each latent frame starts at (tiny VAE: 4k; a causal Wan VAE: 0, then
    4k − 3); a later frame's depth swept from its neighbours agrees with the renderer's as the first frame's does; a
    target that rides along the source's own path is drawn, latent frame by latent frame, from the source frame it
    stands at (the source itself there), where the first frame's guide shows something else; a target that stays at
    the first camera is the first frame's guide exactly; streamed chunk by chunk, the encoded guide is the whole one."""
    from realcam.camera.rays import layered_reproject, plane_sweep_depth
    from realcam.data.synth import render
    from realcam.guide import SourceKeys, key_depths, key_frames, latent_starts, motion_frames, nearest_views

    assert latent_starts(17, tiny=True) == [0, 4, 8, 12, 16] and latent_starts(17, tiny=False) == [0, 1, 5, 9, 13]
    frames, rel, _, K, scene, start = _filmed("translate_up", frames=17)
    video = frames.permute(1, 0, 2, 3)[None]                                  # [1, 3, F, H, W]
    keys_u8 = key_frames(video, tiny=True)
    assert keys_u8.dtype == torch.uint8 and torch.equal(keys_u8, (frames[::4] * 255).round().to(torch.uint8))
    moving = motion_frames(video)
    path = pose12(rel)
    later = key_depths(moving, path, [8], fov_deg=60.0, planes=SWEEP, fallback=4.0, size=(64, 64))
    true8 = render(scene, start @ rel[8:9], K, (64, 64), 8)[1][0].double().clamp(max=1e4)
    decided = later[0] != 4.0
    err = (1 / later[0] - 1 / true8).abs()[decided]
    assert decided.float().mean() > 0.5 and (err < 0.1).float().mean() > 0.7, f"median {err.median():.3f}"
    with pytest.raises(ValueError, match="must be later frames"):
        key_depths(moving, path, [0], fov_deg=60.0, planes=SWEEP, fallback=4.0, size=(64, 64))

    first_depth = plane_sweep_depth(moving.float() / 255, rel, K, SWEEP, fallback=4.0)
    starts = latent_starts(17, tiny=True)
    pictures = keys_u8.float() / 255
    depths = torch.cat([first_depth[None], key_depths(moving, path, starts[1:], fov_deg=60.0, planes=SWEEP,
                                                      fallback=4.0, size=(64, 64))])
    keys = SourceKeys(pictures[None], depths[None], rel[starts][None])
    along = rel[starts][None]                                                 # the source's own cameras
    drawn = nearest_views(pictures[:1], first_depth[None], keys, along, 0, K, fallback=4.0)
    only_first = layered_reproject(pictures[:1], first_depth[None], along, K, fallback=4.0)
    for k in range(1, len(starts)):
        torch.testing.assert_close(drawn[0, :, k], pictures[k], atol=1e-4, rtol=0)
        assert (only_first[0, :, k] - pictures[k]).abs().mean() > 5 * (drawn[0, :, k] - pictures[k]).abs().mean()
    still = torch.eye(4, dtype=torch.float64).expand(1, len(starts), 4, 4)
    torch.testing.assert_close(nearest_views(pictures[:1], first_depth[None], keys, still, 0, K, fallback=4.0),
                               layered_reproject(pictures[:1], first_depth[None], still, K, fallback=4.0), atol=0, rtol=0)

    vae = _vae()
    guide = PixelGuide(vae, pictures[:1], fov_deg=60.0, depth=4.0, depth_map=first_depth[None], keys=keys)
    targets = pose12(rel[starts])[None].float()
    with torch.no_grad():
        whole = guide.encode(targets)
        chunks = torch.cat([guide.for_chunk(0, targets[:, :3]), guide.for_chunk(3, targets[:, 3:])], 2)
    torch.testing.assert_close(chunks, whole, atol=1e-5, rtol=0)
    plain = PixelGuide(vae, pictures[:1], fov_deg=60.0, depth=4.0, depth_map=first_depth[None])
    with torch.no_grad():
        assert not torch.allclose(plain.encode(targets), whole, atol=1e-3)
    with pytest.raises(ValueError, match="one set per first frame"):
        PixelGuide(vae, pictures[:2], fov_deg=60.0, depth=4.0, depth_map=first_depth[None].expand(2, -1, -1), keys=keys)


def test_where_the_guides_two_views_agree_the_gate_takes_more_of_it(tmp_path):
    """``pixel_guide_agreement`` A: a target riding along the source's own path sees the first frame's and the same-time
    frame's reprojections agree over much of the picture, and almost nowhere once the later frames show something else;
    latent frame 0 has no second view. The strength per latent value is 1 + (A − 1)·(the cell's agreeing share), the
    checkpoint's strength s at latent frames with one view, the same chunk by chunk as for the whole path, and none without a second view or
    with A = 0. A constant strength map is the one number; renders change with the path given, and without it are the
    render without the setting to the bit. ``set-guide-strength --agreement`` writes it, ``set-guide-sweep`` to other
    views drops it with a note; it needs the nearer-frame guide and the gate, and a strength of 0 or from 1 to 8."""
    import torch.nn.functional as F

    from realcam.camera.rays import plane_sweep_depth
    from realcam.guide import AGREE, SourceKeys, key_depths, key_frames, latent_starts, motion_frames, view_agreement
    from realcam.pipeline import render_stream, render_teacher, text_context
    from realcam.weights import load_dit, save_realcam_checkpoint, set_guide_strength

    frames, rel, _, K, _, _ = _filmed("translate_up", frames=17)
    video = frames.permute(1, 0, 2, 3)[None]
    moving, path, starts = motion_frames(video), pose12(rel), latent_starts(17, tiny=True)
    pictures = key_frames(video, tiny=True).float() / 255
    first_depth = plane_sweep_depth(moving.float() / 255, rel, K, SWEEP, fallback=4.0)
    depths = torch.cat([first_depth[None], key_depths(moving, path, starts[1:], fov_deg=60.0, planes=SWEEP,
                                                      fallback=4.0, size=(64, 64))])
    keys = SourceKeys(pictures[None], depths[None], rel[starts][None])
    along = rel[starts][None]
    agree, second = view_agreement(pictures[:1], first_depth[None], keys, along, 0, K)
    assert agree.shape == (1, len(starts), 64, 64) and second.tolist() == [False] + [True] * (len(starts) - 1)
    assert agree[0, 0].sum() == 0 and (agree[0, 1:].mean(dim=(1, 2)) > 0.4).all(), agree.mean(dim=(2, 3))
    other = SourceKeys(torch.cat([pictures[:1], (pictures[1:] + 0.5) % 1])[None], depths[None], rel[starts][None])
    assert view_agreement(pictures[:1], first_depth[None], other, along, 0, K)[0].mean() < 0.01   # 0.5 apart
    assert AGREE < 0.5

    vae = _vae()
    guide = PixelGuide(vae, pictures[:1], fov_deg=60.0, depth=4.0, depth_map=first_depth[None], keys=keys)
    targets = pose12(rel[starts])[None].float()
    whole = guide.strengths(targets, 0, (16, 16), 1.5, 4.0)
    expected = 1 + 3 * F.adaptive_avg_pool2d(agree, (16, 16))[:, None]
    expected[:, :, 0] = 1.5
    torch.testing.assert_close(whole, expected, rtol=0, atol=1e-6)
    assert whole[:, :, 1:].max() > 3 and whole[:, :, 1:].min() == 1
    chunked = torch.cat([guide.strengths(targets[:, :3], 0, (16, 16), 1.5, 4.0),
                         guide.strengths(targets[:, 3:], 3, (16, 16), 1.5, 4.0)], dim=2)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)
    with torch.no_grad():       # drawn with the guide it comes with (no second pass), for those cameras only
        guide.encode(targets)
        torch.testing.assert_close(guide.strengths(targets, 0, (16, 16), 1.5, 4.0), whole, rtol=0, atol=0)
        guide.encode(targets.flip(1))
        torch.testing.assert_close(guide.strengths(targets, 0, (16, 16), 1.5, 4.0), whole, rtol=0, atol=0)
    plain = PixelGuide(vae, pictures[:1], fov_deg=60.0, depth=4.0, depth_map=first_depth[None])
    assert guide.strengths(targets, 0, (16, 16), 1.5, 0.0) is None and plain.strengths(targets, 0, (16, 16), 1.5, 4.0) is None

    gate = torch.tensor([0.2, 0.5, 0.9]).reshape(1, 1, 3, 1, 1).expand(1, 2, 3, 1, 1)
    torch.testing.assert_close(RealCamDiT.guide_share(gate, torch.tensor([1.0, 2.0, 4.0]).reshape(1, 1, 3, 1, 1)),
                               torch.tensor([0.2, 1.0, 1.0]).reshape(1, 1, 3, 1, 1).expand(1, 2, 3, 1, 1))
    cond = COND.replace(source_cameras=False, rope_positions="grid", pixel_guide_skip=True, pixel_guide_sweep=SWEEP,
                        pixel_guide_views="nearest")
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=6).eval()
    torch.nn.init.constant_(model.guide_gate.head.bias, 0.3)
    src, tgt, guide_latents, ctx, pose = _velocity_inputs()
    with torch.no_grad():
        one = model.velocity(src, tgt, torch.tensor([600.0]), ctx, pose, pixel_guide=guide_latents, guide_strength=2.0)
        field = model.velocity(src, tgt, torch.tensor([600.0]), ctx, pose, pixel_guide=guide_latents,
                               guide_strength=torch.full((1, 1, 3, 4, 4), 2.0))
    torch.testing.assert_close(field, one, rtol=0, atol=0)

    file = save_realcam_checkpoint(model, tmp_path / "near.safetensors")
    out = tmp_path / "agree.safetensors"
    assert "; 4 where its two views agree" in _set_by_command("set-guide-strength", file, out, "--agreement", "4")
    before, after = load_dit(file, dtype=torch.float32), load_dit(out, dtype=torch.float32)
    assert after.conditioning == before.conditioning.replace(pixel_guide_agreement=4.0)
    first_again = tmp_path / "first_again.safetensors"      # other views drop it (it compares the nearer-frame views)
    planes = ",".join(f"{d:g}" for d in SWEEP)
    assert "pixel_guide_agreement 4 dropped" in _set_by_command("set-guide-sweep", out, first_again, "--planes", planes,
                                                                 "--views", "first")
    assert load_dit(first_again, dtype=torch.float32).conditioning == before.conditioning.replace(pixel_guide_views="first")
    source, src_path, target = _arc_case(_vae())
    stream = lambda m, camera: render_stream(m, source, target, text_context(m), seed=1,  # noqa: E731
                                             source_camera=camera).latents
    teach = lambda m, camera: render_teacher(m, source, target, text_context(m), seed=1, steps=2,  # noqa: E731
                                             source_camera=camera)
    for render in (stream, teach):
        torch.testing.assert_close(render(after, None), render(before, None), rtol=0, atol=0)
        assert not torch.allclose(render(after, src_path), render(before, src_path), atol=1e-4)

    with pytest.raises(ValueError, match="pixel_guide_agreement=9.0; give 0 \\(off\\) or a strength from 1 to 8"):
        set_guide_strength(file, tmp_path / "bad.safetensors", agreement=9.0)
    first_views = save_realcam_checkpoint(randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(
        pixel_guide_views="first")), seed=6), tmp_path / "first.safetensors")
    with pytest.raises(ValueError, match="needs pixel_guide_skip .* and pixel_guide_views nearest"):
        set_guide_strength(first_views, tmp_path / "bad.safetensors", agreement=4.0)
    with pytest.raises(ValueError, match="give a strength, an agreement strength, or both"):
        set_guide_strength(file, tmp_path / "bad.safetensors")
    assert not (tmp_path / "bad.safetensors").exists()


def test_a_model_with_the_sweep_reads_the_sources_path_for_its_guide_and_the_plane_without_it(tmp_path):
    """``pixel_guide_sweep`` (and its aggregation, and ``pixel_guide_views``) change how the guide is made, not the
    weights: set on a checkpoint by ``set-guide-sweep`` (tensors untouched), the model's render with the source's path
    differs from the one-plane model's, and without the path it is the one-plane render exactly; bad planes, a source
    without its key frames for a nearest-view model and a checkpoint without a pixel guide are refused by name."""
    import dataclasses
    import subprocess
    import sys

    from realcam.pipeline import render_stream, text_context
    from realcam.weights import WeightsError, load_dit, save_realcam_checkpoint, set_guide_sweep

    vae = _vae()
    cond = COND.replace(source_cameras=False, rope_positions="grid")
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=4).eval()
    plain = save_realcam_checkpoint(model, tmp_path / "plain.safetensors")
    swept = tmp_path / "swept.safetensors"
    assert "swept 1, 2, 4, 8, 10000" in _set_by_command("set-guide-sweep", plain, swept, "--planes", "1,2,4,8,1e4")
    def loaded(path):      # its parameters copied out of the file: their alignment in memory, which decides the last
        m = load_dit(path, dtype=torch.float32)    # bits of a float sum, then no longer depends on the metadata's length
        m.load_state_dict({k: v.clone() for k, v in m.state_dict().items()}, assign=True)
        return m

    one, sweep = loaded(plain), loaded(swept)
    assert sweep.conditioning == one.conditioning.replace(pixel_guide_sweep=(1.0, 2.0, 4.0, 8.0, 1e4))

    source, path, target = _arc_case(vae)

    def render(m, camera):
        return render_stream(m, source, target, text_context(m), seed=1, source_camera=camera).latents

    with pytest.warns(UserWarning, match="source_camera is ignored"):
        base = render(one, path)
    torch.testing.assert_close(render(sweep, None), base, atol=0, rtol=0)
    swept_render = render(sweep, path)
    assert not torch.allclose(swept_render, base, atol=1e-4)
    # --smooth: the sweep's costs aggregated semi-globally, another depth, another guide; still nothing without the path
    smoothed = tmp_path / "smoothed.safetensors"
    done = subprocess.run([sys.executable, "-m", "realcam", "set-guide-sweep", "--weights", str(swept), "--planes",
                           "1,2,4,8,1e4", "--smooth", "0.02,0.08", "--out", str(smoothed)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "penalties 0.02, 0.08" in done.stdout
    smooth = loaded(smoothed)
    assert smooth.conditioning == sweep.conditioning.replace(pixel_guide_sweep_smooth=(0.02, 0.08))
    torch.testing.assert_close(render(smooth, None), base, atol=0, rtol=0)
    assert not torch.allclose(render(smooth, path), swept_render, atol=1e-4)
    with pytest.raises(ValueError, match="pixel_guide_sweep_smooth=.*0 <= p1 <= p2"):
        set_guide_sweep(plain, tmp_path / "bad.safetensors", (1.0, 2.0), (0.1, 0.05))
    with pytest.raises(ValueError, match="pixel_guide_sweep_smooth needs pixel_guide_sweep"):
        set_guide_sweep(plain, tmp_path / "bad.safetensors", (), (0.02, 0.08))
    # --views nearest: each latent frame from the first frame or the source frame it starts at, whichever is nearer the
    # target camera; another guide with the path, the one-plane render without it; it needs the source's key frames
    near = tmp_path / "near.safetensors"
    done = subprocess.run([sys.executable, "-m", "realcam", "set-guide-sweep", "--weights", str(smoothed), "--planes",
                           "1,2,4,8,1e4", "--smooth", "0.02,0.08", "--views", "nearest", "--out", str(near)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "whichever was filmed nearer" in done.stdout
    nearest = loaded(near)
    assert nearest.conditioning == smooth.conditioning.replace(pixel_guide_views="nearest")
    assert source.key_frames.shape == (4, 3, 32, 32) and source.key_frames.dtype == torch.uint8
    torch.testing.assert_close(render(nearest, None), base, atol=0, rtol=0)
    assert not torch.allclose(render(nearest, path), render(smooth, path), atol=1e-4)
    keyless = dataclasses.replace(source, key_frames=None)
    with pytest.raises(ValueError, match="needs the source's frames at its latent frames"):
        render_stream(nearest, keyless, target, text_context(nearest), seed=1, source_camera=path)
    with pytest.raises(ValueError, match="pixel_guide_views='nearest' needs pixel_guide_sweep"):
        set_guide_sweep(plain, tmp_path / "bad.safetensors", (), (), "nearest")
    with pytest.raises(ValueError, match="pixel_guide_views='all'"):
        ConditioningConfig(camera_tokens="rays", pixel_guide_depth=4.0, pixel_guide_sweep=(1.0, 2.0),
                           pixel_guide_views="all")

    with pytest.raises(ValueError, match="pixel_guide_sweep=.*increasing"):
        set_guide_sweep(plain, tmp_path / "bad.safetensors", (4.0, 2.0))
    no_guide = save_realcam_checkpoint(randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(
        pixel_guide_depth=0.0)), seed=4), tmp_path / "no_guide.safetensors")
    with pytest.raises(WeightsError, match="reads no pixel guide"):
        set_guide_sweep(no_guide, tmp_path / "x.safetensors", SWEEP)
    with pytest.raises(ValueError, match="pixel_guide_sweep needs pixel_guide_depth"):
        ConditioningConfig(camera_tokens="rays", pixel_guide_sweep=(1.0, 2.0))


def test_nearest_plane_rounds_in_inverse_depth_and_sends_the_sky_to_the_farthest():
    """``realcam.camera.rays.nearest_plane``: the rounding of the sweep, the renderer-depth guides and the probes."""
    from realcam.camera.rays import nearest_plane

    planes = torch.tensor([1.0, 2.0, 4.0, 1e4], dtype=torch.float64)
    depth = torch.tensor([[1.1, 2.3, 2.9, 30.0], [float("inf"), 1e6, 0.5, 4.0]])
    # 2.9 m: 1/2.9 is nearer 1/4 than 1/2; 30 m nearer the far plane than 4 m in inverse depth
    assert nearest_plane(depth, planes).tolist() == [[0, 1, 2, 3], [3, 3, 0, 2]]


def _depth_net_file(tmp_path, planes, width: int = 8, seed: int = 0, name: str = "net.safetensors"):
    """A depth network over ``planes`` (random weights, ``seed``) as ``scripts/depth_net_probe.py train`` writes one."""
    import json

    from safetensors.torch import save_file

    from realcam.model.depth_net import DepthNet

    torch.manual_seed(seed)
    net = DepthNet(planes, width).eval()
    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path),
              metadata={"planes": json.dumps(list(planes)), "size": "64"})
    return net, path


def test_a_depth_network_in_the_checkpoint_draws_the_guide_with_or_without_the_sources_path(tmp_path):
    """``pixel_guide_depth_net``: ``set-guide-depth-net`` writes the network into the checkpoint (every other tensor
    untouched) and ``--net none`` takes it out again, to the bit. The guide is then drawn through the network's depth of
    each first frame (batch by batch) and, with ``pixel_guide_views: nearest`` and the path, of each key frame; without
    the source's path too, where the model without it draws the one plane, and its strength acts there. The network
    stays in float32 in a bf16 checkpoint, never trains with the DiT, and is defined by ``init_weights``. A network
    over other planes, a file that is not one, a checkpoint without a sweep, a conditioning that asks for a network
    the file lacks, and new planes under a network are refused by name; a conditioning without it drops it, with a
    note."""
    import subprocess
    import sys

    from realcam.pipeline import render_stream, text_context
    from realcam.train.stages import set_trainable
    from realcam.weights import (WeightsError, load_dit, read_depth_net, read_state_dict, save_realcam_checkpoint,
                                 set_guide_depth_net, set_guide_sweep)

    vae = _vae()
    cond = COND.replace(source_cameras=False, rope_positions="grid", pixel_guide_skip=True, pixel_guide_sweep=SWEEP,
                        pixel_guide_strength=2.0)
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=6).eval()
    torch.nn.init.constant_(model.guide_gate.head.bias, 0.3)                    # a gate that takes a part of the guide
    plain = save_realcam_checkpoint(model, tmp_path / "plain.safetensors")
    net, net_file = _depth_net_file(tmp_path, SWEEP)
    netted = tmp_path / "netted.safetensors"
    done = subprocess.run([sys.executable, "-m", "realcam", "set-guide-depth-net", "--weights", str(plain), "--net",
                           str(net_file), "--out", str(netted)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "width 8, frames read at 64 px, 13 planes" in done.stdout
    (a, meta_a), (b, meta_b) = read_state_dict(plain), read_state_dict(netted)
    assert {k for k in b if not k.startswith("depth_net.")} == set(a) and all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(b["depth_net." + k], v) for k, v in net.state_dict().items())
    assert {k: v for k, v in meta_a.items() if k != "conditioning"} == {k: v for k, v in meta_b.items() if k != "conditioning"}
    one, deep = load_dit(plain, dtype=torch.float32), load_dit(netted, dtype=torch.float32)
    assert deep.conditioning == one.conditioning.replace(pixel_guide_depth_net=8) and one.depth_net is None
    carried, planes, width, side = read_depth_net(netted)              # a checkpoint's network, as a network file's
    assert (planes, width, side) == (SWEEP, 8, 64) and all(torch.equal(carried[k], v) for k, v in net.state_dict().items())
    with pytest.raises(WeightsError, match="carries no depth network"):
        read_depth_net(plain)

    # the guide's depth: the network's, frame by frame, whether or not the path is given
    first = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    guide = PixelGuide.for_model(deep, vae, first)
    own = net.depth(first)
    assert guide.swept and torch.equal(guide.depth_map.cpu(), own) and not torch.equal(own[0], own[1])
    assert set(own.unique().tolist()) <= set(SWEEP) and len(own.unique()) > 1
    assert not PixelGuide.for_model(one, vae, first).swept                       # the one plane without a network
    source, path, target = _arc_case(vae)
    assert torch.equal(PixelGuide.for_model(deep, vae, source.first_frame, source_frames=source.motion,
                                            source_pose12=pose12(path.relative().c2w)).depth_map.cpu(),
                       net.depth(source.first_frame))
    near = deep.conditioning.replace(pixel_guide_views="nearest")
    deep.conditioning = near
    keyed = PixelGuide.for_model(deep, vae, source.first_frame, source_frames=source.motion,
                                 source_pose12=pose12(path.relative().c2w), key_frames=source.key_frames)
    assert torch.equal(keyed.keys.depths[0, 1:].cpu(), net.depth(source.key_frames[1:]))
    assert PixelGuide.for_model(deep, vae, source.first_frame).keys is None      # no path: the first frame alone
    deep.conditioning = near.replace(pixel_guide_views="first")

    def render(m, camera):
        return render_stream(m, source, target, text_context(m), seed=1, source_camera=camera).latents

    base = render(one, None)
    drawn = render(deep, None)
    assert not torch.allclose(drawn, base, atol=1e-4)                            # without the path: not the one plane
    unscaled = load_dit(netted, dtype=torch.float32, conditioning=deep.conditioning.replace(pixel_guide_strength=1.0))
    assert not torch.allclose(render(unscaled, None), drawn, atol=1e-4)          # the strength acts on it
    # --net none: the checkpoint as it was, tensors and render
    back = tmp_path / "back.safetensors"
    set_guide_depth_net(netted, back, None)
    (c, meta_c) = read_state_dict(back)
    assert set(c) == set(a) and all(torch.equal(a[k], c[k]) for k in a) and meta_c["conditioning"] == meta_a["conditioning"]
    torch.testing.assert_close(render(load_dit(back, dtype=torch.float32), None), base, atol=0, rtol=0)
    # a conditioning without it: the file's network dropped, with a note
    dropped = load_dit(netted, dtype=torch.float32, conditioning=cond)
    assert dropped.depth_net is None and any("depth network is not used" in n for n in dropped.load_info.notes)
    # float32 in a bf16 checkpoint, its dtype not voting; frozen in training; defined by init_weights
    half = load_dit(save_realcam_checkpoint(deep, tmp_path / "half.safetensors", dtype=torch.bfloat16))
    assert half.patch_embedding.weight.dtype == torch.bfloat16 and half.depth_net.out.weight.dtype == torch.float32
    assert torch.equal(half.depth_net.out.weight, net.out.weight)
    set_trainable(deep, "all")
    assert not any(p.requires_grad for p in deep.depth_net.parameters()) and deep.patch_embedding.weight.requires_grad
    with torch.device("meta"):
        empty = RealCamDiT(TINY, camera_layers=True, conditioning=deep.conditioning)
    empty = empty.to_empty(device="cpu")
    with torch.no_grad():
        for p in empty.parameters():
            p.fill_(float("nan"))
    empty.init_weights()
    assert all(torch.isfinite(p).all() for p in empty.depth_net.parameters())

    # refusals, each naming what to do, nothing written
    _, other = _depth_net_file(tmp_path, (1.0, 2.0, 4.0, 1e4), name="other.safetensors")
    with pytest.raises(WeightsError, match="classifies into 4 planes .*train it on the checkpoint's planes"):
        set_guide_depth_net(plain, tmp_path / "bad.safetensors", other)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "junk.safetensors"))
    with pytest.raises(WeightsError, match="junk.safetensors is not a depth network"):
        set_guide_depth_net(plain, tmp_path / "bad.safetensors", tmp_path / "junk.safetensors")
    save_file({"e1.0.weight": torch.zeros(())}, str(tmp_path / "scalar.safetensors"), metadata={"planes": "[1, 2]"})
    with pytest.raises(WeightsError, match="scalar.safetensors is not a depth network .*IndexError"):
        set_guide_depth_net(plain, tmp_path / "bad.safetensors", tmp_path / "scalar.safetensors")
    save_file({k: v for k, v in net.state_dict().items() if not k.startswith("d1.")}, str(tmp_path / "part.safetensors"),
              metadata={"planes": str(list(SWEEP))})
    with pytest.raises(WeightsError, match="does not hold a depth network of width 8 over 13 planes: 8 tensors"):
        set_guide_depth_net(plain, tmp_path / "bad.safetensors", tmp_path / "part.safetensors")
    unswept = save_realcam_checkpoint(randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(
        pixel_guide_sweep=(), pixel_guide_strength=1.0)), seed=6), tmp_path / "unswept.safetensors")
    with pytest.raises(WeightsError, match="sweeps no planes .*set-guide-sweep --planes"):
        set_guide_depth_net(unswept, tmp_path / "bad.safetensors", net_file)
    with pytest.raises(WeightsError, match="holds no depth network .*set-guide-depth-net"):
        load_dit(plain, conditioning=deep.conditioning)
    with pytest.raises(WeightsError, match="carries a depth network .*--net none"):
        set_guide_sweep(netted, tmp_path / "bad.safetensors", (1.0, 2.0, 4.0, 1e4))
    assert not (tmp_path / "bad.safetensors").exists()
    with pytest.raises(ValueError, match="pixel_guide_depth_net needs pixel_guide_sweep"):
        cond.replace(pixel_guide_sweep=(), pixel_guide_strength=1.0, pixel_guide_depth_net=8)
    with pytest.raises(ValueError, match="pixel_guide_depth_net=12; give the depth network's width"):
        cond.replace(pixel_guide_depth_net=12)
    with pytest.raises(ValueError, match="pixel_guide_depth_net_size=32 needs pixel_guide_depth_net"):
        cond.replace(pixel_guide_depth_net_size=32)


def test_fresh_model_keeps_a_files_settings_and_depth_network_in_another_shape(tmp_path):
    """``fresh-model``: a checkpoint in another shape (patch 1, twice the width) with fresh weights, the model's own
    initialisation seeded as asked (so repeatable, and not the file's weights), carrying the file's conditioning,
    streaming and sampling settings and its depth network unchanged; it reads the guide at the new patch, trains, and
    records where it came from. What may not change (the latents' channels, anything but a shape) is refused, naming
    the field, and nothing is written."""
    import json
    import subprocess
    import sys

    from safetensors import safe_open

    from realcam.weights import (WeightsError, fresh_like, load_dit, read_state_dict, save_realcam_checkpoint,
                                 set_guide_depth_net)

    cond = COND.replace(pixel_guide_skip=True, pixel_guide_sweep=SWEEP, pixel_guide_views="nearest",
                        pixel_guide_strength=1.5)
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=6)
    model.streaming = StreamingConfig(chunk_latent_frames=3, sink_chunks=1, window_chunks=5, shift=5.0)
    plain = save_realcam_checkpoint(model, tmp_path / "plain.safetensors")
    net, net_file = _depth_net_file(tmp_path, SWEEP)
    set_guide_depth_net(plain, tmp_path / "file.safetensors", net_file)
    file = load_dit(tmp_path / "file.safetensors", dtype=torch.float32)
    out = tmp_path / "fresh.safetensors"
    done = subprocess.run([sys.executable, "-m", "realcam", "fresh-model", "--like", str(tmp_path / "file.safetensors"),
                           "--set", "patch_size=[1,1,1]", "--set", "dim=128", "--set", "ffn_dim=256", "--seed", "3",
                           "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 blocks of width 128 (4 heads, feed-forward 256), patch [1, 1, 1]" in done.stdout
    fresh = load_dit(out, dtype=torch.float32)
    assert fresh.cfg == TINY.replace(patch_size=(1, 1, 1), dim=128, ffn_dim=256)
    assert (fresh.conditioning, fresh.streaming, fresh.sampling) == (file.conditioning, file.streaming, file.sampling)
    assert all(torch.equal(fresh.depth_net.state_dict()[k], v) for k, v in net.state_dict().items())
    torch.manual_seed(3)
    own = RealCamDiT(fresh.cfg, camera_layers=True, conditioning=file.conditioning).state_dict()
    assert all(torch.equal(v, own[k]) for k, v in fresh.state_dict().items() if not k.startswith("depth_net."))
    fresh_like(tmp_path / "file.safetensors", tmp_path / "again.safetensors", {"dim": 128, "ffn_dim": 256,
                                                                                "patch_size": [1, 1, 1]}, seed=3)
    (a, meta_a), (b, meta_b) = read_state_dict(out), read_state_dict(tmp_path / "again.safetensors")
    assert meta_a == meta_b and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with safe_open(str(out), "pt") as f:
        assert json.loads(f.metadata()["fresh_from"]) == {
            "file": "file.safetensors", "changes": {"dim": 128, "ffn_dim": 256, "patch_size": [1, 1, 1]}, "seed": 3}
    # it reads a guide at patch 1 (16 tokens a latent frame of 4 × 4) and every part of the DiT learns from it
    src, tgt, guide, ctx, pose = _velocity_inputs()
    # (as a fresh Wan model's, its output head starts at zero: after one step everything upstream learns too)
    fresh.train()
    opt = torch.optim.SGD(fresh.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        v = fresh.velocity(src, tgt, torch.tensor([600.0]), ctx, pose, source_pose12=pose, pixel_guide=guide)
        assert v.shape == tgt.shape and torch.isfinite(v).all()
        (v - tgt).square().mean().backward()
        opt.step()
    assert fresh.patch_embedding.weight.grad.abs().sum() > 0 and fresh.blocks[0].self_attn.q.weight.grad.abs().sum() > 0
    for changes, field in (({"in_dim": 48}, "in_dim"), ({"vae_stride": [4, 16, 16]}, "vae_stride"),
                           ({"dim": 100}, "head_dim 25"), ({"patch_size": [1, 1]}, "patch_size"),
                           ({"dim": 8192, "ffn_dim": 32768, "num_heads": 64, "num_layers": 64}, "73.6 B parameters")):
        with pytest.raises(WeightsError, match=field):
            fresh_like(tmp_path / "file.safetensors", tmp_path / "bad.safetensors", changes)
    bad = subprocess.run([sys.executable, "-m", "realcam", "fresh-model", "--like", str(tmp_path / "file.safetensors"),
                          "--set", "text_dim=8", "--out", str(tmp_path / "bad.safetensors")], capture_output=True, text=True)
    assert bad.returncode != 0 and "--set 'text_dim=8'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.safetensors").exists()
