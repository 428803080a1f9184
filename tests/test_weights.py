"""Weight files: formats, round trips, fp8, meta-device loading and the errors users see."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from realcam.config import (CONFIGS, RECAMMASTER_CONDITIONING, RELEASED_CONFIGS, TINY, TINY_22, ConditioningConfig,
                            StreamingConfig)
from realcam.model import RealCamDiT
from realcam.weights import (WeightsError, detect_arch, load_dit, save_realcam_checkpoint, to_diffusers_state_dict)
from tests.conftest import randomize_


def _inputs(cfg=TINY, f=3):
    g = torch.Generator().manual_seed(11)
    src, tgt = torch.randn(2, 1, cfg.in_dim, f, 4, 4, generator=g)
    return src, tgt, torch.tensor([500.0]), torch.randn(1, 6, cfg.text_dim, generator=g), torch.randn(1, f, 12, generator=g)


def _run(model, cfg=TINY):
    with torch.no_grad():
        return model.velocity(*_inputs(cfg))


def _plain_sd(model):
    return {k: v for k, v in model.state_dict().items() if ".cam_encoder." not in k and ".projector." not in k}


def test_realcam_checkpoint_round_trip_is_bit_exact(tmp_path, tiny_model):
    cond = ConditioningConfig(mode="interleave", rope_temporal="shared", source_timestep="zero", camera_on_source=False)
    tiny_model.conditioning = cond
    streaming = StreamingConfig(chunk_latent_frames=1, sink_chunks=2, window_chunks=3, denoising_steps=(1000.0, 500.0),
                                rope_mode="cache_slot")
    path = save_realcam_checkpoint(tiny_model, tmp_path / "rc.safetensors", streaming=streaming,
                                   extra_metadata={"trained_on": "unit test"})
    loaded = load_dit(path)
    a, b = tiny_model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
    assert loaded.cfg == TINY and loaded.conditioning == cond and loaded.streaming == streaming
    assert loaded.load_info.format == "realcam" and loaded.load_info.conditioning_source == "metadata"
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["trained_on"] == "unit test" and json.loads(meta["arch"])["dim"] == TINY.dim
    assert torch.equal(_run(tiny_model), _run(loaded))
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp file


def test_fresh_camera_layers_compute_plain_wan(tiny_model):
    plain = RealCamDiT(TINY, camera_layers=False)
    plain.load_state_dict(_plain_sd(tiny_model))
    fresh = RealCamDiT(TINY, camera_layers=True)
    fresh.load_state_dict(_plain_sd(tiny_model), strict=False)
    fresh.init_camera_layers()
    src, tgt, t, ctx, pose = _inputs()
    with torch.no_grad():
        with_cam = fresh.velocity(src, tgt, t, ctx, pose * 10)
        without = plain.velocity(src, tgt, t, ctx, None)
    assert (with_cam - without).abs().max().item() <= 1e-6
    # and the trained (random) camera layers do change it: the test can fail
    with torch.no_grad():
        assert (tiny_model.velocity(src, tgt, t, ctx, pose) - without).abs().max() > 1e-2


def test_plain_wan_file_gets_camera_layers(tmp_path, tiny_model):
    path = tmp_path / "wan_tiny.safetensors"
    save_file(_plain_sd(tiny_model), str(path), metadata={"arch": TINY.to_json()})
    model = load_dit(path)
    assert model.load_info.format == "official" and model.conditioning == ConditioningConfig()
    assert any("added zero-initialised" in n for n in model.load_info.notes)
    assert torch.count_nonzero(model.blocks[0].cam_encoder.weight) == 0
    assert torch.equal(model.blocks[1].projector.weight, torch.eye(TINY.dim))


def test_comfyui_prefixed_and_recammaster_files(tmp_path, tiny_model):
    sd = {"model.diffusion_model." + k: v for k, v in tiny_model.state_dict().items()}
    sd["first_stage_model.decoder.conv.weight"] = torch.zeros(1)  # other parts of a bundled file are ignored
    path = tmp_path / "recammaster_tiny.safetensors"
    save_file(sd, str(path))
    model = load_dit(path, config="tiny")
    assert model.load_info.format == "recammaster"
    assert model.conditioning == RECAMMASTER_CONDITIONING and model.load_info.conditioning_source == "recammaster default"
    assert any("model.diffusion_model." in n for n in model.load_info.notes)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in tiny_model.state_dict().items())
    assert load_dit(path, config="tiny", conditioning=ConditioningConfig()).conditioning.mode == "interleave"


def test_diffusers_file_loads(tmp_path, tiny_model):
    path = tmp_path / "diffusers_tiny.safetensors"
    save_file(to_diffusers_state_dict(_plain_sd(tiny_model)), str(path))
    with pytest.raises(WeightsError, match="attention heads of a dim-64 model"):
        load_dit(path)
    model = load_dit(path, num_heads=TINY.num_heads)
    assert model.load_info.format == "diffusers"
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in _plain_sd(tiny_model).items())


def _fp8_file(tmp_path, model, fmt):
    """A ComfyUI-style fp8 file: linear weights in fp8, optionally with per-layer scale_weight."""
    sd, reference = {}, {}
    for k, v in _plain_sd(model).items():
        if k.endswith(".weight") and v.ndim == 2 and "modulation" not in k:
            if fmt == "e4m3fn_scaled":
                scale = v.abs().max() / 448.0
                q = (v / scale).to(torch.float8_e4m3fn)
                sd[k], sd[k[:-len("weight")] + "scale_weight"] = q, scale.reshape(())
                reference[k] = q.float() * scale
            else:
                sd[k] = v.to(torch.float8_e5m2)
                reference[k] = sd[k].float()
        else:
            sd[k] = reference[k] = v.to(torch.bfloat16) if fmt == "e5m2" else v
    if fmt == "e4m3fn_scaled":
        sd["scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    path = tmp_path / f"tiny_{fmt}.safetensors"
    save_file(sd, str(path), metadata={"arch": TINY.to_json()})
    return path, reference


@pytest.mark.parametrize("fmt", ["e4m3fn_scaled", "e5m2"])
def test_fp8_files_load_kept_or_upcast_and_run(tmp_path, tiny_model, fmt):
    path, reference_sd = _fp8_file(tmp_path, tiny_model, fmt)
    kept = load_dit(path, dtype="fp32", fp8="keep")
    upcast = load_dit(path, dtype="fp32", fp8="upcast")
    assert kept.blocks[0].self_attn.q.weight.dtype in (torch.float8_e4m3fn, torch.float8_e5m2)
    assert upcast.blocks[0].self_attn.q.weight.dtype == torch.float32
    assert kept.load_info.fp8 == "kept" and upcast.load_info.fp8 == "upcast"
    reference = RealCamDiT(TINY, camera_layers=True)
    reference.load_state_dict({k: v.float() for k, v in reference_sd.items()}, strict=False)
    reference.init_camera_layers()
    out_kept, out_up, out_ref = _run(kept), _run(upcast), _run(reference)
    assert torch.isfinite(out_kept).all()
    assert (out_kept - out_ref).abs().max() <= 1e-5 and (out_up - out_ref).abs().max() <= 1e-5
    # fp8 storage is lossy: the dequantised model differs from the fp32 original, so this test can see it
    assert (_run(tiny_model) - out_ref).abs().max() > 0
    if fmt == "e4m3fn_scaled":  # saving a kept-fp8 model keeps its scales
        again = load_dit(save_realcam_checkpoint(kept, tmp_path / "again.safetensors"), dtype="fp32", fp8="keep")
        assert torch.equal(_run(again), out_kept)


def test_bf16_compute(tmp_path, tiny_model):
    path = save_realcam_checkpoint(tiny_model, tmp_path / "rc.safetensors")
    model = load_dit(path, dtype="bf16")
    assert model.dtype == torch.bfloat16
    out = _run(model)
    ref = _run(tiny_model)
    assert out.dtype == torch.float32 or out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max()


@pytest.mark.parametrize("cfg", RELEASED_CONFIGS, ids=lambda c: c.name)
def test_detect_released_architectures_from_shapes(cfg):
    with torch.device("meta"):
        sd = RealCamDiT(cfg, camera_layers=False).state_dict()
    assert detect_arch(sd) == cfg


def test_wrong_config_is_named(tmp_path):
    model = randomize_(RealCamDiT(TINY_22, camera_layers=False))
    path = save_realcam_checkpoint(model, tmp_path / "tiny22.safetensors")
    with pytest.raises(WeightsError, match=r"is tiny-2\.2 \(dim 64, 2 blocks, 48 latent channels, wan2\.2 VAE\), not tiny"):
        load_dit(path, config="tiny")
    with torch.device("meta"):
        big = RealCamDiT(CONFIGS["wan2.2-ti2v-5b"], camera_layers=False).state_dict()
    from realcam.weights import _check_requested
    with pytest.raises(WeightsError, match=r"wan2\.2-ti2v-5b \(dim 3072.*choose the matching config"):
        _check_requested(detect_arch(big), CONFIGS["wan2.1-t2v-1.3b"], "x.safetensors")


def test_missing_and_unexpected_keys_are_counted(tmp_path, tiny_model):
    sd = _plain_sd(tiny_model)
    for k in [k for k in sd if k.startswith("blocks.1.ffn")]:
        del sd[k]
    sd["blocks.0.extra_adapter.weight"] = torch.zeros(3)
    path = tmp_path / "broken.safetensors"
    save_file(sd, str(path), metadata={"arch": TINY.to_json()})
    with pytest.raises(WeightsError, match=r"4 missing keys \(first: blocks\.1\.ffn\.0\.weight.*1 unexpected keys"):
        load_dit(path)


def test_not_a_dit_and_unsafe_pickles(tmp_path):
    vae = tmp_path / "wan_2.1_vae.safetensors"
    save_file({"decoder.conv1.weight": torch.zeros(2), "encoder.conv1.weight": torch.zeros(2)}, str(vae))
    with pytest.raises(WeightsError, match="not a Wan DiT checkpoint.*looks like a VAE"):
        load_dit(vae)
    with pytest.raises(WeightsError, match="not found"):
        load_dit(tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match="unknown weights format"):
        (tmp_path / "m.gguf").write_bytes(b"xx")
        load_dit(tmp_path / "m.gguf")
    # a pickle that would run code: refused by weights_only, nothing executed
    evil = tmp_path / "evil.pt"
    marker = tmp_path / "pwned"
    code = (f"import torch, os\nclass E:\n    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
            f"torch.save({{'x': E()}}, r'{evil}')\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(WeightsError, match="weights_only=True.*never runs code"):
        load_dit(evil)
    assert not marker.exists()


def test_pt_checkpoint_with_state_dict_wrapper(tmp_path, tiny_model):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": tiny_model.state_dict(), "step": torch.tensor(3)}, path)
    model = load_dit(path, config="tiny")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in tiny_model.state_dict().items())


def test_meta_device_load_does_not_double_memory(tmp_path, report):
    """Loading a ~290 MB file must not hold a randomly initialised copy next to the loaded one."""
    from realcam.config import WanConfig

    cfg = WanConfig("mem", dim=1024, ffn_dim=4096, num_heads=8, num_layers=4, text_dim=64, freq_dim=64)
    with torch.device("meta"):
        shapes = RealCamDiT(cfg, camera_layers=False).state_dict()
    path = tmp_path / "mem.safetensors"
    save_file({k: torch.randn(v.shape) for k, v in shapes.items()}, str(path), metadata={"arch": cfg.to_json()})
    size = path.stat().st_size
    # VmHWM is the peak RSS of this process's own address space (ru_maxrss would inherit the parent's)
    code = (
        "import torch, realcam\n"
        "def hwm():\n"
        "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "base = hwm()\n"
        f"m = realcam.load_dit(r'{path}', dtype='fp32')\n"
        "total = sum(float(p.sum()) for p in m.parameters())  # every weight resident\n"
        "print(hwm() - base)\n")
    grown = int(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    report(f"file {size / 2**20:.0f} MiB, peak RSS growth {grown / 2**20:.0f} MiB")
    # measured ~1.35x (allocator and reader overhead); a random-init-then-load build is >= 2x
    assert grown < 1.6 * size


def test_crafted_files_are_refused_before_any_work(tmp_path, tiny_model):
    """A 33 kB file naming blocks.99999, or metadata asking for 100,000 blocks, used to build a model for
    minutes before any key check; crafted metadata ended in ZeroDivision/Index/TypeErrors."""
    import time

    from safetensors import safe_open

    good = tmp_path / "good.safetensors"
    save_realcam_checkpoint(tiny_model, good)
    with safe_open(str(good), "pt") as f:
        sd = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata())
    arch = json.loads(meta["arch"])
    cases = {
        "blocks.99999": ({**sd, "blocks.99999.ffn.0.bias": torch.zeros(1)}, {}, "numbered"),
        "num_layers 100000": (sd, {**meta, "arch": json.dumps({**arch, "num_layers": 100_000})}, "num_layers"),
        "num_heads 0": (sd, {**meta, "arch": json.dumps({**arch, "num_heads": 0})}, "num_heads"),
        "dim as text": (sd, {**meta, "arch": json.dumps({**arch, "dim": "64"})}, "dim"),
        "arch not an object": (sd, {**meta, "arch": "[1, 2]"}, "object"),
        "streaming wrong type": (sd, {**meta, "streaming": json.dumps({"chunk_latent_frames": "3"})}, "wrong type"),
        "1-D patch embedding": ({**sd, "patch_embedding.weight": torch.zeros(64)}, {}, "patch_embedding"),
    }
    for name, (tensors, metadata, message) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        save_file(tensors, str(path), metadata=metadata)
        t0 = time.perf_counter()
        with pytest.raises(ValueError, match=message):
            load_dit(path)
        assert time.perf_counter() - t0 < 2.0, name
    run = subprocess.run([sys.executable, "-m", "realcam", "inspect", str(tmp_path / "num_heads_0.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "num_heads" in run.stderr


def test_training_size_travels_with_the_checkpoint(tmp_path, tiny_model):
    tiny_model.trained_latent_size = (8, 12)
    try:
        save_realcam_checkpoint(tiny_model, tmp_path / "m.safetensors")
    finally:
        tiny_model.trained_latent_size = None
    assert load_dit(tmp_path / "m.safetensors").trained_latent_size == (8, 12)
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        sd, meta = {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())
    save_file(sd, str(tmp_path / "bad.safetensors"), metadata={**meta, "trained_latent_size": "[0, 1e9]"})
    with pytest.raises(WeightsError, match="trained_latent_size"):
        load_dit(tmp_path / "bad.safetensors")


def test_grown_checkpoint_computes_the_same_and_its_new_blocks_learn(tmp_path, tiny_model):
    """``grow-depth``: a new block after blocks 0 and 1 (twice after 1) starts as a no-op, so the grown model's
    velocity equals the file's bit for bit, yet the layers zeroed to make it so get a gradient and can train."""
    from realcam.weights import grow_depth

    src = save_realcam_checkpoint(tiny_model, tmp_path / "rc.safetensors")
    arch = grow_depth(src, tmp_path / "grown.safetensors", (0, 1, 1))
    grown = load_dit(tmp_path / "grown.safetensors")
    assert arch.num_layers == grown.cfg.num_layers == TINY.num_layers + 3 and len(grown.blocks) == arch.num_layers
    assert torch.equal(_run(tiny_model), _run(grown))
    # the new blocks are 1, 3 and 4 (copies of the file's blocks 0, 1 and 1); the file's block 1 is now block 2
    assert torch.equal(grown.blocks[2].self_attn.q.weight, tiny_model.blocks[1].self_attn.q.weight)
    assert torch.equal(grown.blocks[4].ffn[0].weight, tiny_model.blocks[1].ffn[0].weight)
    grown.train()
    grown.velocity(*_inputs()).square().mean().backward()
    for i in (1, 3, 4):
        for layer in (grown.blocks[i].projector, grown.blocks[i].cross_attn.o, grown.blocks[i].ffn[2]):
            assert not layer.weight.any() and layer.weight.grad.abs().sum() > 0
    with safe_open(str(tmp_path / "grown.safetensors"), "pt") as f:
        record = json.loads(f.metadata()["grown_from"])
    assert record == [{"layers": TINY.num_layers, "after": [0, 1, 1], "file": "rc.safetensors"}]


