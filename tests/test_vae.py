"""VAEs: parity with ComfyUI 0.3.75 and diffusers, exact streaming, bounded memory, tiling, loading, policy."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from realcam.config import TINY, TINY_22
from realcam.vae import (StreamState, Tiling, TinyVAE, VideoVAE, Wan21VAEConfig, Wan22VAEConfig, WanVAE21, WanVAE22,
                         load_vae, prepare_frames)
from realcam.weights import WeightsError

TOL = 1e-4
W21 = Wan21VAEConfig(dim=8, z_dim=16, dim_mult=(1, 2, 4, 4), num_res_blocks=2)      # real layout, reduced width
W22 = Wan22VAEConfig(dim=8, dec_dim=12, z_dim=48, dim_mult=(1, 2, 4, 4), num_res_blocks=2)


def _randomize(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = model.state_dict()
    for k, v in sd.items():
        fan = max(1, v[0].numel()) if v.ndim > 1 else 1
        sd[k] = (1 + 0.1 * torch.randn(v.shape, generator=g)) if "gamma" in k else torch.randn(v.shape, generator=g) / fan**0.5
    model.load_state_dict(sd)
    return model.eval()


@pytest.fixture(scope="module")
def vaes():
    return {"wan2.1": _randomize(WanVAE21(W21), 1), "wan2.2": _randomize(WanVAE22(W22), 2),
            "taehv-wan2.1": _randomize(TinyVAE(16), 3), "taehv-wan2.2": _randomize(TinyVAE(48), 4)}


def _video(frames=9, size=64, seed=0):
    return torch.rand(1, 3, frames, size, size, generator=torch.Generator().manual_seed(seed))


# --- parity -----------------------------------------------------------------------------------------------------

def test_wan21_matches_comfyui(comfyui_tree, vaes, report):
    import comfy.ldm.wan.vae as ref_mod
    ours = vaes["wan2.1"]
    ref = ref_mod.WanVAE(dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, temperal_downsample=[False, True, True])
    ref.load_state_dict(ours.state_dict())
    x = _video(9, 32) * 2 - 1
    z = torch.randn(1, 16, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        enc = (ours.encode_frames(x, StreamState()) - ref.encode(x)).abs().max().item()
        dec = (ours.decode_latents(z, StreamState()) - ref.decode(z)).abs().max().item()
    report(f"Wan2.1 VAE vs ComfyUI: encode {enc:.2e}, decode {dec:.2e}")
    assert enc <= TOL and dec <= TOL


def test_wan22_matches_comfyui(comfyui_tree, vaes, report):
    import comfy.ldm.wan.vae2_2 as ref_mod
    ours = vaes["wan2.2"]
    ref = ref_mod.WanVAE(dim=8, dec_dim=12, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                         temperal_downsample=[False, True, True])
    ref.load_state_dict(ours.state_dict())
    x = _video(9, 64) * 2 - 1
    z = torch.randn(1, 48, 4, 4, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        enc = (ours.encode_frames(x, StreamState()) - ref.encode(x)).abs().max().item()
        dec = (ours.decode_latents(z, StreamState()) - ref.decode(z)).abs().max().item()
    report(f"Wan2.2 VAE vs ComfyUI: encode {enc:.2e}, decode {dec:.2e}")
    assert enc <= TOL and dec <= TOL


@pytest.mark.parametrize("channels", [16, 48])
def test_tiny_vae_matches_comfyui_taehv(comfyui_tree, vaes, channels, report):
    import comfy.taesd.taehv as ref_mod
    ours = vaes["taehv-wan2.2" if channels == 48 else "taehv-wan2.1"]
    ref = ref_mod.TAEHV(channels, show_progress_bar=False)
    ref.load_state_dict(ours.state_dict())
    z = torch.randn(1, channels, 4, 4, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        dec = (ours.decode_latents(z, StreamState()) - ref.decode(z)).abs().max().item()
        line = f"TAEHV {channels}ch vs ComfyUI: decode {dec:.2e}"
        if channels == 16:  # ComfyUI 0.3.75's 48-channel encode does not run (pixel_unshuffle on 5-D input)
            x = _video(16, 64)
            enc = (ours.encode_frames(x, StreamState()) - ref.encode(x)).abs().max().item()
            line += f", encode {enc:.2e}"
            assert enc <= TOL
    report(line)
    assert dec <= TOL


def test_wan21_matches_diffusers_through_converter(tmp_path, report):
    from diffusers import AutoencoderKLWan
    ref = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                           temperal_downsample=[False, True, True])
    _randomize(ref, 5)
    path = tmp_path / "diffusers_vae.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    vae = load_vae(path)
    assert vae.kind == "wan2.1" and vae.model.cfg == W21
    x = _video(9, 32)
    z = torch.randn(1, 16, 3, 4, 4, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        mu = ref.encode(x * 2 - 1).latent_dist.mean
        enc = (vae.model.encode_frames(x * 2 - 1, StreamState()) - mu).abs().max().item()
        dec = (vae.model.decode_latents(z, StreamState()).clamp(-1, 1) - ref.decode(z).sample).abs().max().item()
    report(f"Wan2.1 VAE vs diffusers: encode {enc:.2e}, decode {dec:.2e}")
    assert enc <= TOL and dec <= TOL


# --- streaming ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["wan2.1", "wan2.2", "taehv-wan2.1", "taehv-wan2.2"])
def test_streaming_decode_equals_whole_clip(vaes, kind, report):
    vae = VideoVAE(vaes[kind], kind)
    c = vae.latent_channels
    z = torch.randn(1, c, 22, 2, 2, generator=torch.Generator().manual_seed(5))   # 1 + 7 chunks of 3
    with torch.no_grad():
        whole = vae.model.decode_latents(z if vae.tiny else vae._denormalise(z), StreamState())
        whole = whole.clamp(0, 1) if vae.tiny else (whole.clamp(-1, 1) + 1) / 2
    stream = vae.decode_stream()
    parts = [stream.push(z[:, :, :1])] + [stream.push(z[:, :, i:i + 3]) for i in range(1, 22, 3)]
    streamed = torch.cat(parts, dim=2)
    err = (streamed - whole).abs().max().item()
    report(f"{kind}: streaming decode (8 chunks) vs whole clip {err:.2e}")
    assert streamed.shape[2] == 1 + 4 * 21 and err <= 1e-5
    assert [p.shape[2] for p in parts[:3]] == [1, 12, 12]


@pytest.mark.parametrize("kind", ["wan2.1", "wan2.2", "taehv-wan2.1"])
def test_streaming_encode_equals_whole_clip(vaes, kind, report):
    vae = VideoVAE(vaes[kind], kind)
    size = 2 * vae.spatial_stride
    x = _video(29, size, seed=6)
    with torch.no_grad():
        if vae.tiny:
            whole = vae.model.encode_frames(x, StreamState(), final=True)
        else:
            whole = vae._normalise(vae.model.encode_frames(x * 2 - 1, StreamState()))
    stream = vae.encode_stream()
    parts, i = [], 0
    for n in (1, 3, 5, 2, 8, 4, 6):   # frames arrive in irregular pieces
        parts.append(stream.push(x[:, :, i:i + n]))
        i += n
    tail = stream.finish()
    streamed = torch.cat(parts + ([] if tail is None else [tail]), dim=2)
    err = (streamed - whole).abs().max().item()
    report(f"{kind}: streaming encode vs whole clip {err:.2e}")
    assert streamed.shape == whole.shape and err <= 1e-5


def test_streaming_decode_memory_does_not_grow_with_length(tmp_path, report):
    """Peak memory of a streaming decode of 6 chunks and of 18 chunks (3x longer) is the same.

    Measured as the peak RSS (VmHWM) of a fresh process; large allocations are made to go through
    mmap so that freed memory leaves the process at once and the peak reflects live memory only.
    """
    import os

    vae_path = tmp_path / "vae.safetensors"
    save_file(_randomize(WanVAE21(Wan21VAEConfig(dim=8, z_dim=16)), 7).state_dict(), str(vae_path))
    code = (
        "import sys, torch\n"
        "from realcam.vae import load_vae\n"
        "def hwm():\n"
        "    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        f"vae = load_vae(r'{vae_path}', dtype=torch.float32)\n"
        "torch.set_num_threads(1)\n"
        "stream = vae.decode_stream(); g = torch.Generator().manual_seed(0)\n"
        "stream.push(torch.randn(1, 16, 1, 8, 8, generator=g))\n"
        "stream.push(torch.randn(1, 16, 3, 8, 8, generator=g))\n"
        "base = hwm()\n"
        "for _ in range(int(sys.argv[1])):\n"
        "    frames = stream.push(torch.randn(1, 16, 3, 8, 8, generator=g)); del frames\n"
        "print(hwm() - base, stream.state_bytes)\n")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}
    growth, state = {}, {}
    for n in (6, 18):
        out = subprocess.run([sys.executable, "-c", code, str(n)], capture_output=True, text=True, check=True,
                             env=env).stdout.split()
        growth[n], state[n] = int(out[0]), int(out[1])
    report(f"streaming decode peak RSS growth: 6 chunks {growth[6] / 2**20:.2f} MiB, 18 chunks {growth[18] / 2**20:.2f} MiB; "
           f"stream state {state[18] / 2**20:.2f} MiB")
    one_chunk_of_frames = 12 * 3 * 64 * 64 * 4
    assert state[6] == state[18]
    # keeping the decoded frames would add 12 chunks of frames (6.75 MiB); allow 3 for allocator noise
    assert growth[18] <= growth[6] + 3 * one_chunk_of_frames


# --- tiling --------------------------------------------------------------------------------------------------------

def test_tiled_decode_error_is_reported_and_blending_helps(vaes, report):
    vae = VideoVAE(vaes["wan2.1"], "wan2.1")
    z = torch.randn(1, 16, 4, 12, 12, generator=torch.Generator().manual_seed(8))
    full = vae.decode(z)
    assert torch.equal(vae.decode(z, tiling=Tiling(tile=12, overlap=4)), full)   # one tile = no tiling
    blended = vae.decode(z, tiling=Tiling(tile=8, overlap=4))
    hard = vae.decode(z, tiling=Tiling(tile=6, overlap=0))
    e_blend, e_hard = (blended - full).abs().mean().item(), (hard - full).abs().mean().item()
    report(f"tiled decode vs untiled, mean abs (pixels in [0,1]): tile 8 overlap 4: {e_blend:.4f}; tile 6 no overlap: {e_hard:.4f}")
    assert blended.shape == full.shape and e_blend < e_hard
    stream = vae.decode_stream(Tiling(tile=8, overlap=4))
    parts = [stream.push(z[:, :, i:i + 2]) for i in range(0, 4, 2)]
    assert torch.allclose(torch.cat(parts, 2), blended, atol=1e-5)   # tiled streaming = tiled whole clip
    assert len(stream.tiled.tiles) == 4


# --- loading ---------------------------------------------------------------------------------------------------------

def test_load_detects_kind_and_widths(tmp_path, vaes):
    for kind, model in vaes.items():
        path = tmp_path / f"{kind}.safetensors"
        save_file({f"first_stage_model.{k}" if kind == "wan2.1" else k: v for k, v in model.state_dict().items()}, str(path))
        vae = load_vae(path)
        assert vae.kind == kind
        if not vae.tiny:
            assert vae.model.cfg == model.cfg
        assert all(torch.equal(v, vae.model.state_dict()[k]) for k, v in model.state_dict().items())
    decoder_only = {k: v for k, v in vaes["taehv-wan2.1"].state_dict().items() if k.startswith("decoder.")}
    torch.save(decoder_only, tmp_path / "taew2_1.pth")
    tiny = load_vae(tmp_path / "taew2_1.pth")
    assert not tiny.can_encode
    with pytest.raises(ValueError, match="no encoder"):
        tiny.encode(_video(5, 16))


def test_load_errors_and_model_mismatch(tmp_path, vaes):
    dit = tmp_path / "dit.safetensors"
    save_file({"patch_embedding.weight": torch.zeros(2, 2, 1, 2, 2)}, str(dit))
    with pytest.raises(WeightsError, match="diffusion model"):
        load_vae(dit)
    broken = {k: v for k, v in vaes["wan2.1"].state_dict().items() if "decoder.head" not in k}
    save_file(broken, str(tmp_path / "broken.safetensors"))
    with pytest.raises(WeightsError, match="missing keys"):
        load_vae(tmp_path / "broken.safetensors")
    vae21 = VideoVAE(vaes["wan2.1"], "wan2.1")
    with pytest.raises(ValueError, match="choose the Wan2.2 VAE"):
        vae21.check_model(TINY_22)
    vae21.check_model(TINY)


# --- input policy ------------------------------------------------------------------------------------------------------

def test_frame_and_size_policy():
    x = _video(50, 40)
    out = prepare_frames(x, multiple=16, frame_policy="trim", size_policy="crop")
    assert out.frames.shape[2:] == (49, 32, 32)
    assert "50 frames; RealCam needs 4k+1 frames — trimmed to 49" in out.notes[0] and "centre-cropped 40x40 to 32x32" in out.notes[1]
    assert torch.equal(out.frames, x[:, :, :49, 4:36, 4:36])
    padded = prepare_frames(x, multiple=8, frame_policy="pad").frames
    assert padded.shape[2] == 53 and torch.equal(padded[:, :, -1], x[:, :, -1])
    assert prepare_frames(x, multiple=16, frame_policy="trim", size_policy="resize").frames.shape[-2:] == (48, 48)
    with pytest.raises(ValueError, match="RealCam needs 4k\\+1 frames \\(e.g. 49 or 53\\)"):
        prepare_frames(x, multiple=8, frame_policy="error")
    with pytest.raises(ValueError, match="not a multiple of 16 pixels"):
        prepare_frames(_video(9, 40), multiple=16)
    bad = _video(9, 32)
    bad[0, 0, 3, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        prepare_frames(bad, multiple=16)


def test_round_trip_shapes_and_ranges(vaes):
    for kind in ("wan2.1", "wan2.2", "taehv-wan2.1"):
        vae = VideoVAE(vaes[kind], kind)
        s = vae.spatial_stride
        x = _video(9, 2 * s)
        z = vae.encode(x)
        assert z.shape == (1, vae.latent_channels, 3, 2, 2)
        y = vae.decode(z)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1 and y.std() > 0


def test_stride_4_tiny_vae_keeps_the_layout_and_says_its_stride_in_metadata(tmp_path):
    from realcam.train.vae import save_vae

    model = _randomize(TinyVAE(16, encoder_width=8, decoder_widths=(16, 8, 8, 8), spatial_stride=4), 7)
    assert set(model.state_dict()) == set(TinyVAE(16, encoder_width=8, decoder_widths=(16, 8, 8, 8)).state_dict())
    path = tmp_path / "vae.safetensors"
    save_vae(model, path, model.state_dict())
    vae = load_vae(path)
    assert vae.spatial_stride == 4
    x = _video(9, 32, seed=8)
    with torch.no_grad():
        z = vae.encode(x)
        stream = vae.encode_stream()
        streamed = torch.cat([p for p in (stream.push(x[:, :, :5]), stream.push(x[:, :, 5:]), stream.finish()) if p is not None], 2)
        y = vae.decode(z)
    assert z.shape[-2:] == (8, 8) and y.shape[-2:] == (32, 32) and torch.allclose(streamed, z, atol=1e-5)
    for bad in ("16", "four", ""):
        sd = dict(model.state_dict())
        save_file(sd, str(tmp_path / "bad.safetensors"), metadata={"spatial_stride": bad})
        with pytest.raises(WeightsError, match="spatial_stride"):
            load_vae(tmp_path / "bad.safetensors")
