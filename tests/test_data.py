"""Procedural scenes and the MultiCamVideo reader."""
from __future__ import annotations

import json
import subprocess
import sys

import torch

from realcam.camera import relative_poses
from realcam.data.loopaug import LoopAug
from realcam.data.multicam import MultiCamDataset, find_scenes
from realcam.data.synth import camera_paths, intrinsics, random_scene, render


def test_synth_cli_writes_the_multicam_layout_deterministically(tmp_path):
    for out in ("a", "b"):
        proc = subprocess.run([sys.executable, "-m", "realcam", "synth", "--out", str(tmp_path / out), "--scenes", "2",
                               "--cameras", "3", "--frames", "9", "--size", "32", "--depth", "--seed", "5"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    scene = tmp_path / "a" / "scene1"
    assert sorted(p.name for p in (scene / "videos").iterdir()) == ["cam01.mp4", "cam02.mp4", "cam03.mp4"]
    ext = json.loads((scene / "cameras" / "camera_extrinsics.json").read_text())
    assert len(ext) == 9 and set(ext["frame0"]) == {"cam01", "cam02", "cam03"}
    assert (scene / "metadata.csv").read_text().startswith("file_name,text\nvideos/cam01.mp4,")
    for rel in ("videos/cam02.mp4", "cameras/camera_extrinsics.json", "depth/cam01.npz"):
        assert (tmp_path / "a" / "scene1" / rel).read_bytes() == (tmp_path / "b" / "scene1" / rel).read_bytes()
    assert (tmp_path / "a" / "scene0" / "videos" / "cam01.mp4").read_bytes() != (scene / "videos" / "cam01.mp4").read_bytes()


def test_write_video_gives_the_same_bytes_in_every_process(tmp_path):
    """x264's macroblock-tree rate control read state that differed between processes: before the fix, these eight
    processes wrote six or seven different encodings of the same rendered frames. Every process must write the same
    files."""
    code = ("import sys, torch; from pathlib import Path; "
            "from realcam.data.synth import camera_paths, intrinsics, random_scene, render, write_video; "
            "g = torch.Generator().manual_seed(5 * 1_000_003); scene = random_scene(g); "
            "[write_video(Path(sys.argv[1]) / f'cam{i}.mp4', render(scene, p, intrinsics((32, 32)), (32, 32), "
            "torch.arange(9))[0]) for i, p in enumerate(camera_paths(g, 3, 9))]")
    runs = []
    for k in range(8):   # two at a time (the variation showed under load)
        runs.append(subprocess.Popen([sys.executable, "-c", code, str(tmp_path / f"r{k}")], stderr=subprocess.PIPE,
                                     text=True))
        if k % 2:
            for proc in runs[-2:]:
                assert proc.wait(timeout=120) == 0, proc.stderr.read()
    written = {tuple((tmp_path / f"r{k}" / f"cam{i}.mp4").read_bytes() for i in range(3)) for k in range(8)}
    assert len(written) == 1, f"{len(written)} different encodings of the same frames in 8 processes"


def test_shared_start_groups_cameras_on_one_first_pose_and_keeps_the_default_paths():
    import pytest

    plain = camera_paths(torch.Generator().manual_seed(3), 4, 9, "random")
    shared = camera_paths(torch.Generator().manual_seed(3), 4, 9, "random", shared_start=3)
    again = camera_paths(torch.Generator().manual_seed(3), 4, 9, "random", shared_start=1)
    assert all(torch.equal(a, b) for a, b in zip(plain, again))          # the default draws what it always drew
    torch.testing.assert_close(shared[1][0], shared[0][0], rtol=0, atol=0)
    torch.testing.assert_close(shared[2][0], shared[0][0], rtol=0, atol=0)
    assert not torch.allclose(shared[3][0], shared[0][0])                  # the next group starts elsewhere
    assert not torch.allclose(shared[1][-1], shared[0][-1])                # and cameras still move differently
    rel = relative_poses(shared[1], anchor=shared[0][0])                        # a pair from one group starts at I
    torch.testing.assert_close(rel[0], torch.eye(4, dtype=rel.dtype), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="shared_start"):
        camera_paths(torch.Generator().manual_seed(3), 4, 9, "random", shared_start=0)


def test_rendering_follows_the_camera():
    """Known geometry: a camera looking straight down the z axis at the ground sees the horizon at the
    principal row; a second camera 1 m to the right sees the scene shifted left."""
    g = torch.Generator().manual_seed(1)
    scene = random_scene(g)
    K = intrinsics((48, 48))
    path = camera_paths(g, 1, 5)[0]
    rgb, depth = render(scene, path, K, (48, 48), torch.arange(5))
    assert rgb.shape == (5, 48, 48, 3) and 0 <= float(rgb.min()) and float(rgb.max()) <= 1 and float(rgb.std()) > 0.05
    level = torch.eye(4, dtype=torch.float64)
    _, d = render(scene, level, K, (48, 48), 0)
    assert torch.isinf(d[:23]).float().mean() > 0.5 and torch.isfinite(d[25:]).all()   # sky above, ground below
    # the ground is 1 m below the camera: a pixel row v sees it at depth f / (v' - cy), where v' = v + 0.75 is
    # the lowest of its 2x2 sub-samples (depth keeps the nearest); objects can only be nearer
    f, cy = float(K[0, 0]), float(K[1, 2])
    for v in (30, 40, 47):
        ground = f / (v + 0.75 - cy)
        row = d[v]
        assert (row <= ground * 1.0001).all()
        assert ((row - ground).abs() < 1e-3 * ground).float().mean() > 0.3


def test_dataset_pairs_cameras_and_converts_poses(tmp_path):
    subprocess.run([sys.executable, "-m", "realcam", "synth", "--out", str(tmp_path), "--scenes", "2", "--cameras", "3",
                    "--frames", "9", "--size", "32"], check=True, capture_output=True)
    scenes = find_scenes(tmp_path)
    assert len(scenes) == 2 and scenes[0].cameras == ("cam01", "cam02", "cam03") and "procedural scene" in scenes[0].text
    ds = MultiCamDataset(tmp_path, frames=5)
    assert len(ds) == 6
    item = ds[0]
    assert item["source"].shape == item["target"].shape == (5, 32, 32, 3)
    assert item["source_camera"] != item["target_camera"]
    assert torch.allclose(relative_poses(item["target_c2w"])[0], torch.eye(4, dtype=torch.float64), atol=1e-6)
    from realcam.data.synth import camera_paths as paths  # the written cameras are the rendered ones
    g = torch.Generator().manual_seed(0 * 1_000_003 + 0)
    from realcam.data.synth import random_scene as rs
    rs(g)
    expected = paths(g, 3, 9, "preset")
    cam_index = int(item["target_camera"][3:]) - 1
    assert torch.allclose(item["target_c2w"], expected[cam_index][:5], atol=1e-5)
    looped = MultiCamDataset(tmp_path, frames=9, loopaug=LoopAug(9))[1]
    assert looped["target"].shape[0] == 9
