"""Training: data pipeline, the three stages under torchrun (2 processes, gloo), overfitting, exact resume
after a kill, and where the DMD generator gradient flows."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from realcam.camera import pose12, relative_poses
from realcam.camera.trajectory_json import read_camera_extrinsics
from realcam.config import TINY, ConditioningConfig, StreamingConfig
from realcam.data.loopaug import loop_extend, write_loopaug_dataset
from realcam.data.multicam import read_video
from realcam.data.synth import synth_scene
from realcam.model import RealCamDiT
from realcam.sampling.streaming import StreamingSession
from realcam.train.config import DistillSpec, load_config
from realcam.train.data import LatentPairs, batch_indices, preprocess
from realcam.train.losses import DMDGeneratorLoss, dmd_gradient, dmd_loss, dmd_sigma
from realcam.vae.taehv import TinyVAE

from .conftest import randomize_

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 21  # 6 latent frames = 2 chunks of 3


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """3 procedural scenes × 3 cameras at 32², a small random tiny VAE, and their latent shards."""
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("train")
    torch.manual_seed(0)
    vae = TinyVAE(16, encoder_width=8, decoder_widths=(16, 8, 8, 8))
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(root / "vae.safetensors"))
    for i in range(3):
        synth_scene(root / "scenes", i, 0, cameras=3, frames=FRAMES, size=32)
    preprocess(root / "scenes", root / "vae.safetensors", root / "latents", frames=FRAMES, shard_size=4)
    return root


def _torchrun(args: list[str], cwd: Path, **popen) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "realcam", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **popen)


def _run_ok(args: list[str], cwd: Path, timeout: float = 300) -> str:
    p = _torchrun(args, cwd)
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out[-4000:]
    return out


def _log(run: Path) -> dict[int, dict]:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in records}  # a repeated step (after a resume) keeps its last record


# --- configuration and data -----------------------------------------------------------------------------------
def test_config_errors_name_the_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stage: teacher\ndata: x\noptim:\n  lrr: 1e-4\n")
    with pytest.raises(ValueError, match=r"optim\.lrr: unknown key"):
        load_config(cfg)
    cfg.write_text("stage: teacher\ndata: x\noptim:\n  lr: 0.001\n  betas: [0.0, 0.99]\n")
    c = load_config(cfg, ["teacher.motion_weight=0.5", "causal.window_choices=[null, 2]"])
    assert c.optim.lr == 1e-3 and c.optim.betas == (0.0, 0.99) and c.teacher.motion_weight == 0.5
    assert c.causal.window_choices == [None, 2]
    with pytest.raises(ValueError, match="distill.teacher"):
        load_config(None, stage="distill", data="x")
    for alpha in (2, 1):    # α = 1 would train on frame differences alone (a teacher that predicts no picture)
        with pytest.raises(ValueError, match=r"teacher\.motion_weight \(α\) must be in \[0, 1\)"):
            load_config(None, [f"teacher.motion_weight={alpha}"], data="x")
    for weight in ("-1", "true", "1000"):
        with pytest.raises(ValueError, match="guide_gate_weight must be a number in"):
            load_config(None, [f"guide_gate_weight={weight}"], data="x")
    with pytest.raises(ValueError, match="guide_gate_weight acts in the flow-matching stages"):
        load_config(None, ["guide_gate_weight=0.25", "distill.teacher=t"], stage="distill", data="x")
    assert load_config(None, ["guide_gate_weight=1", "guide_gate_target=share"], data="x").guide_gate_target == "share"
    with pytest.raises(ValueError, match="guide_gate_target 'half'; choose one of"):
        load_config(None, ["guide_gate_weight=1", "guide_gate_target=half"], data="x")
    with pytest.raises(ValueError, match="guide_gate_target 'share' is what the gate's own term regresses onto; it needs"):
        load_config(None, ["guide_gate_target=share"], data="x")
    assert load_config(None, ["parallel=none"], data="x").parallel == "none"    # was read as null, then refused
    with pytest.raises(ValueError, match="parallel 'dp'"):
        load_config(None, ["parallel=dp"], data="x")


def test_batches_are_disjoint_across_processes_and_cover_each_epoch():
    n, world, batch = 10, 2, 1
    seen = []
    for step in range(5):
        per_rank = [batch_indices(n, seed=3, step=step, micro=0, accum=1, rank=r, world=world, batch=batch)[0]
                    for r in range(world)]
        assert not set(per_rank[0]) & set(per_rank[1])
        seen += sum(per_rank, [])
    assert sorted(seen) == list(range(n))  # one epoch = every clip once
    again = batch_indices(n, seed=3, step=7, micro=0, accum=1, rank=1, world=2, batch=1)
    assert again == batch_indices(n, seed=3, step=7, micro=0, accum=1, rank=1, world=2, batch=1)


def test_preprocess_stores_vae_latents_and_pairs_cameras_like_recammaster(dataset):
    from realcam.vae import load_vae

    data = LatentPairs(dataset / "latents", text_dim=TINY.text_dim)
    assert len(data) == 9 and len(data.index["shards"]) == 3 and data.latents.shape[2] == 6
    vae = load_vae(dataset / "vae.safetensors")
    scene = dataset / "scenes" / data.index["scenes"][int(data.scene[4])]
    video = read_video(scene / "videos" / f"{data.cameras[4]}.mp4")[:FRAMES]
    with torch.no_grad():
        z = vae.encode(video.permute(3, 0, 1, 2)[None])[0]
    torch.testing.assert_close(data.latents[4], z, atol=1e-6, rtol=0)
    item = data.item(4, torch.Generator().manual_seed(0))
    src = [i for i in range(len(data)) if torch.equal(data.latents[i], item["source"])][0]
    assert src != 4 and data.scene[src] == data.scene[4]
    ext = json.loads((scene / "cameras" / "camera_extrinsics.json").read_text())
    tgt_c2w = read_camera_extrinsics(ext, data.cameras[4])[:FRAMES:4]
    src_c2w = read_camera_extrinsics(ext, data.cameras[src])[:FRAMES:4]
    expected = pose12(torch.linalg.inv(src_c2w[0]) @ tgt_c2w)
    torch.testing.assert_close(item["pose12"], expected, atol=1e-5, rtol=0)
    assert item["context"].shape == (1, TINY.text_dim)


def test_pixel_guides_hold_each_pairs_guide_and_every_stage_reads_them(dataset, tmp_path):
    """``python -m realcam pixel-guides``: every pair's item carries the guide a model with ``pixel_guide_depth``
    reads — the source clip's first frame reprojected along the pair's target path and encoded, as inference makes
    it (a clip paired with itself included); a folder without them, or made for another plane, is refused with the
    command to run; the teacher, causal and distillation stages train on them, and each trains the gate that takes
    from them (``pixel_guide_skip``)."""
    import shutil

    from realcam.guide import PixelGuide
    from realcam.train.data import write_pixel_guides
    from realcam.train.stages import train
    from realcam.vae import load_vae
    from realcam.weights import save_realcam_checkpoint

    latents = tmp_path / "latents"
    shutil.copytree(dataset / "latents", latents)
    with pytest.raises(FileNotFoundError, match="python -m realcam pixel-guides --latents"):
        LatentPairs(latents, pixel_guide=(4.0, 60.0))
    write_pixel_guides(latents, dataset / "vae.safetensors", depth=4.0, fov_deg=60.0, data=dataset / "scenes")
    data = LatentPairs(latents, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), same_camera_share=0.5,
                       same_camera_withheld="never")
    vae = load_vae(dataset / "vae.safetensors")
    g, pairs = torch.Generator().manual_seed(0), set()
    for index in range(len(data)):
        item = data.item(index, g)
        src = [i for i in range(len(data)) if torch.equal(data.latents[i], item["source"])][0]
        pairs.add(src == index)
        scene = dataset / "scenes" / data.index["scenes"][int(data.scene[src])]
        first = read_video(scene / "videos" / f"{data.cameras[src]}.mp4")[0].permute(2, 0, 1)[None]
        expected = PixelGuide(vae, first, fov_deg=60.0, depth=4.0).encode(item["pose12"][None].float())[0]
        torch.testing.assert_close(item["pixel_guide"], expected, atol=2e-3, rtol=0)      # stored as float16
    assert pairs == {True, False}
    with pytest.raises(ValueError, match="made for depth 4 m, fov 60° but the model reads depth 2"):
        LatentPairs(latents, pixel_guide=(2.0, 60.0))
    with pytest.raises(ValueError, match="same_camera_withheld 'never'"):
        LatentPairs(latents, pixel_guide=(4.0, 60.0), same_camera_share=0.2)
    cond = ConditioningConfig(camera_tokens="rays", source_warp=(4.0,), pixel_guide_depth=4.0, pixel_guide_skip=True)
    torch.manual_seed(0)
    save_realcam_checkpoint(randomize_(RealCamDiT(TINY, conditioning=cond), 2), tmp_path / "teacher.safetensors")
    from safetensors.torch import load_file

    def gate(path):
        return load_file(path)["guide_gate.head.weight"].float()
    common = dict(data=str(latents), steps=1)
    init = [f"model.init={tmp_path / 'teacher.safetensors'}"]
    for stage, sets in (("teacher", init), ("causal", init),
                        ("distill", [f"model.init={tmp_path / 'causal' / 'student.safetensors'}",
                                     f"distill.teacher={tmp_path / 'teacher.safetensors'}", "distill.generator_every=1"])):
        records = train(load_config(None, sets, stage=stage, out=str(tmp_path / stage), **common), progress=False)
        assert records and all(math.isfinite(v) for r in records for k, v in r.items() if k.endswith("loss"))
    outputs = [tmp_path / "teacher" / "teacher.safetensors", tmp_path / "causal" / "student.safetensors",
               tmp_path / "distill" / "generator.safetensors"]
    for init, out in zip([tmp_path / "teacher.safetensors"] + outputs[:2], outputs):
        assert not torch.equal(gate(out), gate(init)), f"{out.parent.name} did not train the guide gate"
    from realcam.weights import load_dit
    trained = load_dit(outputs[-1]).conditioning
    assert trained.pixel_guide_depth == 4.0 and trained.pixel_guide_skip


def test_trainable_guide_gate_moves_only_the_gate(dataset, tmp_path):
    """``model.trainable=guide_gate`` re-teaches only how much of the pixel guide a trained model takes: after two
    causal steps every weight but the gate head's is bit-identical to the start and the gate head has moved; a model
    without the gate is refused with what it needs, and an unknown choice names the choices."""
    import shutil

    from realcam.train.data import write_pixel_guides
    from realcam.train.stages import set_trainable, train
    from realcam.weights import load_dit, save_realcam_checkpoint

    latents = tmp_path / "latents"
    shutil.copytree(dataset / "latents", latents)
    write_pixel_guides(latents, dataset / "vae.safetensors", depth=4.0, fov_deg=60.0, data=dataset / "scenes")
    cond = ConditioningConfig(camera_tokens="rays", source_warp=(4.0,), pixel_guide_depth=4.0, pixel_guide_skip=True)
    torch.manual_seed(0)
    start = randomize_(RealCamDiT(TINY, conditioning=cond), 2).float()
    save_realcam_checkpoint(start, tmp_path / "start.safetensors")
    cfg = load_config(None, [f"model.init={tmp_path / 'start.safetensors'}", "model.trainable=guide_gate",
                             "guide_gate_weight=1.0", "optim.warmup_steps=0", "optim.lr=0.001"],
                      stage="causal", data=str(latents), out=str(tmp_path / "gate"), steps=2)
    records = train(cfg, progress=False)
    assert records and all(math.isfinite(r["student/loss"]) for r in records)
    after, before = load_dit(tmp_path / "gate" / "student.safetensors", dtype=torch.float32).state_dict(), start.state_dict()
    moved = {k for k in before if not torch.equal(after[k], before[k])}
    assert moved and all(k.startswith("guide_gate.") for k in moved), sorted(moved)
    assert "guide_gate.head.weight" in moved
    with pytest.raises(ValueError, match="guide_gate needs conditioning.pixel_guide_skip"):
        set_trainable(RealCamDiT(TINY, conditioning=ConditioningConfig(camera_tokens="rays")), "guide_gate")
    with pytest.raises(ValueError, match="choose one of camera_self_attn, all, guide_gate"):
        set_trainable(start, "gate")
    with pytest.raises(ValueError, match="model.trainable=guide_gate re-teaches the gate in the flow-matching stages"):
        load_config(None, ["model.trainable=guide_gate", "distill.teacher=t"], stage="distill", data="x")


def test_synth_latents_makes_what_synth_preprocess_and_pixel_guides_make(dataset, tmp_path):
    """``python -m realcam synth-latents`` (how a GPU run makes its data): the same scenes, cameras, contexts and index
    as ``synth`` + ``preprocess`` + ``pixel-guides``, with latents and guides close to theirs (its frames skip the
    videos' H.264), and a folder training reads with its guides."""
    import shutil

    from safetensors.torch import load_file

    from realcam.train.data import synth_latents, write_pixel_guides

    video_route = tmp_path / "video_route"
    shutil.copytree(dataset / "latents", video_route)
    write_pixel_guides(video_route, dataset / "vae.safetensors", depth=4.0, fov_deg=60.0, data=dataset / "scenes")
    out = synth_latents(tmp_path / "direct", dataset / "vae.safetensors", scenes=3, seed=0, cameras=3, frames=FRAMES,
                        size=32, mode="preset", world="v1", guide_depth=4.0, guide_fov=60.0, shard_size=4)
    a, b = (json.loads((d / "index.json").read_text()) for d in (out, video_route))
    assert {k for k in a if a[k] != b[k]} == {"source"} and a["source"].startswith("synth: world v1, seed 0")
    assert load_file(out / "contexts.safetensors").keys() == load_file(video_route / "contexts.safetensors").keys()
    for name in a["shards"]:
        x, y = load_file(out / name), load_file(video_route / name)
        assert torch.equal(x["c2w"], y["c2w"]) and torch.equal(x["scene"], y["scene"])
        assert (x["latents"] - y["latents"]).abs().mean() < 0.1 * y["latents"].abs().mean()
    gx, gy = (load_file(d / "pixel_guides.safetensors")["guides"].float() for d in (out, video_route))
    assert gx.shape == gy.shape and (gx - gy).abs().mean() < 0.1 * gy.abs().mean()
    item = LatentPairs(out, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0)).item(0, torch.Generator().manual_seed(0))
    assert item["pixel_guide"].shape == item["target"].shape
    with pytest.raises(FileExistsError, match="exists"):
        synth_latents(out, dataset / "vae.safetensors", scenes=1)
    for bad, match in (({"frames": 20}, "4k\\+1"), ({"size": 30}, "multiple of the VAE's spatial stride"),
                       ({"guide_depth": -1.0}, "guide_depth"), ({"mode": "orbit"}, "trajectories")):
        with pytest.raises(ValueError, match=match):
            synth_latents(tmp_path / "x", dataset / "vae.safetensors", scenes=1, **bad)
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_a_scenes_guides_encoded_together_are_each_sources_own_guide(dataset):
    """``synth-latents`` and ``pixel-guides`` encode a scene's sources in one batch per kind of reprojection; each
    source's guide is bit for bit what its own :class:`realcam.guide.PixelGuide` makes: a layered depth map, a still
    source (its map the plane everywhere: the one-plane guide), sources that share a start, and the one-plane guides."""
    from realcam.guide import PixelGuide
    from realcam.train.data import _scene_guides
    from realcam.vae import load_vae

    vae = load_vae(dataset / "vae.safetensors")
    g = torch.Generator().manual_seed(0)
    firsts = [torch.rand(3, 32, 32, generator=g) for _ in range(3)]
    firsts.append(firsts[0].clone())                            # source 3 starts as source 0 does
    turn = [torch.linalg.matrix_exp(torch.tensor([[0, 0, a], [0, 0, 0], [-a, 0, 0]], dtype=torch.float64))
            for a in (0.0, 0.1, -0.2, 0.3)]
    c2w = []
    for j, r in enumerate(turn):
        path = torch.eye(4, dtype=torch.float64).repeat(6, 1, 1)
        path[:, :3, :3] = torch.stack([turn[1] @ r] * 6) if j else r
        path[:, 0, 3] = torch.linspace(0, 0.3 * j, 6, dtype=torch.float64)
        path[0] = torch.eye(4, dtype=torch.float64) if j in (0, 3) else path[0]
        c2w.append(path)
    near = torch.full((32, 32), 4.0, dtype=torch.float64)
    near[8:20, 4:16] = 1.5
    maps = [near, torch.full((32, 32), 4.0, dtype=torch.float64), near.flip(1), near]

    def own(j, depth_map):
        targets = torch.stack([pose12(relative_poses(t, "first", anchor=c2w[j][0])) for t in c2w])
        guide = PixelGuide(vae, firsts[j][None].expand(4, -1, -1, -1), fov_deg=60.0, depth=4.0,
                           depth_map=None if depth_map is None else depth_map[None].expand(4, -1, -1))
        return guide.encode(targets.float())

    for depth_maps in (None, maps):
        together = _scene_guides(vae, firsts, c2w, depth=4.0, fov_deg=60.0, depth_maps=depth_maps)
        assert len(together) == 4 and together[3] is together[0]          # a shared start is encoded once
        for j in range(4):
            assert torch.equal(together[j], own(j, None if depth_maps is None else depth_maps[j])), j
    assert not torch.equal(_scene_guides(vae, firsts, c2w, depth=4.0, fov_deg=60.0, depth_maps=maps)[0],
                           _scene_guides(vae, firsts, c2w, depth=4.0, fov_deg=60.0)[0])     # the map is read
    assert torch.equal(_scene_guides(vae, firsts, c2w, depth=4.0, fov_deg=60.0, depth_maps=maps)[1],
                       _scene_guides(vae, firsts, c2w, depth=4.0, fov_deg=60.0)[1])         # still: the one plane


