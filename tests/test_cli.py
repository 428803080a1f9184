"""The command line, run as users run it."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from realcam.weights import save_realcam_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "realcam", *args], capture_output=True, text=True)


def test_models_lists_real_sizes():
    out = _cli("models")
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("wan2.1-t2v-1.3b"))
    assert "1419.0M" in line  # Wan2.1 1.3B has 1.419B parameters
    assert "4999.8M" in out.stdout  # Wan2.2 TI2V 5B


def test_inspect_file_and_error(tmp_path, tiny_model):
    path = save_realcam_checkpoint(tiny_model, tmp_path / "rc.safetensors")
    out = _cli("inspect", str(path))
    assert out.returncode == 0, out.stderr
    assert "format:        realcam" in out.stdout and "use the wan2.1 VAE" in out.stdout
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    out = _cli("inspect", str(bad))
    assert out.returncode == 2 and "not a readable safetensors file" in out.stderr


def test_bench_runs_on_cpu():
    out = _cli("bench", "--config", "tiny", "--chunks", "4", "--text-tokens", "16")
    assert out.returncode == 0, out.stderr
    assert "ms/chunk" in out.stdout and "video frames/s" in out.stdout and "GFLOP/chunk" in out.stdout
    rows = [l for l in out.stdout.splitlines() if l.strip() and l.split()[0].isdigit()]
    assert len(rows) == 4
    peaks = [float(l.split()[-1]) for l in rows]       # max |output| per chunk: the model computes numbers, not NaN
    assert all(math.isfinite(p) and p > 0 for p in peaks), rows


def test_bench_refuses_non_finite_outputs(monkeypatch):
    """Timings of NaN arithmetic are meaningless (and slow: denormals): the bench stops and says why."""
    from realcam.bench import run_benchmark
    from realcam.config import StreamingConfig, get_config
    from realcam.model import RealCamDiT

    monkeypatch.setattr(RealCamDiT, "init_weights", lambda self: [p.data.fill_(float("nan")) for p in self.parameters()])
    with pytest.raises(RuntimeError, match="non-finite"):
        run_benchmark(get_config("tiny"), height=64, width=64, chunks=2, streaming=StreamingConfig(), text_tokens=4,
                      print_fn=lambda *a: None)


def test_flop_estimate_matches_a_hand_count():
    from realcam.bench import forward_flops
    from realcam.config import get_config

    cfg = get_config("wan2.1-t2v-1.3b")
    f = forward_flops(cfg, q_tokens=1560 * 6, kv_tokens=1560 * 6 * 7, text_tokens=512)
    d, n, L = 1536, 1560 * 6, 30
    assert f.attention == pytest.approx(2 * L * 2 * n * d * (1560 * 6 * 7 + 512))
    # per token and block: self q,k,v,o + cross q,o + projector = 7·d² MACs, FFN 2·d·ffn MACs (~24.7 TFLOP here)
    blocks = 2 * L * n * (7 * d * d + 2 * d * 8960)
    assert blocks <= f.linear <= 1.01 * blocks


def test_gpu_bench_keeps_the_plan_beside_a_step_that_ran_out_of_memory(monkeypatch):
    """The H200 run's 1.3B DMD row lost its planned figure when the step ran out of memory; it keeps it now."""
    import torch

    from realcam import gpu_bench

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 160.00 MiB.")
    monkeypatch.setattr(gpu_bench, "_train_step", oom)
    row = gpu_bench.train_case(gpu_bench.Case("tiny", 64, 64), "distill", gpu_bench._Device("cpu"), latent=(6, 4, 4),
                               text_tokens=16)
    assert row["planned_gib"] > 0 and row["note"].startswith("out of memory: CUDA out of memory")
    assert "step_s" not in row


