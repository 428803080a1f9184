"""The command line, run as users run it."""
from __future__ import annotations

import subprocess
import sys

from realcam.weights import save_realcam_checkpoint


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