def test_synth_latents_makes_swept_guides_that_training_reads_where_the_path_is_given(dataset, tmp_path):
    """``synth-latents --guide-sweep``: beside the one-plane guides (the same as without it), each pair's guide through
    the depth the source's own frames and path show; a model with ``pixel_guide_sweep`` trains on the swept guide
    where the source's path is given and on the one-plane guide where it is withheld, as it renders; data without the
    sweep, or swept over other planes, is refused with the command that makes it."""
    import subprocess
    import sys

    from safetensors import safe_open
    from safetensors.torch import load_file

    from realcam.train.data import synth_latents

    planes = (1.0, 2.0, 4.0, 8.0, 1e4)
    kwargs = dict(scenes=2, seed=0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2", guide_depth=4.0,
                  guide_fov=60.0, shard_size=4)
    out = synth_latents(tmp_path / "swept", dataset / "vae.safetensors", guide_sweep=planes, **kwargs)
    plain = synth_latents(tmp_path / "plain", dataset / "vae.safetensors", **kwargs)
    held = load_file(out / "pixel_guides.safetensors")
    assert torch.equal(held["guides"], load_file(plain / "pixel_guides.safetensors")["guides"])
    assert held["guides_swept"].shape == held["guides"].shape
    assert not torch.equal(held["guides_swept"], held["guides"])      # these cameras move: their depth shows
    with safe_open(str(out / "pixel_guides.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["sweep"]) == list(planes)

    data = LatentPairs(out, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes,
                       source_camera_dropout=0.5)
    kinds = set()
    for i in range(len(data)):
        for seed in range(6):
            item = data.item(i, torch.Generator().manual_seed(seed))
            withheld = torch.equal(item["source_pose12"], pose12(torch.eye(4).expand(item["pose12"].shape[0], 4, 4)))
            slots = [s for s in range(held["guides"].shape[1]) if torch.equal(data.latents[data.by_scene[
                int(data.scene[i])][s]], item["source"])]
            expected = held["guides" if withheld else "guides_swept"][i, slots[0]].float()
            assert torch.equal(item["pixel_guide"], expected)
            kinds.add(withheld)
    assert kinds == {True, False}
    with pytest.raises(ValueError, match="holds no swept guides: make the folder with python -m realcam synth-latents"):
        LatentPairs(plain, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes)
    with pytest.raises(ValueError, match="holds guides swept over 1,2,4,8,10000"):
        LatentPairs(out, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=(1.0, 4.0))
    with pytest.raises(ValueError, match="guide_sweep needs guide_depth"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", scenes=1, guide_sweep=planes)
    with pytest.raises(ValueError, match="pixel_guide_sweep=.*increasing"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", scenes=1, guide_depth=4.0, guide_sweep=(4.0, 2.0))
    # --guide-sweep-depth renderer: the same guides drawn through the renderer's own depth of each source's first frame
    # (rounded to the nearest plane in inverse depth), as its own PixelGuide makes them; the one-plane guides unchanged
    from realcam.camera.trajectory_json import write_camera_extrinsics
    from realcam.data.synth import dataset_scene, render
    from realcam.guide import PixelGuide
    from realcam.vae import load_vae

    oracle = synth_latents(tmp_path / "oracle", dataset / "vae.safetensors", guide_sweep=planes,
                           guide_sweep_depth="renderer", **kwargs)
    drawn = load_file(oracle / "pixel_guides.safetensors")
    assert torch.equal(drawn["guides"], held["guides"])
    assert not torch.equal(drawn["guides_swept"], held["guides_swept"])
    with safe_open(str(oracle / "pixel_guides.safetensors"), "pt") as f:
        assert f.metadata()["sweep_depth"] == "renderer"
    with safe_open(str(out / "pixel_guides.safetensors"), "pt") as f:
        assert f.metadata()["sweep_depth"] == "motion"
    scene, K, paths = dataset_scene(0, 0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2")
    rgb, depth = render(scene, paths[0][:1], K, (32, 32), 0)
    pt = torch.tensor(planes, dtype=torch.float64)
    depth_map = pt[(1 / depth[0].double()[..., None] - 1 / pt).abs().argmin(-1)]
    ext = json.loads(json.dumps(write_camera_extrinsics({f"cam{c:02d}": p for c, p in enumerate(paths, 1)})))
    c2w = [read_camera_extrinsics(ext, f"cam{c:02d}")[::4].double() for c in range(1, 4)]
    targets = torch.stack([pose12(relative_poses(t, "first", anchor=c2w[0][0])) for t in c2w]).float()
    first = ((rgb * 255).round() / 255)[0].permute(2, 0, 1)[None].expand(3, -1, -1, -1)
    guide = PixelGuide(load_vae(dataset / "vae.safetensors"), first, fov_deg=60.0, depth=4.0,
                       depth_map=depth_map[None].expand(3, -1, -1))
    with torch.no_grad():
        # stored as float16: the batch it was encoded in may round a value the other way (one half-precision step)
        torch.testing.assert_close(drawn["guides_swept"][:3, 0].float(), guide.encode(targets).half().float(),
                                   atol=1e-5, rtol=2**-10)
    with pytest.raises(ValueError, match="guide_sweep_depth must be 'motion', 'renderer' or 'net'"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", guide_sweep=planes, guide_sweep_depth="true", **kwargs)
    with pytest.raises(ValueError, match="give guide_sweep"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", guide_sweep_depth="renderer", **kwargs)
    # training: a model that carries the sweep reads these data, and is refused the one-plane-only folder
    from realcam.train.stages import _data, build_model

    overrides = ["model.overrides={\"num_layers\": 1}", "model.conditioning_overrides={\"camera_tokens\": \"rays\", "
                 "\"source_cameras\": true, \"pixel_guide_depth\": 4.0, \"pixel_guide_sweep\": [1, 2, 4, 8, 10000]}"]
    cfg = load_config(None, overrides, data=str(out))
    model = build_model(cfg, torch.device("cpu"))
    assert _data(cfg, model).swept is not None
    with pytest.raises(ValueError, match="holds no swept guides"):
        _data(load_config(None, overrides, data=str(plain)), model)
    bad = subprocess.run([sys.executable, "-m", "realcam", "synth-latents", "--out", str(tmp_path / "y"), "--vae",
                          str(dataset / "vae.safetensors"), "--guide-depth", "4", "--guide-sweep", "1,two"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--guide-sweep: give increasing depths" in bad.stderr
    # --guide-sweep-smooth: the sweep's costs aggregated semi-globally, as a model with pixel_guide_sweep_smooth does at
    # render time; recorded in the metadata, and a model and data swept differently are refused with the command
    smooth = (0.02, 0.08)
    smoothed = synth_latents(tmp_path / "smoothed", dataset / "vae.safetensors", guide_sweep=planes,
                             guide_sweep_smooth=smooth, **kwargs)
    with safe_open(str(smoothed / "pixel_guides.safetensors"), "pt") as f:
        assert json.loads(f.metadata()["sweep_smooth"]) == list(smooth)
    both = load_file(smoothed / "pixel_guides.safetensors")
    assert torch.equal(both["guides"], held["guides"]) and not torch.equal(both["guides_swept"], held["guides_swept"])
    assert LatentPairs(smoothed, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes,
                       pixel_guide_sweep_smooth=smooth).swept is not None
    with pytest.raises(ValueError, match="penalties 0.02,0.08 .* was swept with none: .*--guide-sweep-smooth 0.02,0.08"):
        LatentPairs(out, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes,
                    pixel_guide_sweep_smooth=smooth)
    with pytest.raises(ValueError, match="penalties none .* was swept with 0.02,0.08"):
        LatentPairs(smoothed, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes)
    with pytest.raises(ValueError, match="guide_sweep_depth='renderer' sweeps nothing"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", guide_sweep=planes, guide_sweep_depth="renderer",
                      guide_sweep_smooth=smooth, **kwargs)


def test_synth_latents_draws_guides_through_a_depth_network_that_only_its_model_reads(dataset, tmp_path):
    """``synth-latents --guide-sweep-depth net --guide-depth-net FILE``: the swept guides drawn through the depth the
    network reads from each source's first frame and key frames (nearest views), and ``guides_unknown``, the first frame
    alone through that depth — each exactly what that source's own :class:`realcam.guide.PixelGuide` makes; the
    one-plane guides unchanged; the network's fingerprint in the metadata. A model carrying that network trains on the
    swept guide where the path is given and on ``guides_unknown`` where it is withheld, as it renders; a model without
    it, with another one, or data drawn another way are refused by name, and so are bad arguments."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from realcam.camera.poses import as_c2w
    from realcam.camera.trajectory_json import write_camera_extrinsics
    from realcam.data.synth import dataset_scene, render
    from realcam.guide import PixelGuide, SourceKeys, latent_starts
    from realcam.model.depth_net import DepthNet
    from realcam.train.data import synth_latents
    from realcam.train.stages import _data, build_model
    from realcam.vae import load_vae

    planes = (1.0, 2.0, 4.0, 8.0, 1e4)
    torch.manual_seed(0)
    net = DepthNet(planes, 8).eval()
    net_file = tmp_path / "net.safetensors"
    save_file(dict(net.state_dict()), str(net_file), metadata={"planes": json.dumps(list(planes))})
    kwargs = dict(scenes=1, seed=0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2", guide_depth=4.0,
                  guide_fov=60.0, shard_size=4, guide_sweep=planes, guide_views="nearest")
    drawn = synth_latents(tmp_path / "net", dataset / "vae.safetensors", guide_sweep_depth="net", guide_depth_net=net_file,
                          **kwargs)
    swept = synth_latents(tmp_path / "swept", dataset / "vae.safetensors", **kwargs)
    a, b = load_file(drawn / "pixel_guides.safetensors"), load_file(swept / "pixel_guides.safetensors")
    assert torch.equal(a["guides"], b["guides"]) and not torch.equal(a["guides_swept"], b["guides_swept"])
    assert a["guides_unknown"].shape == a["guides"].shape and "guides_unknown" not in b
    with safe_open(str(drawn / "pixel_guides.safetensors"), "pt") as f:
        assert f.metadata()["sweep_depth"] == "net" and f.metadata()["depth_net"] == net.digest()
    # source 0 (slot 0) of the scene's clip 1 as the target, drawn as its own PixelGuide draws it, path and none
    vae = load_vae(dataset / "vae.safetensors")
    scene, K, paths = dataset_scene(0, 0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2")
    video = (render(scene, paths[0], K, (32, 32), torch.arange(FRAMES))[0] * 255).round() / 255      # [F, H, W, 3]
    path = pose12(relative_poses(paths[0], "first"))
    starts = latent_starts(FRAMES, vae.tiny)
    pictures = video[starts].permute(0, 3, 1, 2)
    depths = net.depth(pictures)
    keys = SourceKeys(pictures[None], depths[None], as_c2w(path[starts].reshape(-1, 3, 4))[None])
    ext = json.loads(json.dumps(write_camera_extrinsics({f"cam{c:02d}": p for c, p in enumerate(paths, 1)})))
    c2w = [read_camera_extrinsics(ext, f"cam{c:02d}")[::4].double() for c in range(1, 4)]
    target = pose12(relative_poses(c2w[1], "first", anchor=c2w[0][0]))[None].float()
    first = video[0].permute(2, 0, 1)[None]
    with torch.no_grad():
        for held, guide in (("guides_swept", PixelGuide(vae, first, fov_deg=60.0, depth=4.0, depth_map=depths[:1],
                                                        keys=keys)),
                            ("guides_unknown", PixelGuide(vae, first, fov_deg=60.0, depth=4.0, depth_map=depths[:1]))):
            torch.testing.assert_close(a[held][1, 0].float(), guide.encode(target)[0].half().float(),
                                       atol=1e-5, rtol=2**-10)     # one float16 step, as above
    data = LatentPairs(drawn, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes,
                       pixel_guide_views="nearest", pixel_guide_depth_net=net.digest(), source_camera_dropout=0.5)
    kinds = set()
    for seed in range(8):
        item = data.item(1, torch.Generator().manual_seed(seed))
        withheld = torch.equal(item["source_pose12"], pose12(torch.eye(4).expand(item["pose12"].shape[0], 4, 4)))
        slot = [s for s in range(3) if torch.equal(data.latents[s], item["source"])][0]
        assert torch.equal(item["pixel_guide"], a["guides_unknown" if withheld else "guides_swept"][1, slot].float())
        kinds.add(withheld)
    assert kinds == {True, False}
    read = dict(text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes, pixel_guide_views="nearest")
    with pytest.raises(ValueError, match="drawn through a depth network and the model has none .*set-guide-depth-net"):
        LatentPairs(drawn, **read)
    with pytest.raises(ValueError, match="through its depth network .* drawn through the motion depth: .*--guide-sweep-depth net"):
        LatentPairs(swept, pixel_guide_depth_net=net.digest(), **read)
    with pytest.raises(ValueError, match="drawn through another depth network"):
        LatentPairs(drawn, pixel_guide_depth_net=DepthNet(planes, 8).digest(), **read)
    # training: the model's own network decides which data it reads
    overrides = ["model.overrides={\"num_layers\": 1}", "model.conditioning_overrides={\"camera_tokens\": \"rays\", "
                 "\"source_cameras\": true, \"pixel_guide_depth\": 4.0, \"pixel_guide_sweep\": [1, 2, 4, 8, 10000], "
                 "\"pixel_guide_views\": \"nearest\", \"pixel_guide_depth_net\": 8}"]
    cfg = load_config(None, overrides, data=str(drawn))
    model = build_model(cfg, torch.device("cpu"))
    with pytest.raises(ValueError, match="another depth network"):
        _data(cfg, model)
    model.depth_net.load_state_dict(net.state_dict())
    assert _data(cfg, model).unknown is not None
    # bad arguments, refused before anything is written
    for bad, match in (({"guide_sweep_depth": "net"}, "give guide_depth_net"),
                       ({"guide_depth_net": net_file}, "give guide_depth_net .*and only with it"),
                       ({"guide_sweep_depth": "net", "guide_depth_net": net_file, "guide_sweep_smooth": (0.02, 0.08)},
                        "guide_sweep_depth='net' sweeps nothing")):
        with pytest.raises(ValueError, match=match):
            synth_latents(tmp_path / "x", dataset / "vae.safetensors", **{**kwargs, **bad})
    with pytest.raises(ValueError, match="classifies into 5 planes, not the 3 of guide_sweep"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", guide_sweep_depth="net", guide_depth_net=net_file,
                      **{**kwargs, "guide_sweep": (1.0, 4.0, 1e4)})
    assert not (tmp_path / "x").exists()


def test_synth_latents_draws_nearest_view_guides_that_only_a_nearest_view_model_reads(dataset, tmp_path):
    """``synth-latents --guide-views nearest``: the swept guides drawn, latent frame by latent frame, from each source's
    first frame or the frame that latent frame starts at, whichever was filmed nearer the target camera — exactly what
    that source's own :class:`realcam.guide.PixelGuide` with its key frames makes; the one-plane guides unchanged; the
    metadata says which; a model and data drawn differently are refused, both ways, with the command that makes them."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from realcam.camera.poses import as_c2w
    from realcam.camera.trajectory_json import write_camera_extrinsics
    from realcam.data.synth import dataset_scene, render
    from realcam.guide import PixelGuide, SourceKeys, guide_depth, key_depths, latent_starts, motion_frames
    from realcam.train.data import synth_latents
    from realcam.vae import load_vae

    planes = (1.0, 2.0, 4.0, 8.0, 1e4)
    kwargs = dict(scenes=1, seed=0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2", guide_depth=4.0,
                  guide_fov=60.0, shard_size=4, guide_sweep=planes)
    near = synth_latents(tmp_path / "near", dataset / "vae.safetensors", guide_views="nearest", **kwargs)
    first = synth_latents(tmp_path / "first", dataset / "vae.safetensors", **kwargs)
    a, b = load_file(near / "pixel_guides.safetensors"), load_file(first / "pixel_guides.safetensors")
    assert torch.equal(a["guides"], b["guides"]) and not torch.equal(a["guides_swept"], b["guides_swept"])
    for folder, views in ((near, "nearest"), (first, "first")):
        with safe_open(str(folder / "pixel_guides.safetensors"), "pt") as f:
            assert f.metadata()["views"] == views
    # source 0 (slot 0) of the scene's clip 1 as the target, drawn as its own PixelGuide draws it
    vae = load_vae(dataset / "vae.safetensors")
    scene, K, paths = dataset_scene(0, 0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2")
    video = (render(scene, paths[0], K, (32, 32), torch.arange(FRAMES))[0] * 255).round() / 255      # [F, H, W, 3]
    path = pose12(relative_poses(paths[0], "first"))
    moving = motion_frames(video.permute(3, 0, 1, 2)[None])
    starts = latent_starts(FRAMES, vae.tiny)
    depth0 = guide_depth(moving, path, fov_deg=60.0, planes=planes, fallback=4.0, size=(32, 32))
    depths = torch.cat([depth0, key_depths(moving, path, starts[1:], fov_deg=60.0, planes=planes, fallback=4.0,
                                           size=(32, 32))])
    keys = SourceKeys(video[starts].permute(0, 3, 1, 2)[None], depths[None], as_c2w(path[starts].reshape(-1, 3, 4))[None])
    ext = json.loads(json.dumps(write_camera_extrinsics({f"cam{c:02d}": p for c, p in enumerate(paths, 1)})))
    c2w = [read_camera_extrinsics(ext, f"cam{c:02d}")[::4].double() for c in range(1, 4)]
    target = pose12(relative_poses(c2w[1], "first", anchor=c2w[0][0]))[None].float()
    guide = PixelGuide(vae, video[0].permute(2, 0, 1)[None], fov_deg=60.0, depth=4.0, depth_map=depth0, keys=keys)
    with torch.no_grad():
        torch.testing.assert_close(a["guides_swept"][1, 0].float(), guide.encode(target)[0].half().float(),
                                   atol=1e-5, rtol=2**-10)     # one float16 step, as above
    assert LatentPairs(near, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes,
                       pixel_guide_views="nearest").swept is not None
    with pytest.raises(ValueError, match="source's nearest frames .* drawn from its 'first' ones: .*--guide-views nearest"):
        LatentPairs(first, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes,
                    pixel_guide_views="nearest")
    with pytest.raises(ValueError, match="source's first frames .* drawn from its 'nearest' ones"):
        LatentPairs(near, text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes)
    with pytest.raises(ValueError, match="give guide_sweep"):
        synth_latents(tmp_path / "x", dataset / "vae.safetensors", **{**kwargs, "guide_sweep": ()}, guide_views="nearest")


def test_merge_latents_joins_folders_made_apart_as_one_run_makes_them(dataset, tmp_path):
    """``merge-latents``: scenes 0 and 1 made by two ``synth-latents --first`` runs and joined hold exactly what one run
    over both makes — latents, cameras, scene numbers, contexts, every guide tensor (through a depth network, so
    ``guides_unknown`` too) and the index bar its ``source`` — so training reads the same pairs; folders made otherwise
    (other guides, none, another frame size, a scene twice, one folder) are refused by name, and nothing is written
    then."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from realcam.__main__ import main
    from realcam.model.depth_net import DepthNet
    from realcam.train.data import merge_latents, synth_latents

    planes = (1.0, 2.0, 4.0, 8.0, 1e4)
    torch.manual_seed(0)
    net = DepthNet(planes, 8).eval()
    net_file = tmp_path / "net.safetensors"
    save_file(dict(net.state_dict()), str(net_file), metadata={"planes": json.dumps(list(planes))})
    vae = dataset / "vae.safetensors"
    kwargs = dict(seed=0, cameras=3, frames=FRAMES, size=32, mode="random", world="v2", guide_depth=4.0, guide_fov=60.0,
                  shard_size=4, guide_sweep=planes, guide_views="nearest", guide_sweep_depth="net",
                  guide_depth_net=net_file)
    whole = synth_latents(tmp_path / "whole", vae, scenes=2, **kwargs)
    parts = [synth_latents(tmp_path / f"part{i}", vae, scenes=1, first=i, **kwargs) for i in range(2)]
    assert main(["merge-latents", "--out", str(tmp_path / "joined"), *map(str, parts), "--shard-size", "4"]) == 0
    joined = tmp_path / "joined"
    a, b = json.loads((whole / "index.json").read_text()), json.loads((joined / "index.json").read_text())
    assert a.pop("source") != b.pop("source") and a == b           # the same shards, scenes and fields
    for name in (*a["shards"], "contexts.safetensors", "pixel_guides.safetensors"):
        x, y = load_file(whole / name), load_file(joined / name)
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
        with safe_open(str(whole / name), "pt") as f, safe_open(str(joined / name), "pt") as g:
            assert f.metadata() == g.metadata(), name
    read = dict(text_dim=TINY.text_dim, pixel_guide=(4.0, 60.0), pixel_guide_sweep=planes, pixel_guide_views="nearest",
                pixel_guide_depth_net=net.digest(), source_camera_dropout=0.5)
    one, two = LatentPairs(whole, **read), LatentPairs(joined, **read)
    for i in range(len(one)):
        x, y = one.item(i, torch.Generator().manual_seed(i)), two.item(i, torch.Generator().manual_seed(i))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    # refusals, each before anything is written
    other = synth_latents(tmp_path / "other", vae, scenes=1, first=2, **{**kwargs, "guide_sweep_depth": "motion",
                                                                          "guide_depth_net": None})
    plain = synth_latents(tmp_path / "plain", vae, scenes=1, first=3, seed=0, cameras=3, frames=FRAMES, size=32,
                          mode="random", world="v2", shard_size=4)
    small = synth_latents(tmp_path / "small", vae, scenes=1, first=4, seed=0, cameras=3, frames=FRAMES, size=16,
                          mode="random", world="v2", shard_size=4)
    for folders, match in (([parts[0], other], "differ in their metadata depth_net, sweep_depth: make both with the same"),
                           ([parts[0], plain], "holds pixel guides and .*plain none"),
                           ([plain, small], "holds latents .* only folders of the same frame size"),
                           ([parts[0], whole], "scene 'scene0' is in both"),
                           ([parts[0]], "two or more"),
                           ([parts[0], tmp_path / "nothing"], "has no index.json")):
        with pytest.raises((ValueError, FileNotFoundError), match=match):
            merge_latents(tmp_path / "refused", folders)
        assert not (tmp_path / "refused").exists() and not (tmp_path / "refused.partial").exists()
    with pytest.raises(SystemExit, match="merge-latents: scene 'scene0' is in both"):
        main(["merge-latents", "--out", str(tmp_path / "refused"), str(parts[0]), str(whole)])
    with pytest.raises(FileExistsError):
        merge_latents(joined, parts)


def test_source_camera_dropout_withholds_the_source_path_as_inference_does(dataset):
    """A withheld path is the identity at every frame — what inference passes for a video whose camera is
    unknown (tests/test_demo.py) — and the rest of the pair is the one drawn without dropout."""
    from realcam.train.stages import _data, build_model

    plain = LatentPairs(dataset / "latents", text_dim=TINY.text_dim)
    half = LatentPairs(dataset / "latents", text_dim=TINY.text_dim, source_camera_dropout=0.5)
    still = pose12(torch.eye(4).expand(6, 4, 4))
    assert torch.equal(still[0], torch.eye(3, 4).flatten())  # the camera a source without a path gets (sequence.py)
    withheld = 0
    for i in range(len(plain)):
        for seed in range(8):
            a, b = plain.item(i, torch.Generator().manual_seed(seed)), half.item(i, torch.Generator().manual_seed(seed))
            for key in ("source", "target", "pose12", "context"):
                assert torch.equal(a[key], b[key]), key
            if torch.equal(b["source_pose12"], still):
                withheld += 1
            else:
                assert torch.equal(b["source_pose12"], a["source_pose12"])
    assert not torch.equal(a["source_pose12"], still)        # the cameras of these scenes move
    assert 0.3 < withheld / (8 * len(plain)) < 0.7
    every = LatentPairs(dataset / "latents", text_dim=TINY.text_dim, source_camera_dropout=1.0)
    assert all(torch.equal(every.item(i, torch.Generator().manual_seed(0))["source_pose12"], still) for i in range(3))
    with pytest.raises(ValueError, match=r"source_camera_dropout must be a share in \[0, 1\]"):
        load_config(None, ["source_camera_dropout=1.5"], data="x")
    # a model that does not read source cameras would silently ignore it: refused, naming the fix
    cfg = load_config(None, ["source_camera_dropout=0.3", "model.overrides={\"num_layers\": 1}"], data=str(dataset / "latents"))
    with pytest.raises(ValueError, match="source_camera_dropout=0.3: the model does not read source cameras"):
        _data(cfg, build_model(cfg, torch.device("cpu")))


def test_same_camera_share_pairs_a_clip_with_itself_along_its_own_path(dataset):
    """``same_camera_share``: on that share of pairs the source is the target clip itself, so the target path is the
    source's own and the answer is the source; every other pair is the one drawn without the option, and the
    source path's dropout still applies on top. A self-pair whose source path is withheld reads the source as filmed
    from a still camera, so its own path — the target's — is the still one too: a moving target path with the source
    as its answer would contradict what those inputs mean in every other withheld pair."""
    plain = LatentPairs(dataset / "latents", text_dim=TINY.text_dim, source_camera_dropout=0.5)
    half = LatentPairs(dataset / "latents", text_dim=TINY.text_dim, source_camera_dropout=0.5, same_camera_share=0.5)
    still = pose12(torch.eye(4).expand(6, 4, 4))
    same = {"known": 0, "withheld": 0}
    for i in range(len(plain)):
        own = pose12(relative_poses(plain.c2w[i], "first"))
        assert not torch.allclose(own, still, atol=1e-3)                                 # the cameras move
        for seed in range(8):
            a, b = plain.item(i, torch.Generator().manual_seed(seed)), half.item(i, torch.Generator().manual_seed(seed))
            assert torch.equal(a["target"], b["target"]) and torch.equal(a["context"], b["context"])
            if torch.equal(b["source"], b["target"]):
                if torch.equal(a["source_pose12"], still):                             # this draw withholds the path
                    same["withheld"] += 1
                    assert torch.equal(b["source_pose12"], still)
                    torch.testing.assert_close(b["pose12"], still.to(b["pose12"].dtype), atol=1e-6, rtol=0)
                else:
                    same["known"] += 1
                    torch.testing.assert_close(b["pose12"], own, atol=1e-6, rtol=0)
                    assert torch.equal(b["source_pose12"], b["pose12"])
            else:
                for key in ("source", "pose12", "source_pose12"):
                    assert torch.equal(a[key], b[key]), key
    assert 0.3 < sum(same.values()) / (8 * len(plain)) < 0.7 and min(same.values()) > 0
    with pytest.raises(ValueError, match=r"same_camera_share must be a share in \[0, 1\]"):
        load_config(None, ["same_camera_share=-0.1"], data="x")
    with pytest.raises(ValueError, match=r"same_camera_share must be a share"):
        LatentPairs(dataset / "latents", same_camera_share=2.0)


def test_same_camera_withheld_never_keeps_a_self_pairs_path(dataset):
    """``same_camera_withheld='never'``: a self-pair always shows the source's path, so the dropout withholds it only
    on pairs of two cameras — on the same random stream as ``'still'``: every draw makes the same pair, and only the
    self-pairs the dropout would have withheld differ (they keep their path)."""
    still_pairs = LatentPairs(dataset / "latents", text_dim=TINY.text_dim, source_camera_dropout=0.5, same_camera_share=0.5)
    never = LatentPairs(dataset / "latents", text_dim=TINY.text_dim, source_camera_dropout=0.5, same_camera_share=0.5,
                        same_camera_withheld="never")
    still = pose12(torch.eye(4).expand(6, 4, 4))
    kept = withheld_others = 0
    for i in range(len(never)):
        own = pose12(relative_poses(never.c2w[i], "first"))
        for seed in range(8):
            a, b = still_pairs.item(i, torch.Generator().manual_seed(seed)), never.item(i, torch.Generator().manual_seed(seed))
            assert torch.equal(a["source"], b["source"]) and torch.equal(a["target"], b["target"])
            if torch.equal(b["source"], b["target"]):            # a self-pair: always along its own path
                torch.testing.assert_close(b["pose12"], own, atol=1e-6, rtol=0)
                assert torch.equal(b["source_pose12"], b["pose12"])
                kept += torch.equal(a["source_pose12"], still)
            else:
                for key in ("pose12", "source_pose12"):
                    assert torch.equal(a[key], b[key]), key
                withheld_others += torch.equal(b["source_pose12"], still)
    assert kept > 0 and withheld_others > 0      # both cases occurred
    with pytest.raises(ValueError, match="same_camera_withheld 'sometimes'; choose one of"):
        load_config(None, ["same_camera_withheld=sometimes"], data="x")
    with pytest.raises(ValueError, match="same_camera_withheld 'x'"):
        LatentPairs(dataset / "latents", same_camera_withheld="x")


def test_offline_loopaug_writes_turning_windows(dataset, tmp_path):
    n = write_loopaug_dataset(dataset / "scenes", tmp_path / "loop", length=FRAMES, windows=2, seed=1)
    assert n == 6
    scene = tmp_path / "loop" / "scene1_loop0"
    src = dataset / "scenes" / "scene1"
    ext_new = json.loads((scene / "cameras" / "camera_extrinsics.json").read_text())
    ext_old = json.loads((src / "cameras" / "camera_extrinsics.json").read_text())
    ext_c2w = loop_extend(read_camera_extrinsics(ext_old, "cam02"))
    new_c2w = read_camera_extrinsics(ext_new, "cam02")
    assert new_c2w.shape[0] == FRAMES
    # find the window start from the cameras, then check frames against the extended original clip
    starts = [s for s in range(2 * FRAMES - 1 - FRAMES + 1) if torch.allclose(ext_c2w[s:s + FRAMES], new_c2w, atol=1e-6)]
    assert starts, "the written cameras are not a window of the loop-extended path"
    s = starts[0]
    video = read_video(scene / "videos" / "cam02.mp4")
    original = loop_extend(read_video(src / "videos" / "cam02.mp4"))
    assert video.shape[0] == FRAMES
    assert (video - original[s:s + FRAMES]).abs().mean() < 0.02  # H.264 yuv444 crf 12 re-encode
    assert (scene / "metadata.csv").exists() and (scene / "cameras" / "intrinsics.json").exists()


# --- the stages under torchrun ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_each_stage_runs_under_torchrun_with_two_processes(dataset, tmp_path, report):
    lat = str(dataset / "latents")
    common = ["--data", lat, "--steps", "3", "--set", "checkpoint_every=3", "--set", "model.trainable=all"]
    out_t = _run_ok(["train-teacher", "--out", str(tmp_path / "t"), *common, "--set", "parallel=fsdp",
                     "--set", "activation_checkpointing=true", "--set", "grad_accum=2"], dataset)
    assert "2 process(es), cpu, fsdp" in out_t
    out_c = _run_ok(["train-causal", "--out", str(tmp_path / "c"), *common, "--set", "parallel=ddp"], dataset)
    assert "2 process(es), cpu, ddp" in out_c
    _run_ok(["distill", "--out", str(tmp_path / "d"), *common, "--set", f"distill.teacher={tmp_path / 't' / 'teacher.safetensors'}",
                     "--set", f"model.init={tmp_path / 'c' / 'student.safetensors'}", "--set", "distill.generator_every=2"], dataset)
    for run, keys in (("t", ["teacher/loss", "teacher/fm", "teacher/motion"]), ("c", ["student/loss"]),
                      ("d", ["critic/loss"])):
        log = _log(tmp_path / run)
        assert sorted(log) == [0, 1, 2]
        for k in keys:
            assert all(torch.isfinite(torch.tensor(r[k])) for r in log.values()), (run, k)
    assert "generator/loss" in _log(tmp_path / "d")[0] and "generator/loss" not in _log(tmp_path / "d")[1]
    assert "generator/loss" in _log(tmp_path / "d")[2]
    from realcam.weights import load_dit

    student = load_dit(tmp_path / "d" / "generator.safetensors")
    assert student.streaming.denoising_steps == (1000.0, 750.0, 500.0) and student.conditioning.mode == "interleave"
    ckpt = tmp_path / "d" / "checkpoints" / "step_0000003"
    assert {p.name for p in ckpt.iterdir()} >= {"critic.safetensors", "critic.optim.safetensors", "generator.safetensors",
                                                "generator.optim.safetensors", "generator.ema.safetensors", "state.json"}
    report(f"torchrun x2 (gloo): teacher/fsdp, causal/ddp, distill/ddp each ran 3 steps; "
           f"teacher losses {[round(_log(tmp_path / 't')[s]['teacher/loss'], 4) for s in range(3)]}")


@pytest.mark.slow
def test_fsdp_and_ddp_give_the_same_losses(dataset, tmp_path):
    for mode in ("ddp", "fsdp"):
        _run_ok(["train-causal", "--data", str(dataset / "latents"), "--out", str(tmp_path / mode), "--steps", "4",
                 "--set", f"parallel={mode}", "--set", "model.trainable=all", "--set", "checkpoint_every=100"], dataset)
    a, b = _log(tmp_path / "ddp"), _log(tmp_path / "fsdp")
    for s in range(4):
        assert a[s]["student/loss"] == pytest.approx(b[s]["student/loss"], rel=1e-5, abs=1e-6)


def test_training_checks_the_clip_size_with_the_vaes_own_stride(dataset, tmp_path):
    """``video.*`` is checked against the latents with the stride of the VAE that made them (stored by
    preprocess): world v2's tiny VAE has stride 4, where the check used to assume Wan's 8 and refused it."""
    from safetensors.torch import save_file

    from realcam.train.stages import train

    torch.manual_seed(0)
    vae = TinyVAE(16, encoder_width=8, decoder_widths=(16, 8, 8, 8), spatial_stride=4)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(tmp_path / "vae4.safetensors"),
              metadata={"spatial_stride": "4"})
    preprocess(dataset / "scenes", tmp_path / "vae4.safetensors", tmp_path / "latents4", frames=FRAMES, shard_size=4)
    assert json.loads((tmp_path / "latents4" / "index.json").read_text())["spatial_stride"] == 4
    common = ["steps=1", "checkpoint_every=1", "parallel=none", "video.frames=21", "video.width=32"]
    train(load_config(None, [*common, "video.height=32"], stage="teacher", data=str(tmp_path / "latents4"),
                      out=str(tmp_path / "t")), progress=False)
    with pytest.raises(ValueError, match=r"\(6, 8, 8\) latents .* encodes to \(6, 16, 8\)"):
        train(load_config(None, [*common, "video.height=64"], stage="teacher", data=str(tmp_path / "latents4"),
                          out=str(tmp_path / "t2")), progress=False)


def test_the_training_command_leaves_the_process_group(dataset, tmp_path):
    """A finished ``train-*`` command destroys its process group. Left alive, gloo's threads sometimes abort
    the exit of a process that trained correctly (CI: FSDP rank 1 exited -6, "terminate called without an
    active exception", after all 4 steps)."""
    import torch.distributed as dist

    from realcam.__main__ import main

    assert main(["train-causal", "--data", str(dataset / "latents"), "--out", str(tmp_path / "c"), "--steps", "1",
                 "--set", "checkpoint_every=100"]) == 0
    assert (tmp_path / "c" / "checkpoints").is_dir()
    assert not dist.is_initialized()


@pytest.mark.slow
def test_teacher_overfits_one_batch(dataset, tmp_path, report):
    from realcam.train.stages import train

    cfg = load_config(None, ["model.trainable=all", "optim.lr=2e-3", "optim.warmup_steps=20", "overfit_batches=1",
                             "batch_size=2", "checkpoint_every=1000", "log_every=1000"],
                      stage="teacher", data=str(dataset / "latents"), out=str(tmp_path / "overfit"), steps=300)
    losses = [r["teacher/loss"] for r in train(cfg, progress=False)]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    report(f"teacher overfitting one batch: mean loss of steps 1-10 {first:.4f} → steps 291-300 {last:.4f} "
           f"({first / last:.1f}x)")
    assert first / last >= 5


@pytest.mark.slow
def test_killed_run_resumes_with_the_same_losses(dataset, tmp_path, report):
    total = 200
    args = ["train-teacher", "--data", str(dataset / "latents"), "--steps", str(total), "--set", "checkpoint_every=10",
            "--set", "batch_size=3", "--set", "grad_accum=2"]
    _run_ok([*args, "--out", str(tmp_path / "full")], dataset)
    run = tmp_path / "killed"
    p = _torchrun([*args, "--out", str(run)], dataset)
    deadline = time.time() + 300
    while not list((run / "checkpoints").glob("step_*/state.json")):
        assert p.poll() is None and time.time() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.01)
    import psutil

    tree = [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]  # torchrun starts workers in
    for proc in tree:                                                                  # sessions of their own
        proc.send_signal(signal.SIGKILL)
    p.communicate()
    before = _log(run)
    assert max(before) < total - 1, "the kill came too late to test a resume"
    # what a kill during a write leaves behind (the deployable weights' temp file, an unfinished checkpoint)
    (run / "teacher.safetensors.x1y2.tmp").write_bytes(b"partial")
    (run / "checkpoints" / ".tmp_step_0099999").mkdir()
    out = _run_ok([*args, "--out", str(run)], dataset)
    assert "resuming at step" in out
    assert not list(run.glob("*.tmp")) and not list((run / "checkpoints").glob(".tmp_*"))
    lines = (run / "log.jsonl").read_text().splitlines()
    assert len(lines) == total, "a resumed run wrote some steps twice"
    full, resumed = _log(tmp_path / "full"), _log(run)
    assert sorted(resumed) == list(range(total))
    for s in range(total):
        assert resumed[s]["teacher/loss"] == full[s]["teacher/loss"], s
    report(f"resume after SIGKILL at step {max(before) + 1}: all {total} losses identical to the uninterrupted run")


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(dataset, tmp_path):
    from realcam.train.stages import train

    def cfg(steps):
        return load_config(None, ["batch_size=2", "checkpoint_every=4", "keep_checkpoints=3",
                                  'teacher.sampling={"steps": 7, "guidance": 1.0}'], stage="teacher",
                           data=str(dataset / "latents"), out=str(tmp_path / "run"), steps=steps)
    train(cfg(8), progress=False)
    newest = tmp_path / "run" / "checkpoints" / "step_0000008" / "teacher.safetensors"
    # every step's weights carry the settings they were trained with, like the deployable file: loading one
    # (eval --variant, the loader node) must not fall back to defaults (50 steps, CFG 5 on a model without text)
    from realcam.weights import load_dit

    step4 = load_dit(tmp_path / "run" / "checkpoints" / "step_0000004" / "teacher.safetensors")
    assert step4.sampling.steps == 7 and step4.sampling.guidance == 1.0
    assert step4.sampling == load_dit(tmp_path / "run" / "teacher.safetensors").sampling
    newest.write_bytes(newest.read_bytes()[:100])                   # truncated by a disk or a kill
    with pytest.warns(UserWarning, match="step_0000008 is damaged"):
        hist = train(cfg(10), progress=False)
    assert [h["step"] for h in hist] == [4, 5, 6, 7, 8, 9]            # resumed from step 4
    assert [json.loads(line)["step"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()] == list(range(10))


def test_until_stops_at_a_snapshot_of_the_full_run(dataset, tmp_path, capsys):
    """``--until N`` (the matched baseline of an ablation): the run stops after step N with a checkpoint, on the
    full run's learning-rate schedule, and the same command without it resumes to exactly the full run."""
    from realcam.__main__ import main
    from realcam.weights import load_dit

    def cli(out, *extra):
        return main(["train-teacher", "--data", str(dataset / "latents"), "--out", str(tmp_path / out), "--steps", "6",
                     "--set", "batch_size=2", "--set", "checkpoint_every=100", "--set", "optim.warmup_steps=0", *extra])

    assert cli("full") == 0 and cli("split", "--until", "3") == 0
    split, full = _log(tmp_path / "split"), _log(tmp_path / "full")
    assert sorted(split) == [0, 1, 2]
    assert [split[s]["teacher/lr"] for s in range(3)] == [full[s]["teacher/lr"] for s in range(3)]  # cosine over 6
    assert (tmp_path / "split" / "checkpoints" / "step_0000003" / "state.json").exists()
    snapshot = load_dit(tmp_path / "split" / "teacher.safetensors").state_dict()
    assert cli("split") == 0
    split = _log(tmp_path / "split")
    assert [split[s]["teacher/loss"] for s in range(6)] == [full[s]["teacher/loss"] for s in range(6)]
    final, reference = (load_dit(tmp_path / r / "teacher.safetensors").state_dict() for r in ("split", "full"))
    assert all(torch.equal(final[k], reference[k]) for k in reference)
    assert not all(torch.equal(snapshot[k], reference[k]) for k in reference)
    assert cli("bad", "--until", "7") != 0
    assert "until=7: give a step in [1, 6]" in capsys.readouterr().err
    assert cli("split", "--until", "3") != 0          # past it already: its weights are not the step-3 snapshot
    assert "is already at step 6" in capsys.readouterr().err


# --- DMD gradient path --------------------------------------------------------------------------------------------
def _tiny(seed: int) -> RealCamDiT:
    torch.manual_seed(seed)
    return randomize_(RealCamDiT(TINY), seed).float()


def test_dmd_generator_gradient_flows_only_through_the_exit_step():
    gen, real, critic = _tiny(0), _tiny(1).requires_grad_(False), _tiny(2)
    spec = DistillSpec(teacher="x")
    gen.streaming = StreamingConfig(sink_chunks=1, window_chunks=1)
    loss_fn = DMDGeneratorLoss(gen, real, critic, spec)
    g = torch.Generator().manual_seed(0)
    batch = {"source": torch.randn(1, 16, 9, 4, 4, generator=g), "target": torch.randn(1, 16, 9, 4, 4, generator=g),
             "pose12": pose12(relative_poses(torch.eye(4).expand(9, 4, 4).clone().double()))[None],
             "context": torch.zeros(1, 1, TINY.text_dim)}
    calls: list[dict] = []

    def on_forward(module, args, kwargs, output):
        rec = {"graph": output.requires_grad, "cache_write": kwargs["t"].max().item() == 0.0 if kwargs.get("t") is not None
               else bool((args[1] == 0).all()), "grad_in": False}
        if output.requires_grad:
            output.register_hook(lambda grad: rec.update(grad_in=bool(grad.abs().sum() > 0)))
        calls.append(rec)

    handle = gen.register_forward_hook(on_forward, with_kwargs=True)
    cache_tensors: list[torch.Tensor] = []
    orig = StreamingSession._write_cache

    def spy(self, i, source, clean):
        orig(self, i, source, clean)
        cache_tensors.extend(t for b in self.cache.blocks for t in (b.k, b.v))
    StreamingSession._write_cache = spy
    try:
        loss, metrics = loss_fn(batch, torch.Generator().manual_seed(5))
        loss.backward()
    finally:
        StreamingSession._write_cache = orig
        handle.remove()
    exit_step = int(metrics["exit_step"])
    steps = len(gen.streaming.denoising_steps)
    per_chunk = steps + 1  # denoising forwards, then the cache-writing forward
    assert len(calls) == 3 * per_chunk
    for c in range(3):
        chunk = calls[c * per_chunk:(c + 1) * per_chunk]
        assert [r["graph"] for r in chunk] == [j == exit_step for j in range(steps)] + [False]
        assert chunk[exit_step]["grad_in"], "the exit step received no gradient"
        assert chunk[-1]["cache_write"]
    assert cache_tensors and not any(t.requires_grad for t in cache_tensors), "the KV cache joined the graph"
    assert all(p.grad is None for p in real.parameters()) and all(p.grad is None for p in critic.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gen.parameters())


def _dmd_batch(latent_frames: int = 9):
    g = torch.Generator().manual_seed(0)
    return {"source": torch.randn(1, 16, latent_frames, 4, 4, generator=g),
            "target": torch.randn(1, 16, latent_frames, 4, 4, generator=g),
            "pose12": pose12(relative_poses(torch.eye(4).expand(latent_frames, 4, 4).clone().double()))[None],
            "context": torch.zeros(1, 1, TINY.text_dim)}


def test_dmd_loss_gradient_is_the_closed_form(report):
    """``dmd_loss`` (pure): its gradient in x is ``g / numel`` with ``g = (fake − real) / mean|x − real|`` per
    sample (DMD eq. 7–8, as Self-Forcing normalises it); the scores get none."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 16, 6, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(2, 16, 6, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    real = torch.randn(2, 16, 6, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    dmd_loss(x, fake, real).backward()
    norm = (x.detach() - real.detach()).abs().mean(dim=(1, 2, 3, 4), keepdim=True)
    closed = (fake.detach() - real.detach()) / norm / x.numel()
    err = float((x.grad - closed).abs().max() / closed.abs().max())
    report(f"dmd_loss gradient vs closed form g/numel: relative error {err:.1e} (before: no pure dmd_loss to test)")
    assert err < 1e-12 and fake.grad is None and real.grad is None
    torch.testing.assert_close(dmd_gradient(x.detach(), fake.detach(), real.detach()), closed * x.numel(), rtol=1e-12, atol=0)
    assert float(dmd_loss(x, real, real).detach()) == 0.0                         # scores agree: nothing to move
    same = real.detach().clone()
    assert float(dmd_gradient(same, fake.detach(), same).abs().max()) == 0.0      # zero normaliser: no step, not inf


def test_dmd_noise_level_is_clamped_after_the_shift(report):
    """Self-Forcing: u ~ U(0, 1), shifted, then clamped to [0.02, 0.98]. Before the fix the range was applied
    before the shift (U(0.02, 0.98) shifted reaches 0.996 at shift 5)."""
    sigma = dmd_sigma((20000,), 5.0, torch.Generator().manual_seed(0), 0.02, 0.98)
    at_max = float((sigma == sigma.max()).float().mean())
    report(f"DMD σ at shift 5: range [{float(sigma.min()):.3f}, {float(sigma.max()):.3f}], {100 * at_max:.1f} % at the "
           "0.98 clamp (expected P(u > 0.98/1.08) = 9.3 %)")
    assert float(sigma.min()) == pytest.approx(0.02, abs=1e-3) and float(sigma.max()) == pytest.approx(0.98)
    assert float(sigma.min()) >= float(torch.tensor(0.02)) and float(sigma.max()) <= float(torch.tensor(0.98))
    assert at_max == pytest.approx(1 - 0.98 / 1.08, abs=0.01)


def test_dmd_exit_step_is_the_same_on_every_process():
    """Each process has its own generator (data, noise); the exit step comes from the shared one, so all
    processes stop at the same step, as Self-Forcing's broadcast makes them."""
    gen, real, critic = _tiny(0), _tiny(1).requires_grad_(False), _tiny(2)
    gen.streaming = StreamingConfig(sink_chunks=1, window_chunks=1)
    loss_fn = DMDGeneratorLoss(gen, real, critic, DistillSpec(teacher="x"))
    from realcam.train.data import step_generator

    steps = set()
    with torch.no_grad():
        for step in range(6):
            per_rank = {loss_fn.rollout(_dmd_batch(3), step_generator(0, step, 0, rank, 1),
                                        step_generator(0, step, 0, 1))[1] for rank in (0, 1)}
            assert len(per_rank) == 1
            steps |= per_rank
    assert len(steps) > 1                    # still random from step to step


def test_dmd_cache_from_exit_is_self_forcings_rollout():
    """``distill.cache_from='exit'``: a chunk stops denoising at the exit step and its x0 fills the cache
    (Self-Forcing); the default 'clean' denoises to the end first (RealCam's self-rollout)."""
    model = _tiny(5)
    b = _dmd_batch(6)
    forwards, written = [], []
    orig_write = StreamingSession._write_cache

    def spy_write(self, i, source, clean):
        written.append(clean.clone())
        orig_write(self, i, source, clean)
    handle = model.register_forward_hook(lambda m, a, o: forwards.append(1))
    StreamingSession._write_cache = spy_write
    try:
        for mode in ("exit", "clean"):
            forwards.clear()
            written.clear()
            session = StreamingSession(model, b["context"], config=StreamingConfig(sink_chunks=1, window_chunks=1),
                                       source=b["source"], seed=3, pose12=b["pose12"])
            out = session.rollout(2, grad_step=0, cache_from=mode)
            per_chunk = len(forwards) // 2
            if mode == "exit":
                assert per_chunk == 2                                    # exit step + cache write
                assert torch.equal(written[0], out.exit[:, :, :3].detach()) and torch.equal(out.clean, out.exit.detach())
            else:
                assert per_chunk == 4                                    # 3 steps + cache write
                assert not torch.equal(written[0], out.exit[:, :, :3].detach())
    finally:
        StreamingSession._write_cache = orig_write
        handle.remove()


def test_streaming_settings_go_from_causal_init_to_the_distilled_student(dataset, tmp_path, report):
    """One settings object: the causal stage saves what it trained (chunk 2, cache-slot RoPE, window 1, shift
    3, two steps), distillation streams with exactly that and saves it again; ``distill.streaming`` overrides
    one field only when asked. Before the fix distillation used chunk 3 / absolute RoPE / shift 5 whatever
    the student had been trained for."""
    from realcam.train.stages import train
    from realcam.weights import load_dit, save_realcam_checkpoint

    teacher = _tiny(6)
    save_realcam_checkpoint(teacher, tmp_path / "teacher.safetensors")
    common = dict(data=str(dataset / "latents"), steps=1)
    causal = load_config(None, ["causal.chunk=2", 'causal.streaming={"rope_mode": "cache_slot", "window_chunks": 1, '
                                '"shift": 3.0, "denoising_steps": [1000, 500]}', "causal.sink_choices=[1]",
                                "causal.window_choices=[1]", f"model.init={tmp_path / 'teacher.safetensors'}"],
                         stage="causal", out=str(tmp_path / "c"), **common)
    train(causal, progress=False)
    trained = StreamingConfig(chunk_latent_frames=2, rope_mode="cache_slot", window_chunks=1, shift=3.0,
                              denoising_steps=(1000.0, 500.0))
    assert load_dit(tmp_path / "c" / "student.safetensors").streaming == trained
    distill = load_config(None, [f"model.init={tmp_path / 'c' / 'student.safetensors'}",
                                 f"distill.teacher={tmp_path / 'teacher.safetensors'}", "distill.generator_every=1"],
                          stage="distill", out=str(tmp_path / "d"), **common)
    train(distill, progress=False)
    saved = load_dit(tmp_path / "d" / "generator.safetensors").streaming
    report(f"student trained with {trained.to_json()}; distilled and saved with {saved.to_json()} "
           "(before the fix: chunk 3, absolute RoPE, shift 5, window 5, steps [1000, 750, 500])")
    assert saved == trained
    over = load_config(None, [f"model.init={tmp_path / 'c' / 'student.safetensors'}",
                              f"distill.teacher={tmp_path / 'teacher.safetensors'}", "distill.generator_every=1",
                              'distill.streaming={"window_chunks": 2}'], stage="distill", out=str(tmp_path / "e"), **common)
    train(over, progress=False)
    assert load_dit(tmp_path / "e" / "generator.safetensors").streaming == trained.override(window_chunks=2)
    with pytest.raises(ValueError, match="distill.streaming"):
        load_config(None, ['distill.streaming={"windw": 2}', "distill.teacher=x"], stage="distill", data="x")


def test_rollout_is_the_inference_stream():
    """The training rollout's clean chunks are exactly what inference streams for the same seed."""
    model = _tiny(3)
    g = torch.Generator().manual_seed(1)
    source = torch.randn(1, 16, 6, 4, 4, generator=g)
    poses = pose12(relative_poses(torch.eye(4).expand(6, 4, 4).clone().double()))[None]
    ctx = torch.zeros(1, 1, TINY.text_dim)
    cfg = StreamingConfig(sink_chunks=1, window_chunks=1)
    out = StreamingSession(model, ctx, config=cfg, source=source, seed=7, pose12=poses).rollout(2, grad_step=1)
    stream = StreamingSession(model, ctx, config=cfg, source=source, seed=7, pose12=poses)
    ref = torch.cat([stream.step().latents for _ in range(2)], dim=2)
    torch.testing.assert_close(out.clean, ref, atol=1e-6, rtol=0)
    assert out.exit.requires_grad and not out.clean.requires_grad


def test_activation_checkpointing_gives_the_same_gradients():
    model = _tiny(4)
    g = torch.Generator().manual_seed(2)
    args = (torch.randn(1, 16, 3, 4, 4, generator=g), torch.randn(1, 16, 3, 4, 4, generator=g), torch.tensor([500.0]),
            torch.randn(1, 2, TINY.text_dim, generator=g), torch.randn(1, 3, 12, generator=g))
    grads = []
    for ckpt in (False, True):
        model.zero_grad()
        model.activation_checkpointing = ckpt
        model.velocity(*args).square().mean().backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def _dmd_step(rope_mode: str, seed: int, checkpointing: bool) -> dict:
    """One DMD generator step of the tiny models (3 chunks, sink 1, window 1: the ring evicts): its loss, the
    generator's gradients, the exit step, the bytes kept for backward (saved tensors, and the KV-cache copies of
    FrozenBlockKV counted once each) and those copies."""
    from realcam.model.kv_cache import FrozenBlockKV

    gen, real, critic = _tiny(0), _tiny(1).requires_grad_(False), _tiny(2)
    gen.streaming = StreamingConfig(sink_chunks=1, window_chunks=1, rope_mode=rope_mode)
    gen.activation_checkpointing = checkpointing
    saved, frozen = [], []
    frozen_init = FrozenBlockKV.__init__

    def init(self, live):
        frozen_init(self, live)
        frozen.append(self)

    def pack(t):
        saved.append(t.numel() * t.element_size())
        return t
    FrozenBlockKV.__init__ = init
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss, metrics = DMDGeneratorLoss(gen, real, critic, DistillSpec(teacher="x"))(
                _dmd_batch(), torch.Generator().manual_seed(seed))
    finally:
        FrozenBlockKV.__init__ = frozen_init
    copies = {t.data_ptr(): t for c in frozen for kv in c.parts for t in kv}
    loss.backward()
    return {"loss": loss.detach(), "grads": [p.grad for p in gen.parameters()], "exit": metrics["exit_step"],
            "kept": sum(saved) + sum(t.numel() * t.element_size() for t in copies.values()), "copies": copies,
            "chunk_tokens": frozen[0].live.cache.chunk_tokens if frozen else None}


@pytest.mark.parametrize("rope_mode", ["absolute", "cache_slot"])
def test_dmd_exit_steps_are_checkpointed_through_the_kv_cache(rope_mode, report):
    """DMD's exit steps run with the KV cache, which activation checkpointing used to skip: the whole rollout's
    activations stayed alive (one H200: 120 GiB for a 1.3B step at 21 frames against 60 planned,
    docs/benchmarks.md). Checkpointed against a copy of what each step saw (``FrozenBlockKV``; by backward the ring
    holds later chunks; one copy per chunk, shared by the steps that attend to it), the loss and every gradient are
    the same, and far less is kept for backward."""
    exits = set()
    for seed in (5, 11):
        plain, ckpt = _dmd_step(rope_mode, seed, False), _dmd_step(rope_mode, seed, True)
        assert plain["exit"] == ckpt["exit"] and torch.equal(plain["loss"], ckpt["loss"])
        for a, b in zip(plain["grads"], ckpt["grads"]):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
        assert ckpt["kept"] < 0.5 * plain["kept"], (plain["kept"], ckpt["kept"])
        # one copy of keys and one of values per block and cached chunk (chunks 0 and 1 of 3)
        assert len(ckpt["copies"]) == 2 * TINY.num_layers * 2
        assert all(t.shape[1] == ckpt["chunk_tokens"] for t in ckpt["copies"].values())
        exits.add(plain["exit"])
        report(f"DMD generator step, {rope_mode}, seed {seed} (exit step {plain['exit']:.0f}): {plain['kept'] / 1e6:.2f} MB "
               f"kept for backward without checkpointing, {ckpt['kept'] / 1e6:.2f} MB with (the cache copies included); "
               "same loss and gradients")
    assert len(exits) == 2, exits   # two different exit steps covered


@pytest.mark.slow
def test_vae_stage_trains_a_loadable_tiny_vae(dataset, tmp_path):
    from realcam.train.stages import train
    from realcam.vae import load_vae

    cfg = load_config(None, ["batch_size=2", "checkpoint_every=20", "optim.lr=2e-3", "vae.encoder_width=8",
                             "vae.decoder_widths=[16, 8, 8, 8]"],
                      stage="vae", data=str(dataset / "scenes"), out=str(tmp_path / "vae"), steps=40)
    hist = train(cfg, progress=False)
    assert hist[-1]["vae/psnr"] > hist[0]["vae/psnr"] + 2
    vae = load_vae(tmp_path / "vae" / "vae.safetensors")
    assert vae.can_encode and vae.model.decoder_widths == (16, 8, 8, 8)
    frames = torch.rand(1, 3, 9, 32, 32)
    assert vae.decode(vae.encode(frames)).shape == (1, 3, 9, 32, 32)


def test_vae_colour_term_penalises_a_grey_reconstruction_of_a_coloured_clip():
    """``vae.chroma_weight``: an L1 on colour alone (RGB minus its grey level). A VAE that returns the
    right brightness in grey pays it; one that keeps the hue does not."""
    from torch import nn

    from realcam.train.config import VAESpec
    from realcam.train.vae import VAELoss

    green = torch.tensor([0.18, 0.23, 0.15]).view(1, 3, 1, 1, 1).expand(1, 3, 5, 16, 16).contiguous()

    class Fixed(nn.Module):   # encoder/decoder stand-in whose output is chosen by the test
        def __init__(self, out):
            super().__init__()
            self.out, self.w = out, nn.Parameter(torch.zeros(()))

        def encode_frames(self, x, state):
            return torch.zeros(1, 4, 2, 2, 2) + self.w

        def decode_latents(self, z, state):
            return self.out + 0 * z.sum()

    grey = green.mean(1, keepdim=True).expand_as(green)
    spec = VAESpec(latent_noise=0.0, stats_weight=0.0, chroma_weight=2.0)
    g = torch.Generator().manual_seed(0)
    loss_grey, logs_grey = VAELoss(Fixed(grey), spec)({"frames": green}, g)
    loss_hue, logs_hue = VAELoss(Fixed(green), spec)({"frames": green}, g)
    expected = (green - grey).abs().mean()      # the hue the grey output lost
    assert logs_grey["chroma_l1"] == pytest.approx(float(expected), rel=1e-5) and logs_hue["chroma_l1"] == 0
    l1 = float((green - grey).abs().mean())
    mse = float((green - grey).square().mean())
    assert float(loss_grey.detach()) == pytest.approx(l1 + mse + 2.0 * float(expected), rel=1e-5)
    assert float(loss_hue.detach()) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("causal", [False, True], ids=["teacher", "causal"])
def test_compiled_training_step_equals_eager(causal, report):
    """`compile: true` (torch.compile of the network, in place) gives the eager loss and gradients to ≤ 1e-4."""
    import time

    from realcam.train.config import CausalSpec, TeacherSpec
    from realcam.train.losses import FlowMatchingLoss

    g = torch.Generator().manual_seed(0)
    batch = {"source": torch.randn(2, 16, 6, 4, 4, generator=g), "target": torch.randn(2, 16, 6, 4, 4, generator=g),
             "context": torch.randn(2, 5, TINY.text_dim, generator=g), "pose12": 0.3 * torch.randn(2, 6, 12, generator=g)}
    spec = {"causal": CausalSpec(chunk=3, sink_choices=[1], window_choices=[1])} if causal else {"teacher": TeacherSpec()}
    results = []
    for compiled in (False, True):
        model = randomize_(RealCamDiT(TINY), seed=5).train()
        if compiled:
            model.compile(dynamic=False)
        t0 = time.perf_counter()
        loss, _ = FlowMatchingLoss(model, **spec)(batch, torch.Generator().manual_seed(1))
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
                        time.perf_counter() - t0))
    (l0, g0, _), (l1, g1, took) = results
    err = max(float((g0[n] - g1[n]).abs().max()) for n in g0)
    report(f"{'causal' if causal else 'teacher'} step compiled vs eager: |Δloss| {float((l0 - l1).abs()):.2e}, "
           f"max |Δgrad| {err:.2e} (compile {took:.0f} s on CPU)")
    assert g0.keys() == g1.keys() and float((l0 - l1).abs()) <= 1e-4 and err <= 1e-4


def test_bf16_autocast_drift_of_a_training_step(report):
    """`bf16: true` (autocast) against fp32 on the same weights and batch, tiny size on CPU: the drift of the
    loss and of the gradients, printed (the GPU figure at real size comes from scripts/gpu_bench.sh)."""
    from realcam.train.config import TeacherSpec
    from realcam.train.losses import FlowMatchingLoss

    g = torch.Generator().manual_seed(0)
    batch = {"source": torch.randn(2, 16, 6, 4, 4, generator=g), "target": torch.randn(2, 16, 6, 4, 4, generator=g),
             "context": torch.randn(2, 5, TINY.text_dim, generator=g), "pose12": 0.3 * torch.randn(2, 6, 12, generator=g)}
    out = {}
    for bf16 in (False, True):
        model = randomize_(RealCamDiT(TINY), seed=5).train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = FlowMatchingLoss(model, teacher=TeacherSpec())(batch, torch.Generator().manual_seed(1))
        loss.backward()
        out[bf16] = (float(loss), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    (l32, g32), (l16, g16) = out[False], out[True]
    loss_drift, grad_drift = abs(l16 - l32) / abs(l32), float((g16 - g32).norm() / g32.norm())
    cos = float(torch.nn.functional.cosine_similarity(g16, g32, dim=0))
    report(f"bf16 autocast vs fp32, one teacher step (tiny, CPU): loss rel. drift {loss_drift:.1e}, gradient rel. L2 "
           f"{grad_drift:.1e} (cosine {cos:.5f})")
    assert loss_drift < 0.05 and cos > 0.99


def test_learning_rate_schedules():
    from realcam.train.config import OptimSpec
    from realcam.train.loop import _lr

    const = OptimSpec(lr=1e-3, warmup_steps=10)
    assert _lr(const, 0, 100) == pytest.approx(1e-4) and _lr(const, 50, 100) == 1e-3
    cos = OptimSpec(lr=1e-3, warmup_steps=10, schedule="cosine", min_lr_ratio=0.1)
    lrs = [_lr(cos, s, 100) for s in range(100)]
    assert lrs[9] == pytest.approx(1e-3) and lrs[10] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))                       # decays monotonically after warm-up
    with pytest.raises(ValueError, match="optim.schedule"):
        load_config(None, ["optim.schedule=step"], data="x")


def test_source_warp_trains_through_every_stage_from_a_teacher_without_it(dataset, tmp_path):
    """``model.conditioning_overrides.source_warp`` on a teacher file that lacks it: the teacher stage starts from the
    file's weights with a zero guide embedding and trains it; the causal initialisation and DMD read the option from
    the checkpoints they start from, and every saved file carries it."""
    from realcam.train.stages import train
    from realcam.weights import load_dit, save_realcam_checkpoint

    cond = ConditioningConfig(camera_tokens="rays", rope_positions="rays", source_cameras=True)
    torch.manual_seed(7)
    plain = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), 7).float()
    save_realcam_checkpoint(plain, tmp_path / "plain.safetensors")
    overrides = 'model.conditioning_overrides={"camera_tokens": "rays", "rope_positions": "rays", "source_cameras": true, ' \
                '"source_warp": [2.0, 100000.0]}'
    common = dict(data=str(dataset / "latents"), steps=2)
    teacher = load_config(None, [overrides, f"model.init={tmp_path / 'plain.safetensors'}", "model.trainable=all",
                                 "source_camera_dropout=0.5"], stage="teacher", out=str(tmp_path / "t"), **common)
    train(teacher, progress=False)
    warped = load_dit(tmp_path / "t" / "teacher.safetensors")
    assert warped.conditioning.source_warp == (2.0, 100000.0)
    assert warped.guide_embedding.weight.abs().sum() > 0           # it started at zero and trained
    torch.testing.assert_close(warped.blocks[0].cam_encoder.weight, plain.blocks[0].cam_encoder.weight, atol=0.05, rtol=0)
    causal = load_config(None, [f"model.init={tmp_path / 't' / 'teacher.safetensors'}", "causal.chunk=2"],
                         stage="causal", out=str(tmp_path / "c"), **common)
    train(causal, progress=False)
    distill = load_config(None, [f"model.init={tmp_path / 'c' / 'student.safetensors'}", "distill.generator_every=1",
                                 f"distill.teacher={tmp_path / 't' / 'teacher.safetensors'}"],
                          stage="distill", out=str(tmp_path / "d"), **common)
    train(distill, progress=False)
    for path in (tmp_path / "c" / "student.safetensors", tmp_path / "d" / "generator.safetensors"):
        assert load_dit(path).conditioning.source_warp == (2.0, 100000.0)


def test_lr_scale_multiplies_the_learning_rate_of_the_parameters_it_names(dataset, tmp_path):
    """``optim.lr_scale`` (e.g. a zero-initialised guide embedding learning faster than the weights it joins): the
    named parameters take Adam's first step at the multiplied rate, the others exactly as without it, and a run
    stopped and resumed keeps the multipliers (the same weights as the run without a stop)."""
    from realcam.train.stages import train
    from realcam.weights import load_dit, save_realcam_checkpoint

    cond = ConditioningConfig(camera_tokens="rays", rope_positions="rays", source_cameras=True, source_warp=(4.0,))
    torch.manual_seed(3)
    start = randomize_(RealCamDiT(TINY, camera_layers=True, conditioning=cond), 3).float()
    save_realcam_checkpoint(start, tmp_path / "start.safetensors")

    def run(out, steps, *extra, until=None):
        cfg = load_config(None, [f"model.init={tmp_path / 'start.safetensors'}", "model.trainable=all", "batch_size=2",
                                 "optim.weight_decay=0", "optim.warmup_steps=0", "optim.lr=0.001", *extra],
                          stage="teacher", data=str(dataset / "latents"), out=str(tmp_path / out), steps=steps)
        train(cfg, progress=False, until=until)
        return load_dit(tmp_path / out / "teacher.safetensors", dtype=torch.float32).state_dict()

    scale = 'optim.lr_scale={"guide_embedding.": 10}'
    plain, scaled = run("plain", 1), run("scaled", 1, scale)
    before = start.state_dict()
    for k in before:
        moved_plain, moved_scaled = plain[k] - before[k], scaled[k] - before[k]
        if k.startswith("guide_embedding."):    # Adam's first step: lr · g / (|g| + eps), so 10× the move
            torch.testing.assert_close(moved_scaled, 10 * moved_plain, rtol=1e-3, atol=1e-7)
            assert moved_plain.abs().max() > 5e-4
        else:
            torch.testing.assert_close(moved_scaled, moved_plain, rtol=0, atol=0)
    full = run("full", 3, scale)
    run("split", 3, scale, "checkpoint_every=1", until=1)
    split = run("split", 3, scale, "checkpoint_every=1")
    assert all(torch.equal(split[k], full[k]) for k in full)
    with pytest.raises(ValueError, match=r"split was trained with \{'guide_embedding\.': 10\}"):  # other groups
        run("split", 4, 'optim.lr_scale={"guide_embedding.": 3}')
    for bad, message in (('{"guide_embedding.": 0}', "optim.lr_scale"), ('{"guide_embedding.": true}', "optim.lr_scale"),
                         ('[10]', "optim.lr_scale"), ('{"": 2}', "optim.lr_scale")):
        with pytest.raises(ValueError, match=message):
            load_config(None, [f"optim.lr_scale={bad}"], data="x")
    with pytest.raises(ValueError, match=r"optim.lr_scale: no trainable parameter of teacher starts with \['guide\.'\]"):
        run("typo", 1, 'optim.lr_scale={"guide.": 10}')