def test_gpu_tiny_steps_times_every_stage_of_the_embedded_chain(tmp_path, report):
    """scripts/gpu_tiny_steps.sh (the tiny chain's step times, docs/benchmarks.md) on one procedural scene, CPU."""
    import time

    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    vae = ROOT / "realcam" / "assets" / "world_v2" / "vae.safetensors"
    for args in (["synth", "--out", tmp_path / "scenes", "--scenes", "1", "--cameras", "4", "--frames", "33", "--size", "64",
                  "--trajectories", "random", "--seed", "2", "--world", "v2", "--shared-start", "3"],
                 ["preprocess", "--data", tmp_path / "scenes", "--vae", vae, "--out", tmp_path / "latents", "--frames", "33"],
                 ["pixel-guides", "--latents", tmp_path / "latents", "--vae", vae, "--depth", "4", "--fov", "60"]):
        made = subprocess.run([sys.executable, "-m", "realcam", *map(str, args)], capture_output=True, text=True, timeout=300,
                              env=env, cwd=ROOT)
        assert made.returncode == 0, made.stderr[-2000:]
    t0 = time.perf_counter()
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_steps.sh"), str(tmp_path / "latents"), "6", "2"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert [line.split(" batch")[0] for line in lines[:3]] == ["teacher", "causal_init", "dmd"]
    assert all(line.endswith("ms/step") and int(line.split(": ")[1].split()[0]) > 0 for line in lines[:3])
    assert "cpu" in lines[3]
    report(f"gpu_tiny_steps.sh on CPU, batch 2: {'; '.join(lines[:3])} ({time.perf_counter() - t0:.0f} s)")
    bad = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_steps.sh"), str(tmp_path / "latents"), "6", "0"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert bad.returncode != 0 and "batch_size" in bad.stdout


def test_gpu_tiny_chain_makes_its_data_and_trains_both_chains(tmp_path, report):
    """scripts/gpu_tiny_chain.sh (the longer student run of docs/results.md) on CPU at tiny size: its data made by
    synth-latents, the long chain and the matched control both trained, only weights, logs and a summary in OUT (a
    device run brings back 8 files); a budget too small for a stage stops the script with a message; and with a
    teacher stage, the embedded teacher trained on the same data keeps every setting it carries; with FRESH, a teacher
    of another shape is trained from the start and its student chain from it."""
    import time

    import torch
    from safetensors import safe_open

    from realcam.weights import load_dit

    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "GATE_STEPS": "2"}
    out = tmp_path / "out"
    t0 = time.perf_counter()
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(out), "1", "3", "2", "900"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "control_causal.safetensors", "control_student.safetensors", "long_causal.jsonl",
        "long_causal.safetensors", "long_distill.jsonl", "long_student.safetensors", "summary.txt"]
    summary = (out / "summary.txt").read_text()
    assert "causal initialisation 3 steps" in summary and "DMD 2 steps" in summary and "device: cpu" in summary
    # each student's guide gate re-taught after its DMD (GATE_STEPS steps)
    assert summary.count("the student's gate re-taught 2 steps") == 2
    assert len((out / "long_causal.jsonl").read_text().splitlines()) == 3
    student = load_dit(out / "long_student.safetensors")
    assert student.conditioning.pixel_guide_depth == 4.0 and student.conditioning.pixel_guide_skip
    report(f"gpu_tiny_chain.sh on CPU, 1 scene, 3 + 2 steps, both chains: {time.perf_counter() - t0:.0f} s")
    short = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(tmp_path / "short"), "1", "3", "2",
                            "1"], capture_output=True, text=True, timeout=300, env=env)
    assert short.returncode != 0 and "long: no time left for the causal initialisation" in short.stdout
    # with a teacher stage: the embedded teacher trained on the same data with its own settings, and DMD of the long
    # causal initialisation from it, in place of the control (8 files: what a device run brings back)
    out = tmp_path / "teacher"
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(out), "1", "3", "2", "900", "3"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "long_causal.jsonl", "long_causal.safetensors", "long_distill.jsonl", "long_student.safetensors", "summary.txt",
        "teacher.jsonl", "teacher.safetensors", "teacher_student.safetensors"]
    summary = (out / "summary.txt").read_text()
    assert "teacher: 3 steps" in summary and "teacher_student: DMD 2 steps" in summary
    assert summary.count("the student's gate re-taught 2 steps") == 2
    embedded, teacher = (safe_open(p, "pt").metadata() for p in (ROOT / "realcam/assets/world_v2/teacher.safetensors",
                                                                   out / "teacher.safetensors"))
    assert teacher == embedded      # every setting the embedded teacher carries, its sweep included
    assert load_dit(out / "teacher_student.safetensors").conditioning == load_dit(out / "long_student.safetensors").conditioning
    # FRESH: a teacher of another shape (here patch 1, and 2 blocks to be quick) trained from the start with the
    # embedded teacher's settings and depth network, its steps fitted after a probe, then its own student chain (7 files)
    fresh = {**env, "FRESH": "patch_size=[1,1,1] num_layers=2", "FRESH_BATCH": "2", "FRESH_PROBE": "2",
             "FRESH_STEPS": "2"}
    out = tmp_path / "fresh"
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(out), "1", "2", "1", "900"],
                         capture_output=True, text=True, timeout=600, env=fresh)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "fresh_causal.jsonl", "fresh_causal.safetensors", "fresh_distill.jsonl", "fresh_student.safetensors",
        "fresh_teacher.jsonl", "fresh_teacher.safetensors", "summary.txt"]
    summary = (out / "summary.txt").read_text()
    assert "2-step probe" in summary and "fresh teacher: 2 steps" in summary and "DMD 1 steps" in summary
    assert "the student's gate re-taught 2 steps" in summary
    embedded = load_dit(ROOT / "realcam/assets/world_v2/teacher.safetensors")
    for name in ("fresh_teacher", "fresh_student"):
        model = load_dit(out / f"{name}.safetensors")
        assert model.cfg == embedded.cfg.replace(patch_size=(1, 1, 1), num_layers=2)
        assert model.conditioning == embedded.conditioning
        assert all(torch.equal(v, embedded.depth_net.state_dict()[k]) for k, v in model.depth_net.state_dict().items())
    assert not torch.equal(load_dit(out / "fresh_teacher.safetensors").blocks[0].ffn[0].weight,
                           embedded.blocks[0].ffn[0].weight)
    both = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(tmp_path / "both"), "1", "2", "1",
                           "900", "3"], capture_output=True, text=True, timeout=60, env=fresh)
    assert both.returncode == 2 and "give one of them" in both.stderr
    # TEACHER_FILE: the chains start from that teacher (here a fresh one of 2 blocks at patch 2, quick on the CPU) and
    # distil against it
    two = subprocess.run([sys.executable, "-m", "realcam", "fresh-model", "--like", str(out / "fresh_teacher.safetensors"),
                          "--set", "patch_size=[1,2,2]", "--out", str(tmp_path / "two.safetensors")],
                         capture_output=True, text=True, timeout=120)
    assert two.returncode == 0, two.stderr
    given = {**env, "TEACHER_FILE": str(tmp_path / "two.safetensors")}
    out = tmp_path / "given"
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(out), "1", "2", "1", "900"],
                         capture_output=True, text=True, timeout=600, env=given)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for name in ("long_student", "control_student"):
        assert load_dit(out / f"{name}.safetensors").cfg.num_layers == 2
    for extra, why in (({"TEACHER_FILE": str(tmp_path / "none.safetensors")}, "no such file"),
                       ({"FRESH": "dim=256"}, "leave FRESH and TEACHER_STEPS out")):
        bad = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_tiny_chain.sh"), str(tmp_path / "bad"), "1", "2", "1",
                              "900"], capture_output=True, text=True, timeout=60, env={**given, **extra})
        assert bad.returncode == 2 and why in bad.stderr and not (tmp_path / "bad").exists()


