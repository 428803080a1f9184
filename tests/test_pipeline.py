"""End-to-end backend renders with tiny random models: what the nodes call."""
from __future__ import annotations

import pytest
import torch

from realcam.camera.presets import preset_trajectory
from realcam.camera.trajectory_json import trajectory_from_json
from realcam.config import StreamingConfig, TINY, TINY_22
from realcam.model import RealCamDiT
from realcam.pipeline import decode_video, encode_video, render_stream, render_teacher, text_context
from realcam.sampling import Interrupted
from realcam.vae import VideoVAE, Wan21VAEConfig, WanVAE21
from tests.conftest import randomize_
from tests.test_vae import _randomize


@pytest.fixture(scope="module")
def parts():
    vae = VideoVAE(_randomize(WanVAE21(Wan21VAEConfig(dim=8, z_dim=16)), 1), "wan2.1")
    model = randomize_(RealCamDiT(TINY), seed=2).eval()
    video = torch.rand(25, 32, 48, 3, generator=torch.Generator().manual_seed(0))   # 25 frames, 32x48
    return vae, model, video


def test_teacher_render_end_to_end(parts):
    vae, model, video = parts
    source = encode_video(vae, video)
    assert source.latents.shape == (1, 16, 7, 4, 6) and source.notes == []
    traj = trajectory_from_json({"version": 1, "type": "preset", "frames": 81, "preset": {"name": "orbit_left"}})
    steps = []
    latents = render_teacher(model, source, traj, text_context(model), steps=3, guidance=2.0,
                             progress=lambda i, n: steps.append((i, n)))   # path re-sampled to 25 frames
    assert steps == [(1, 3), (2, 3), (3, 3)]
    frames = decode_video(vae, latents)
    assert frames.shape == (25, 32, 48, 3) and float(frames.std()) > 1e-3
    other = render_teacher(model, source, preset_trajectory("pan_left", 25), text_context(model), steps=3, guidance=2.0)
    assert not torch.allclose(latents, other)       # the camera matters


def test_stream_render_previews_every_chunk_and_steers_live(parts):
    vae, model, video = parts
    source = encode_video(vae, torch.cat([video, video[:8]])[:33])   # 33 frames -> 9 latents = 3 chunks of 3
    cfg = StreamingConfig(chunk_latent_frames=3, sink_chunks=1, window_chunks=2, denoising_steps=(1000.0, 500.0))
    seen = []
    base = render_stream(model, source, preset_trajectory("zoom_in", 33), text_context(model), config=cfg, seed=3,
                         decoder=vae, on_chunk=lambda ch: seen.append((ch.index, ch.frames.shape[0])))
    assert seen == [(0, 9), (1, 12), (2, 12)]      # each chunk decoded the moment it exists: 1+4·2, then 4·3
    assert base.frames.shape == (33, 32, 48, 3) and base.latents.shape == (1, 16, 9, 4, 6)
    pan = preset_trajectory("pan_right", 33).latent_c2w()
    steered = render_stream(model, source, preset_trajectory("zoom_in", 33), text_context(model), config=cfg, seed=3,
                            live_camera=lambda first: pan[first:] if first >= 3 else None)
    assert torch.equal(steered.latents[:, :, :3], base.latents[:, :, :3])          # chunk 0 untouched
    assert not torch.allclose(steered.latents[:, :, 3:], base.latents[:, :, 3:])   # later chunks follow the new camera
    calls = []
    with pytest.raises(Interrupted, match="before chunk 2 of 3"):
        render_stream(model, source, preset_trajectory("zoom_in", 33), text_context(model), config=cfg,
                      on_chunk=lambda ch: calls.append(ch.index), should_stop=lambda: len(calls) >= 1)


def test_stream_pads_partial_final_chunk(parts):
    vae, model, video = parts
    source = encode_video(vae, video)            # 7 latents, chunk 3 -> padded to 9, trimmed back
    res = render_stream(model, source, preset_trajectory("zoom_in", 25), text_context(model),
                        config=StreamingConfig(denoising_steps=(1000.0,)), decoder=vae)
    assert res.latents.shape[2] == 7 and res.frames.shape[0] == 25 and "repeated" in res.notes[0]


