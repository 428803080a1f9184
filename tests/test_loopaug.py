"""LoopAug: 2F−1 frames, mirrored frames and cameras, windows of the training length."""
from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from realcam.camera.presets import preset_trajectory
from realcam.data.loopaug import LoopAug, loop_extend


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40))
def test_extension_mirrors_frames_and_cameras(frames):
    video = torch.randn(frames, 3, 4, 4)
    cams = preset_trajectory("orbit_left", frames).c2w
    ev, ec = loop_extend(video), loop_extend(cams)
    assert ev.shape[0] == ec.shape[0] == 2 * frames - 1
    for j in range(frames):          # frame F+j equals frame F-j (0-based: F-1+j == F-1-j)
        assert torch.equal(ev[frames - 1 + j], ev[frames - 1 - j]) and torch.equal(ec[frames - 1 + j], ec[frames - 1 - j])
    assert torch.equal(ev[:frames], video)


def test_windows_have_the_training_length_and_usually_contain_the_turn():
    aug = LoopAug(length=17)
    g = torch.Generator().manual_seed(0)
    video = torch.arange(17.0)[:, None]
    turns = 0
    for _ in range(200):
        out = aug({"target": video, "cams": video.clone()}, generator=g)
        assert out["target"].shape[0] == 17 and torch.equal(out["target"], out["cams"])
        turns += bool((out["target"][1:] < out["target"][:-1]).any() and (out["target"][1:] > out["target"][:-1]).any())
    assert turns > 150       # most windows contain the turning point