def _moving_case():
    """Source, target and guide latents, a text context, and target and source cameras that move and turn."""
    g = torch.Generator().manual_seed(8)
    src, tgt, guide = torch.randn(3, 1, 16, 3, 4, 4, generator=g)
    ctx = torch.randn(1, 3, TINY.text_dim, generator=g)
    pose = torch.eye(3, 4).flatten().repeat(1, 3, 1)
    pose[0, 1:, 3], pose[0, 2, 0], pose[0, 2, 2] = 0.4, 0.9, -0.4
    source = pose.clone()
    source[0, 1:, 3] = -0.2
    return src, tgt, ctx, pose, dict(source_pose12=source, pixel_guide=guide)


def test_widened_checkpoint_computes_the_same_and_its_copies_part(tmp_path):
    """``grow-width`` on the embedded teacher (RoPE depths per group of heads, pixel guide, gate, depth network): the
    widened model's velocity equals the file's at every noise level; the noise that splits each weight among a
    channel's copies gives the copies different gradients (without it they stay copies); the growth is recorded."""
    from realcam.demo import ASSETS
    from realcam.weights import grow_width

    src_file = ASSETS / "teacher.safetensors"
    base = load_dit(src_file, dtype=torch.float32).eval()
    assert len(base.conditioning.rope_depths) > 1 and base.guide_gate is not None and base.depth_net is not None
    src, tgt, ctx, pose, kw = _moving_case()
    for factor in (2, 3):
        arch = grow_width(src_file, tmp_path / f"wide{factor}.safetensors", factor)
        wide = load_dit(tmp_path / f"wide{factor}.safetensors", dtype=torch.float32).eval()
        assert (arch.dim, arch.ffn_dim, arch.num_heads, arch.head_dim) == (
            base.cfg.dim * factor, base.cfg.ffn_dim * factor, base.cfg.num_heads * factor, base.cfg.head_dim)
        assert wide.cfg == arch and wide.conditioning == base.conditioning and not wide.load_info.notes
        with torch.no_grad():
            for t in (900.0, 300.0, 20.0):
                tt = torch.tensor([t])
                torch.testing.assert_close(wide.velocity(src, tgt, tt, ctx, pose, **kw),
                                           base.velocity(src, tgt, tt, ctx, pose, **kw), rtol=1e-5, atol=2e-5)
    hd = base.cfg.head_dim
    for noise, parted in ((0.1, True), (0.0, False)):
        grow_width(src_file, tmp_path / "w.safetensors", 2, noise, seed=3)
        wide = load_dit(tmp_path / "w.safetensors", dtype=torch.float32).train()
        wide.velocity(src, tgt, torch.tensor([500.0]), ctx, pose, **kw).square().mean().backward()
        grad = wide.blocks[1].self_attn.q.weight.grad          # new heads 0 and 1 are the copies of the file's head 0
        assert torch.allclose(grad[:hd], grad[hd:2 * hd], atol=1e-7) is not parted
    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        record = json.loads(f.metadata()["grown_from"])
    assert record == [{"dim": base.cfg.dim, "factor": 2, "noise": 0.0, "seed": 3, "file": "teacher.safetensors"}]