def test_mismatches_say_what_to_do(parts):
    vae, model, video = parts
    with pytest.raises(ValueError, match="4k\\+1"):
        encode_video(vae, video[:24], frame_policy="error")
    notes = encode_video(vae, video[:24]).notes
    assert "trimmed to 21" in notes[0]
    with pytest.raises(ValueError, match="multiple of 16"):
        encode_video(vae, video[:, :30])
    model22 = RealCamDiT(TINY_22)
    with pytest.raises(ValueError, match="encode it with the Wan2.2 VAE"):
        render_teacher(model22, encode_video(vae, video), preset_trajectory("zoom_in", 25), text_context(model22), steps=1,
                       guidance=1.0)
    with pytest.raises(ValueError, match="CLIPLoader of type 'wan'"):
        text_context(model, torch.zeros(1, 5, 4096))
    with pytest.raises(ValueError, match="set the trajectory's frames to 25"):
        render_teacher(model, encode_video(vae, video), preset_trajectory("zoom_in", 81), text_context(model), steps=1)


def test_pixels_out_of_range_and_bad_shifts_are_refused(parts):
    """0..255, uint8 and −1..1 videos used to be encoded as if in [0, 1]; shift 0, −1 or NaN gave NaN output."""
    vae, model, video = parts
    for bad, hint in [(video * 255, "divide 0..255 values by 255"), ((video * 255).to(torch.uint8), "uint8"),
                      (video * 2 - 1, r"\(x \+ 1\) / 2"), (video[:0], "no frames"),
                      (video.masked_fill(video > 0.99, float("nan")), "NaN")]:
        with pytest.raises(ValueError, match=hint):
            encode_video(vae, bad)
    source = encode_video(vae, video)
    traj = preset_trajectory("zoom_in", 25)
    for shift in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="shift"):
            render_teacher(model, source, traj, text_context(model), steps=2, shift=shift)
        with pytest.raises(ValueError, match="shift"):
            model.streaming.override(shift=shift)        # the node and API path to a streaming config
    with pytest.raises(ValueError, match="seed"):
        render_teacher(model, source, traj, text_context(model), steps=1, seed=2**64)


def test_teacher_refuses_a_clip_past_the_rope_table_before_any_work(parts):
    """A 4,096-frame clip in absolute RoPE used to fail after minutes of rendering; now it is refused up front,
    with the longest clip that fits."""
    import dataclasses
    import time

    _, model, _ = parts
    short = RealCamDiT(dataclasses.replace(TINY, rope_max_positions=8))
    short.load_state_dict(model.state_dict())
    calls = []
    short.register_forward_pre_hook(lambda *a: calls.append(1))
    latents = torch.zeros(1, 16, 5, 4, 6)                       # 5 latent frames: interleave needs 10 positions
    from realcam.sampling.teacher import sample_teacher

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="need 10 RoPE positions .* at most 13 video frames"):
        sample_teacher(short, latents, torch.zeros(1, 1, TINY.text_dim), steps=50, guidance=1.0)
    assert calls == [] and time.perf_counter() - t0 < 0.5
    out = sample_teacher(short, latents[:, :, :4], torch.zeros(1, 1, TINY.text_dim), steps=1, guidance=1.0)  # 8 fit
    assert out.shape == (1, 16, 4, 4, 6)


def test_encode_reports_progress_and_stops_between_pieces(parts):
    vae, _, video = parts
    seen = []
    whole = encode_video(vae, video)
    again = encode_video(vae, video, progress=lambda i, n: seen.append((i, n)))
    assert torch.equal(whole.latents, again.latents)
    assert seen[0] == (1, 25) and seen[-1] == (25, 25) and len(seen) == 3      # 1, then 12 frames at a time
    with pytest.raises(Interrupted, match="encoding interrupted at frame 1 of 25"):
        encode_video(vae, video, should_stop=lambda: True)


def test_a_model_run_outside_its_training_size_warns(parts):
    vae, model, video = parts
    source = encode_video(vae, video)                 # 4 x 6 latents
    model.trained_latent_size = (8, 8)
    try:
        with pytest.warns(UserWarning, match="trained on 8x8 latents .* runs on 4x6"):
            render_teacher(model, source, preset_trajectory("zoom_in", 25), text_context(model), steps=1)
    finally:
        model.trained_latent_size = None
