"""Behaviour of the model pieces: attention backends and masks, sequence layouts, RoPE, input errors."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

from realcam.config import ConditioningConfig, RECAMMASTER_CONDITIONING, TINY, WanConfig
from realcam.model import AttentionMask, RealCamDiT, SequenceLayout, attention, grid_positions, make_rope


def _qkv(L=48, H=2, D=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, L, H, D, generator=g) for _ in range(3)]


def test_masked_attention_dense_and_flex_agree_with_explicit_softmax():
    q, k, v = _qkv()
    chunk = 16
    mask = AttentionMask(lambda qi, ki: (ki // chunk) <= (qi // chunk), 48, 48, torch.device("cpu"))
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / 8**0.5
    expected = torch.einsum("bhqk,bkhd->bqhd", scores.masked_fill(~mask.dense, float("-inf")).softmax(-1), v)
    dense = attention(q, k, v, mask=mask, backend="dense")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flex = attention(q, k, v, mask=mask, backend="flex")
    assert (dense - expected).abs().max() < 1e-5 and (flex - expected).abs().max() < 1e-5
    # the first chunk cannot see the future: changing the last chunk's keys leaves it unchanged
    k2 = k.clone()
    k2[:, 32:] += 5
    assert torch.equal(attention(q, k2, v, mask=mask)[:, :16], dense[:, :16])
    assert not torch.allclose(attention(q, k2, v, mask=mask)[:, 32:], dense[:, 32:])


def test_attention_backend_errors_are_clear():
    q, k, v = _qkv()
    with pytest.raises(RuntimeError, match="flash.*unavailable"):
        attention(q, k, v, backend="flash")
    with pytest.raises(ValueError, match="choose one of"):
        attention(q, k, v, backend="xformers")
    with pytest.raises(ValueError, match="no key"):
        AttentionMask(lambda qi, ki: ki > qi, 4, 4, torch.device("cpu"))


def test_a_mask_keeps_nothing_of_the_full_square_until_dense_is_asked_for():
    """At real size the square is gigabytes (4.3 GB for an 81-frame 480×832 Wan2.1 clip) and the CUDA path
    never reads it: construction checks the rows a block at a time, ``dense`` is built on first use."""
    seen = []

    def allowed(qi, ki):
        out = (ki // 7) <= (qi // 7)
        seen.append(out.expand(qi.shape[0], ki.shape[1]).numel())
        return out
    n = 3 * AttentionMask.CHECK_ROWS + 5
    mask = AttentionMask(allowed, n, n, torch.device("cpu"))
    assert max(seen) <= AttentionMask.CHECK_ROWS * n and len(seen) == 4
    assert mask._dense is None
    q, k = torch.arange(n)[:, None], torch.arange(n)[None, :]
    assert torch.equal(mask.dense, (k // 7) <= (q // 7)) and mask.dense is mask.dense
    with pytest.raises(ValueError, match="no key"):       # a query with no key in the last block of rows
        AttentionMask(lambda qi, ki: (qi < n - 1) & (ki >= 0), n, n, torch.device("cpu"))


def test_masked_model_forward_uses_mask(tiny_model):
    """A block-causal mask over frames makes early frames independent of later ones."""
    x = torch.randn(1, 16, 4, 4, 4)
    ctx = torch.randn(1, 5, TINY.text_dim)
    per_frame = 4  # (4/2)*(4/2) tokens
    mask = AttentionMask(lambda qi, ki: (ki // (2 * per_frame)) <= (qi // (2 * per_frame)), 16, 16, torch.device("cpu"))
    x2 = x.clone()
    x2[:, :, 2:] = torch.randn(1, 16, 2, 4, 4)
    t = torch.tensor([400.0])
    with torch.no_grad():
        a, b = tiny_model(x, t, ctx, mask=mask), tiny_model(x2, t, ctx, mask=mask)
        full = tiny_model(x2, t, ctx)
    assert torch.equal(a[:, :, :2], b[:, :, :2])
    assert not torch.allclose(full[:, :, :2], a[:, :, :2])


@pytest.mark.parametrize("cond", [ConditioningConfig(), RECAMMASTER_CONDITIONING,
                                  ConditioningConfig(rope_temporal="shared", source_timestep="zero", camera_on_source=False)])
def test_layout_build_split_round_trip(cond):
    layout = SequenceLayout(cond, 3)
    s, t = torch.randn(2, 1, 4, 3, 2, 2)
    x = layout.build(s, t)
    s2, t2 = layout.split(x)
    assert torch.equal(s, s2) and torch.equal(t, t2)
    assert torch.equal(x[:, :, layout.is_target()], t)
    if cond.mode == "interleave":  # [zs1, zt1, zs2, zt2, ...]
        assert torch.equal(x[:, :, 0], s[:, :, 0]) and torch.equal(x[:, :, 1], t[:, :, 0]) and torch.equal(x[:, :, 2], s[:, :, 1])


def test_layout_timesteps_cameras_and_chunks():
    cond = ConditioningConfig(source_timestep="zero", camera_on_source=False)
    layout = SequenceLayout(cond, 2, start=5)
    assert layout.latent_index().tolist() == [5, 5, 6, 6]
    assert layout.temporal_positions().tolist() == [10, 11, 12, 13]
    assert layout.frame_timesteps(torch.tensor([700.0])).tolist() == [[0, 700, 0, 700]]
    assert layout.frame_timesteps(torch.tensor([[700.0, 300.0]])).tolist() == [[0, 700, 0, 300]]
    poses = torch.arange(24.0).reshape(1, 2, 12)
    frame_poses, weight = layout.frame_cameras(poses)
    assert torch.equal(frame_poses[0, 0], poses[0, 0]) and torch.equal(frame_poses[0, 3], poses[0, 1])
    assert weight.tolist() == [0, 1, 0, 1]
    assert SequenceLayout(ConditioningConfig(), 2).frame_timesteps(torch.tensor([5.0])).tolist() == [5.0]
    with pytest.raises(ValueError, match=r"\[B, 2, 12\]"):
        layout.frame_cameras(torch.zeros(1, 3, 12))


def test_rope_matches_official_table_and_is_relative():
    head_dim = 16
    pos = grid_positions(torch.tensor([0.0, 3.0, 7.0]), 2, 3)
    rope = make_rope(pos, head_dim)
    # official: table row p of 1/10000^(arange(0, d, 2)/d) for d = 6 (t), 4, 4 ... here head_dim 16 -> (6, 4... )
    from realcam.model.layers import head_dim_split
    dt, dh, dw = head_dim_split(head_dim)
    assert (dt, dh, dw) == (8, 4, 4) and head_dim_split(128) == (44, 42, 42)
    om = 1 / 10000 ** (torch.arange(0, dt, 2, dtype=torch.float64) / dt)
    assert torch.allclose(rope.cos[-1, : dt // 2], torch.cos(7 * om).float())
    # rotary: <R(p) q, R(p') k> depends on p - p' only
    q, k = torch.randn(2, 1, 1, 1, head_dim)
    a = make_rope(torch.tensor([[5.0, 1, 2]]), head_dim).apply(q)
    b = make_rope(torch.tensor([[2.0, 1, 2]]), head_dim).apply(k)
    c = make_rope(torch.tensor([[13.0, 1, 2]]), head_dim).apply(q)
    d = make_rope(torch.tensor([[10.0, 1, 2]]), head_dim).apply(k)
    assert torch.allclose((a * b).sum(), (c * d).sum(), atol=1e-5)


def test_input_errors_say_what_to_do(tiny_model):
    ctx = torch.randn(1, 4, TINY.text_dim)
    t = torch.tensor([500.0])
    with pytest.raises(ValueError, match="multiples of 16 pixels"):
        tiny_model(torch.randn(1, 16, 2, 5, 4), t, ctx)
    with pytest.raises(ValueError, match="48 channels.*Wan2.1 VAE|reads 16: use the Wan2.1 VAE"):
        tiny_model(torch.randn(1, 48, 2, 4, 4), t, ctx)
    with pytest.raises(ValueError, match="NaN or inf"):
        tiny_model(torch.randn(1, 16, 2, 4, 4), t, ctx, cam=torch.full((1, 2, 12), float("nan")))
    with pytest.raises(ValueError, match=r"text context must be \[B, L, 32\]"):
        tiny_model(torch.randn(1, 16, 2, 4, 4), t, torch.randn(1, 4, 4096))
    with pytest.raises(ValueError, match="per-frame timesteps"):
        tiny_model(torch.randn(1, 16, 2, 4, 4), torch.zeros(1, 3), ctx)
    plain = RealCamDiT(TINY, camera_layers=False)
    with pytest.raises(ValueError, match="no camera layers"):
        plain(torch.randn(1, 16, 2, 4, 4), t, ctx, cam=torch.zeros(1, 2, 12))


def test_config_validation_and_json():
    with pytest.raises(ValueError, match="not divisible"):
        WanConfig("bad", dim=100, ffn_dim=10, num_heads=3, num_layers=1)
    with pytest.raises(ValueError, match="choose one of"):
        ConditioningConfig(mode="sideways")
    with pytest.raises(ValueError, match="unknown field"):
        ConditioningConfig.from_json('{"mode": "prefix", "colour": 1}')
    assert WanConfig.from_json(TINY.to_json()) == TINY


def test_init_weights_defines_every_parameter(report):
    """A model built on the meta device and materialised with ``to_empty`` holds whatever memory it got
    (NaN here, to make that visible). ``init_weights`` must set every parameter — before the fix it left the
    modulation tables, q/k norms and norm3 untouched, so ``python -m realcam bench`` timed NaN arithmetic."""
    with torch.device("meta"):
        model = RealCamDiT(TINY, camera_layers=True)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    model.init_weights()
    undefined = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    report(f"parameters left undefined by init_weights: {len(undefined)} (before the fix: 15 of "
           f"{len(list(model.parameters()))} in the tiny model: per block modulation, 4 q/k norms, norm3 weight and bias; "
           "head.modulation)")
    assert undefined == []
    fresh = RealCamDiT(TINY, camera_layers=True)
    for (name, p), (_, q) in zip(model.named_parameters(), fresh.named_parameters()):
        if "norm" in name and "weight" in name:
            assert torch.equal(p, q), name                       # ones, as constructed
        if name.endswith("modulation"):
            assert abs(float(p.std()) - float(q.std())) < 0.5 * float(q.std()), name   # same scale as constructed
    x = torch.randn(1, 16, 2, 4, 4)
    out = model.velocity(x, torch.randn(1, 16, 2, 4, 4), torch.tensor([500.0]), torch.randn(1, 3, TINY.text_dim),
                         0.1 * torch.randn(1, 2, 12))
    assert torch.isfinite(out).all()


def test_identity_projectors_are_skipped_under_inference_mode_too():
    """ComfyUI runs nodes under torch.inference_mode, whose tensors keep no version counter: the identity check
    of fresh camera layers must work there (it once raised inside every ComfyUI render)."""
    from realcam.config import TINY
    from realcam.model import RealCamDiT
    from tests.conftest import randomize_

    plain = randomize_(RealCamDiT(TINY, camera_layers=False), seed=2).eval()
    with torch.inference_mode():
        cam = RealCamDiT(TINY, camera_layers=True).eval()
        cam.load_state_dict({**cam.state_dict(), **plain.state_dict()})
        x = torch.randn(1, 16, 2, 4, 4)
        t, ctx = torch.tensor([500.0]), torch.randn(1, 3, TINY.text_dim)
        assert torch.equal(cam(x, t, ctx), plain(x, t, ctx))
        assert all(b._identity for b in cam.blocks)
        with torch.no_grad():
            cam.blocks[0].projector.weight.mul_(2)        # weights change: the block applies its projector again
        assert not torch.equal(cam(x, t, ctx), plain(x, t, ctx))


def test_ray_tokens_find_the_source_token_that_sees_the_same_direction():
    """camera_tokens='rays': a target token's features match best (one dot product) the source token whose ray
    is nearest its own after the camera turns — the warp a pan asks for, readable by attention."""
    from realcam.camera import rotation_from_ypr
    from realcam.camera.rays import RAY_DIM, RAY_OCTAVES, ray_features, token_directions

    h = w = 8
    local = token_directions(h, w, 60.0, dtype=torch.float64)
    assert torch.allclose(local.norm(dim=1), torch.ones(h * w, dtype=torch.float64))
    assert local[0, 0] < 0 and local[0, 1] < 0 and local[-1, 0] > 0 and local[-1, 1] > 0   # x right, y down
    # the corner ray of a 60° horizontal field of view on a square grid: 7/8 of the half-width tangent
    assert torch.isclose(local[-1, 0] / local[-1, 2], torch.tensor(7 / 8 * 3 ** -0.5, dtype=torch.float64))
    identity = torch.eye(3, 4).flatten()[None, None]
    for yaw, pitch in ((9.0, 0.0), (-16.0, 4.0), (0.0, -7.5)):
        pose = torch.eye(3, 4)
        pose[:, :3] = rotation_from_ypr(yaw, pitch, 0.0)[0].float()
        pose[:, 3] = torch.tensor([0.3, -0.1, 0.5])
        tgt = ray_features(pose.flatten()[None, None], h, w, 60.0)[0, 0]
        src = ray_features(identity, h, w, 60.0)[0, 0]
        assert tgt.shape == (h * w, RAY_DIM)
        fourier = 6 * RAY_OCTAVES
        match = (tgt[:, :fourier] @ src[:, :fourier].T).argmax(1)
        d = tgt[:, fourier:fourier + 3].double()
        assert torch.allclose(d, local @ rotation_from_ypr(yaw, pitch, 0.0)[0].T, atol=1e-6)
        nearest = (d @ local.T).argmax(1)
        inside = (d @ local.T).amax(1) > torch.cos(torch.deg2rad(torch.tensor(3.0, dtype=torch.float64)))
        assert inside.sum() >= 16 and torch.equal(match[inside], nearest[inside]), (yaw, pitch)
        moment = torch.linalg.cross(torch.tensor([0.3, -0.1, 0.5]).expand(h * w, 3), tgt[:, fourier:fourier + 3])
        assert torch.allclose(tgt[:, fourier + 3:], moment, atol=1e-6)


def test_ray_conditioning_layout_config_and_checkpoint(tmp_path):
    from realcam.camera.rays import RAY_DIM
    from realcam.weights import load_dit, save_realcam_checkpoint
    from tests.conftest import randomize_

    with pytest.raises(ValueError, match="pose_reference='first'"):
        ConditioningConfig(camera_tokens="rays", pose_reference="previous")
    with pytest.raises(ValueError, match="ray_fov_deg"):
        ConditioningConfig(camera_tokens="rays", ray_fov_deg=180.0)
    with pytest.raises(ValueError, match="choose one of"):
        ConditioningConfig(camera_tokens="pixels")
    cond = ConditioningConfig(camera_tokens="rays", ray_fov_deg=50.0)
    layout = SequenceLayout(cond, 2)
    poses = torch.arange(24.0).reshape(1, 2, 12)
    frame_poses, weight = layout.frame_cameras(poses)
    assert torch.equal(frame_poses[0, 1], poses[0, 0]) and torch.equal(frame_poses[0, 3], poses[0, 1])
    assert torch.equal(frame_poses[0, 0], torch.eye(3, 4).flatten()) and torch.equal(frame_poses[0, 2], frame_poses[0, 0])
    assert weight.tolist() == [1, 1, 1, 1]
    src_poses = -poses
    assert torch.equal(layout.frame_cameras(poses, src_poses)[0], frame_poses)     # read only under source_cameras
    with pytest.raises(ValueError, match="source_cameras=true needs camera_tokens='rays'"):
        ConditioningConfig(source_cameras=True)
    known = SequenceLayout(cond.replace(source_cameras=True), 2).frame_cameras(poses, src_poses)[0]
    assert torch.equal(known[0, 0], src_poses[0, 0]) and torch.equal(known[0, 2], src_poses[0, 1])
    assert torch.equal(known[0, 1], poses[0, 0]) and torch.equal(known[0, 3], poses[0, 1])
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=3).eval()
    assert model.blocks[0].cam_encoder.weight.shape == (TINY.dim, RAY_DIM)
    g = torch.Generator().manual_seed(0)
    src, tgt = torch.randn(2, 1, 16, 2, 4, 4, generator=g)
    ctx, pose = torch.randn(1, 3, TINY.text_dim, generator=g), 0.2 * torch.randn(1, 2, 12, generator=g)
    t = torch.tensor([600.0])
    loaded = load_dit(save_realcam_checkpoint(model, tmp_path / "rays.safetensors"))
    assert loaded.conditioning == cond
    with torch.no_grad():
        out = model.velocity(src, tgt, t, ctx, pose)
        # bit-identical weights; used in place from the file they may sit at any byte offset (it moves with the
        # metadata's length), and CPU kernels then differ from freshly allocated memory in the last bit of the output
        assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
        torch.testing.assert_close(out, loaded.velocity(src, tgt, t, ctx, pose), rtol=0, atol=1e-5)
        assert not torch.allclose(out, model.velocity(src, tgt, t, ctx, pose + 0.1))   # the rays reach the output


def test_ray_rope_positions_put_the_same_scene_point_at_the_same_position(tmp_path):
    """rope_positions='rays': a token's spatial RoPE position is where its ray meets the scene (at rope_depth) in the
    reference camera's grid. The reference camera gets its own grid back, so a model given identity cameras is the
    grid-RoPE model exactly; after a turn, or a move with the point at rope_depth, the target token lands on the source
    token that sees the same point, so "copy the source at equal positions" becomes the warp."""
    from realcam.camera import rotation_from_ypr
    from realcam.camera.rays import reference_positions
    from realcam.model.rope import grid_positions
    from realcam.weights import load_dit, save_realcam_checkpoint
    from tests.conftest import randomize_

    h, w, fov = 6, 8, 60.0
    identity = torch.eye(3, 4).flatten()[None, None]
    assert torch.allclose(reference_positions(identity, h, w, fov, 4.0)[0, 0],
                          grid_positions(torch.zeros(1), h, w)[:, 1:], atol=1e-12)
    tan_x = math.tan(math.radians(fov) / 2)
    for yaw, pitch, origin, depth in ((10.0, 0.0, (0.0, 0.0, 0.0), 4.0), (-6.0, 3.0, (0.0, 0.0, 0.0), 1e5),
                                      (0.0, 0.0, (0.5, 0.0, 0.0), 4.0), (0.0, 0.0, (0.0, 0.0, 1.0), 3.0)):
        pose = torch.eye(3, 4, dtype=torch.float64)
        pose[:, :3] = rotation_from_ypr(yaw, pitch, 0.0)[0]
        pose[:, 3] = torch.tensor(origin, dtype=torch.float64)
        pos = reference_positions(pose.flatten()[None, None], h, w, fov, depth)[0, 0]
        # the scene point the target's centre-left token sees at `depth`, projected by hand into the reference camera
        row, col = h // 2, 2
        x = ((col + 0.5) / w * 2 - 1) * tan_x
        y = ((row + 0.5) / h * 2 - 1) * tan_x * h / w
        d = pose[:, :3] @ torch.tensor([x, y, 1.0], dtype=torch.float64)
        p = pose[:, 3] + depth * d / d.norm()
        want = torch.stack([(p[1] / p[2] / (tan_x * h / w) + 1) * h / 2 - 0.5, (p[0] / p[2] / tan_x + 1) * w / 2 - 0.5])
        assert torch.allclose(pos[row * w + col], want, atol=1e-9), (yaw, pitch, origin)
        if origin == (0.0, 0.0, 0.0):   # a pure turn moves every token by the same angle: positions depend on no depth
            assert torch.allclose(pos, reference_positions(pose.flatten()[None, None], h, w, fov, 0.5)[0, 0], atol=1e-9)
    # a camera turned backwards yields finite, clamped positions
    back = torch.eye(3, 4, dtype=torch.float64)
    back[:, :3] = rotation_from_ypr(180.0, 0.0, 0.0)[0]
    far = reference_positions(back.flatten()[None, None], h, w, fov, 4.0)
    assert torch.isfinite(far).all() and far[..., 1].abs().amax() <= 5 * w

    with pytest.raises(ValueError, match="rope_positions='rays' needs camera_tokens='rays'"):
        ConditioningConfig(rope_positions="rays")
    for bad in (0.0, -1.0, float("nan"), True, 2e6):
        with pytest.raises(ValueError, match="rope_depth"):
            ConditioningConfig(camera_tokens="rays", rope_positions="rays", rope_depth=bad)
    grid_cond = ConditioningConfig(camera_tokens="rays")
    cond = grid_cond.replace(rope_positions="rays", rope_depth=3.0)
    grid_model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=grid_cond), seed=5).eval()
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=5).eval()
    g = torch.Generator().manual_seed(1)
    src, tgt = torch.randn(2, 2, 16, 2, 4, 4, generator=g)
    ctx, t = torch.randn(2, 3, TINY.text_dim, generator=g), torch.tensor([600.0, 300.0])
    still = identity.expand(2, 2, 12).clone()
    turned = torch.eye(3, 4).repeat(2, 2, 1, 1)
    turned[1, 1, :, :3] = rotation_from_ypr(12.0, 0.0, 0.0)[0].float()
    turned = turned.flatten(2)
    with torch.no_grad():
        assert torch.equal(model.velocity(src, tgt, t, ctx, still), grid_model.velocity(src, tgt, t, ctx, still))
        a, b = model.velocity(src, tgt, t, ctx, turned), grid_model.velocity(src, tgt, t, ctx, turned)
        assert torch.allclose(a[0], b[0]) and not torch.allclose(a[1], b[1])   # per sample: only the turned one moves
        loaded = load_dit(save_realcam_checkpoint(model, tmp_path / "ray_rope.safetensors"))
        assert loaded.conditioning == cond and torch.equal(loaded.velocity(src, tgt, t, ctx, turned), a)
        # several depths, one per group of heads: equal depths are the one-depth model; a group whose depth changes
        # changes the output only under translation (a turn is the same at every depth)
        same = RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(rope_depth=[3.0] * TINY.num_heads))
        same.load_state_dict(model.state_dict())
        assert isinstance(same.conditioning.rope_depth, tuple)
        assert torch.allclose(same.velocity(src, tgt, t, ctx, turned), a, atol=1e-6)
        sweep = RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(rope_depth=(3.0,) * (TINY.num_heads - 1) + (50.0,)))
        sweep.load_state_dict(model.state_dict())
        assert torch.allclose(sweep.velocity(src, tgt, t, ctx, turned), a, atol=1e-6)
        moved = turned.clone()
        moved[1, 1, 3] = 0.8                                                          # step 0.8 m right
        assert not torch.allclose(sweep.velocity(src, tgt, t, ctx, moved), model.velocity(src, tgt, t, ctx, moved), atol=1e-4)
        assert load_dit(save_realcam_checkpoint(sweep, tmp_path / "sweep.safetensors")).conditioning == sweep.conditioning
    with pytest.raises(ValueError, match="must divide"):
        bad = RealCamDiT(TINY, camera_layers=True, conditioning=cond.replace(rope_depth=(1.0,) * (TINY.num_heads + 1)))
        bad.velocity(src, tgt, t, ctx, turned)
    with pytest.raises(ValueError, match="rope_depth"):
        cond.replace(rope_depth=(2.0, -1.0))


def test_source_warp_starts_as_the_loaded_model_and_reprojects_each_source_frame(tmp_path):
    """``source_warp``: a model loaded from a file without it computes what the file's model computes (its camera
    layers kept, the guide zero); the guide is each source latent frame reprojected into the target camera of the
    same frame, plane by plane, as ``reproject`` does pixels; it reaches only target frames, and a trained guide
    makes the output follow it. Bad settings are refused."""
    from realcam.camera import rotation_from_ypr
    from realcam.camera.rays import latent_intrinsics, reproject, warp_latents
    from realcam.weights import load_dit, save_realcam_checkpoint
    from tests.conftest import randomize_

    cond = ConditioningConfig(camera_tokens="rays", rope_positions="rays", source_cameras=True)
    plain = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=2).eval()
    path = save_realcam_checkpoint(plain, tmp_path / "plain.safetensors")
    plain = load_dit(path, dtype=torch.float32)
    warped = load_dit(path, dtype=torch.float32, conditioning=cond.replace(source_warp=(2.0, 1e5)))
    assert any("guide_embedding" in n for n in warped.load_info.notes)
    g = torch.Generator().manual_seed(1)
    src, tgt = torch.randn(2, 1, 16, 2, 4, 4, generator=g)
    ctx, t = torch.randn(1, 3, TINY.text_dim, generator=g), torch.tensor([500.0])
    pose = torch.eye(3, 4).repeat(1, 2, 1, 1)
    pose[0, 1, :, :3] = rotation_from_ypr(8.0, 2.0, 0.0)[0].float()
    pose[0, 1, :, 3] = torch.tensor([0.2, 0.0, 0.1])
    pose, still = pose.flatten(2), torch.eye(3, 4).flatten()[None, None].repeat(1, 2, 1)
    with torch.no_grad():
        assert torch.equal(warped.velocity(src, tgt, t, ctx, pose, source_pose12=still),
                           plain.velocity(src, tgt, t, ctx, pose, source_pose12=still))
    # the guide: latent frame k of the source, from its camera into the target's, per plane (plane-major channels)
    guide = warp_latents(src, still, pose, 60.0, (2.0, 1e5))
    assert guide.shape == (1, 32, 2, 4, 4) and torch.allclose(guide[:, :, 0], src[:, :, 0].repeat(1, 2, 1, 1), atol=1e-5)
    c2w = torch.eye(4).repeat(2, 1, 1)
    c2w[:, :3] = pose[0].unflatten(-1, (3, 4))
    for p, depth in enumerate((2.0, 1e5)):
        want = reproject(src[0].permute(1, 2, 3, 0), torch.eye(4).repeat(2, 1, 1), c2w, latent_intrinsics(4, 4, 60.0), depth)
        assert torch.allclose(guide[0, 16 * p:16 * (p + 1)], want.permute(3, 0, 1, 2), atol=1e-5)
    layout = SequenceLayout(warped.conditioning, 2)
    cam, _ = layout.frame_cameras(pose, still)
    seq = warped.source_guide(layout, src, cam)
    assert torch.equal(layout.split(seq)[1], guide) and not layout.split(seq)[0].any()
    # once the guide embedding is trained, the target follows the reprojection; without cameras there is none
    randomize_(warped.guide_embedding, seed=3)
    with torch.no_grad():
        a = warped.velocity(src, tgt, t, ctx, pose, source_pose12=still)
        moved = still.clone()
        moved[0, 1, 3] = 0.3
        assert not torch.allclose(a, warped.velocity(src, tgt, t, ctx, pose, source_pose12=moved))
    assert warped.source_guide(layout, src, None) is None
    loaded = load_dit(save_realcam_checkpoint(warped, tmp_path / "warped.safetensors"))
    assert loaded.conditioning.source_warp == (2.0, 1e5) and not loaded.load_info.notes
    with torch.no_grad():
        torch.testing.assert_close(loaded.velocity(src, tgt, t, ctx, pose, source_pose12=still), a, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="source_warp needs camera_tokens='rays'"):
        ConditioningConfig(source_warp=(4.0,))
    for bad in ((0.0,), (-1.0,), (True,), ("4",), tuple([4.0] * 9)):
        with pytest.raises(ValueError, match="source_warp"):
            ConditioningConfig(camera_tokens="rays", source_warp=bad)
    with pytest.raises(ValueError, match=r"poses must be \[1, 2, 12\]"):
        warp_latents(src, still[:, :1], pose, 60.0, (4.0,))


def test_more_source_warp_planes_start_as_the_file_and_keep_its_guide(tmp_path):
    """Loading a ``source_warp`` file with a plane list that adds planes to its own (in any order): the file's
    guide weights move with their planes and the new planes start at zero, so the model computes exactly what the
    file's does and each old plane is still read by the same weights; a list that drops one of the file's planes
    is refused by name rather than losing its trained weights."""
    from realcam.weights import WeightsError, load_dit, save_realcam_checkpoint
    from tests.conftest import randomize_

    cond = ConditioningConfig(camera_tokens="rays", rope_positions="rays", source_cameras=True, source_warp=(2.0, 1e5))
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=4).eval()
    path = save_realcam_checkpoint(model, tmp_path / "two.safetensors")
    model = load_dit(path, dtype=torch.float32)
    more = load_dit(path, dtype=torch.float32, conditioning=cond.replace(source_warp=(1e5, 3.0, 2.0)))
    assert more.guide_embedding.weight.shape[1] == 3 * TINY.in_dim
    assert any("guide 2 → 3 reprojections (added: same-time 3)" in n for n in more.load_info.notes)
    c = TINY.in_dim
    w_old, w_new = model.guide_embedding.weight, more.guide_embedding.weight
    assert torch.equal(w_new[:, :c], w_old[:, c:]) and torch.equal(w_new[:, 2 * c:], w_old[:, :c])
    assert not w_new[:, c:2 * c].any()
    g = torch.Generator().manual_seed(5)
    src, tgt = torch.randn(2, 1, 16, 2, 4, 4, generator=g)
    ctx, t = torch.randn(1, 3, TINY.text_dim, generator=g), torch.tensor([700.0])
    pose = torch.eye(3, 4).flatten().repeat(1, 2, 1)
    pose[0, 1, 3], pose[0, 1, 11] = 0.4, 0.2                                       # a move: the planes disagree
    with torch.no_grad():
        torch.testing.assert_close(more.velocity(src, tgt, t, ctx, pose), model.velocity(src, tgt, t, ctx, pose),
                                   rtol=0, atol=1e-5)
    with pytest.raises(WeightsError, match="through source_warp plane 100000,? .*keep every source_warp plane"):
        load_dit(path, conditioning=cond.replace(source_warp=(2.0, 4.0)))


def test_the_first_frame_guide_starts_as_the_file_and_reprojects_the_sources_first_frame(tmp_path):
    """``source_warp_first``: loading a ``source_warp`` file with it adds zero weights for the first frame's
    reprojections, so the model computes exactly what the file's does; those channels hold the source's first latent
    frame reprojected from the reference camera into each target camera (with or without the source's own path);
    a sequence that starts later needs that frame passed in; a file that reads it cannot be loaded without it."""
    from realcam.camera.rays import warp_latents
    from realcam.weights import WeightsError, load_dit, save_realcam_checkpoint
    from tests.conftest import randomize_

    cond = ConditioningConfig(camera_tokens="rays", rope_positions="rays", source_cameras=True, source_warp=(2.0, 1e5))
    model = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=4).eval()
    path = save_realcam_checkpoint(model, tmp_path / "file.safetensors")
    model = load_dit(path, dtype=torch.float32)
    first = load_dit(path, dtype=torch.float32, conditioning=cond.replace(source_warp_first=True))
    c = TINY.in_dim
    assert first.guide_embedding.weight.shape[1] == 4 * c and not first.guide_embedding.weight[:, 2 * c:].any()
    assert torch.equal(first.guide_embedding.weight[:, :2 * c], model.guide_embedding.weight)
    assert any("(added: first 2, first 100000)" in n for n in first.load_info.notes)
    g = torch.Generator().manual_seed(5)
    src, tgt = torch.randn(2, 1, 16, 3, 4, 4, generator=g)
    ctx, t = torch.randn(1, 3, TINY.text_dim, generator=g), torch.tensor([700.0])
    pose = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    pose[0, 1:, 3], pose[0, 1:, 11] = 0.4, 0.2                                     # the target moves
    moving = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    moving[0, 1:, 7] = -0.3                                                          # and so does the source
    with torch.no_grad():
        torch.testing.assert_close(first.velocity(src, tgt, t, ctx, pose, source_pose12=moving),
                                   model.velocity(src, tgt, t, ctx, pose, source_pose12=moving), rtol=0, atol=1e-5)
    layout = SequenceLayout(first.conditioning, 3)
    still = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    reference = warp_latents(src[:, :, :1].expand(-1, -1, 3, -1, -1), still, pose, 60.0, (2.0, 1e5))
    for source_pose in (moving, None):
        cam, _ = layout.frame_cameras(pose, source_pose)
        guide = layout.split(first.source_guide(layout, src, cam))[1]
        assert torch.equal(guide[:, 2 * c:], reference)
        assert torch.equal(guide[:, :2 * c], layout.split(model.source_guide(layout, src, cam))[1])
    assert torch.equal(reference[:, c:, 0], src[:, :, 0])         # target frame 0 is the reference camera itself
    later = SequenceLayout(first.conditioning, 2, start=1)
    cam, _ = later.frame_cameras(pose[:, 1:], moving[:, 1:])
    with pytest.raises(ValueError, match="pass first="):
        first.source_guide(later, src[:, :, 1:], cam)
    guide = later.split(first.source_guide(later, src[:, :, 1:], cam, first=src[:, :, :1]))[1]
    assert torch.equal(guide[:, 2 * c:], reference[:, :, 1:])
    saved = save_realcam_checkpoint(first, tmp_path / "first.safetensors")
    assert load_dit(saved).conditioning.source_warp_first
    with pytest.raises(WeightsError, match="source_warp_first through plane 2, .*keep every"):
        load_dit(saved, conditioning=cond)
    with pytest.raises(ValueError, match="source_warp_first=true needs source_warp"):
        ConditioningConfig(camera_tokens="rays", source_warp_first=True)