def test_gpu_bench_smoke_runs_end_to_end(tmp_path, report):
    """scripts/gpu_bench.sh --smoke: the device benchmark's code at tiny size on CPU, every table row filled."""
    import json
    import time

    from realcam.gpu_bench import REPORT

    out = tmp_path / "bench"
    t0 = time.perf_counter()
    run = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_bench.sh"), "--smoke", "--quiet", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHON": sys.executable})
    took = time.perf_counter() - t0
    assert run.returncode == 0, run.stderr[-3000:]
    text = (out / f"{REPORT}.md").read_text()
    figures = json.loads((out / f"{REPORT}.json").read_text())
    assert "Smoke run" in text and "not GPU figures" in text
    assert [r["model"] for r in figures["streaming"]] == ["tiny", "tiny-2.2"]
    assert [(r["model"], r["stage"]) for r in figures["training"]] == [
        (m, s) for m in ("tiny", "tiny-2.2") for s in ("teacher", "causal", "distill")]
    assert all(r["step_s"] > 0 and r["planned_gib"] > 0 for r in figures["training"])
    for r in figures["streaming"]:
        # both decoders timed; which is faster is a device figure: at tiny size on a loaded CPU the order can flip
        assert r["steady_ms_per_chunk"] > 0 and r["fps_full_vae"] > 0 and r["fps_tiny_decoder"] > 0
    assert 0 < figures["drift"][0]["rel_l2"] < 0.05
    report(f"gpu_bench.sh --smoke: {took:.0f} s on CPU; bf16 vs fp32 drift at tiny size {figures['drift'][0]['rel_l2']:.1e} "
           "(relative L2, one chunk)")