def test_grow_width_refuses_what_it_cannot_widen(tmp_path, tiny_model):
    from realcam.weights import grow_width

    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(WeightsError, match="not a RealCam checkpoint"):
        grow_width(tmp_path / "plain.safetensors", tmp_path / "out.safetensors")
    src = save_realcam_checkpoint(tiny_model, tmp_path / "rc.safetensors")
    for factor in (1, 9, True, 2.0):
        with pytest.raises(WeightsError, match="factor"):
            grow_width(src, tmp_path / "out.safetensors", factor)
    for noise in (-0.1, float("nan"), 2.0, "0.1"):
        with pytest.raises(WeightsError, match="noise"):
            grow_width(src, tmp_path / "out.safetensors", 2, noise)
    with safe_open(str(src), "pt") as f:
        sd, meta = {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())
    save_file({**sd, "blocks.0.extra.weight": torch.zeros(TINY.dim)}, str(tmp_path / "odd.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="blocks.0.extra.weight"):
        grow_width(tmp_path / "odd.safetensors", tmp_path / "out.safetensors")
    sd["blocks.0.ffn.0.weight"] = sd["blocks.0.ffn.0.weight"][:, :-1].contiguous()
    save_file(sd, str(tmp_path / "cut.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="blocks.0.ffn.0.weight.*damaged"):
        grow_width(tmp_path / "cut.safetensors", tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()
    bad = subprocess.run([sys.executable, "-m", "realcam", "grow-width", "--weights", str(src), "--factor", "1",
                          "--out", str(tmp_path / "out.safetensors")], capture_output=True, text=True)
    assert bad.returncode != 0 and "factor 1" in bad.stderr and not (tmp_path / "out.safetensors").exists()


def test_grow_depth_refuses_what_it_cannot_grow(tmp_path, tiny_model):
    from realcam.weights import grow_depth

    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(WeightsError, match="not a RealCam checkpoint"):
        grow_depth(tmp_path / "plain.safetensors", tmp_path / "out.safetensors", (0,))
    src = save_realcam_checkpoint(tiny_model, tmp_path / "rc.safetensors")
    for after in ((), (TINY.num_layers,), (-1,)):
        with pytest.raises(WeightsError, match=f"0..{TINY.num_layers - 1}"):
            grow_depth(src, tmp_path / "out.safetensors", after)
    assert not (tmp_path / "out.safetensors").exists()
    bad = subprocess.run([sys.executable, "-m", "realcam", "grow-depth", "--weights", str(src), "--after", "one",
                          "--out", str(tmp_path / "out.safetensors")], capture_output=True, text=True)
    assert bad.returncode != 0 and "--after 'one'" in bad.stderr and not (tmp_path / "out.safetensors").exists()
