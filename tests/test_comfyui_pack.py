"""The node pack inside a real ComfyUI 0.3.75 (in-process)."""
from __future__ import annotations

import pytest
import torch

from realcam.weights import save_realcam_checkpoint

pytestmark = pytest.mark.comfyui


def test_pack_registers_nodes_with_tooltips(comfy_runtime):
    nodes = comfy_runtime.nodes
    assert "RealCamModelLoader" in nodes.NODE_CLASS_MAPPINGS
    cls = nodes.NODE_CLASS_MAPPINGS["RealCamModelLoader"]
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS.get("RealCamModelLoader") == "RealCam Model Loader"
    assert tuple(cls.RETURN_TYPES) == ("REALCAM_MODEL",)
    ours = {k: v for k, v in nodes.NODE_CLASS_MAPPINGS.items() if k.startswith("RealCam")}
    assert len(ours) == 8
    for node_name, node_cls in ours.items():
        spec = node_cls.INPUT_TYPES()
        for group in ("required", "optional"):
            for name, (kind, *opts) in spec.get(group, {}).items():
                assert opts and opts[0].get("tooltip"), f"{node_name}.{name} has no tooltip"


def test_loader_node_loads_a_checkpoint_and_reports_errors(comfy_runtime, tiny_model):
    import folder_paths

    dm = comfy_runtime.models / "diffusion_models"
    save_realcam_checkpoint(tiny_model, dm / "realcam_tiny.safetensors")
    torch.save({"x": torch.zeros(1)}, dm / "not_a_model.pt")
    assert "realcam_tiny.safetensors" in folder_paths.get_filename_list("diffusion_models")
    cls = comfy_runtime.nodes.NODE_CLASS_MAPPINGS["RealCamModelLoader"]
    out = cls.execute(model_name="realcam_tiny.safetensors", dtype="default", fp8="keep", attention="sdpa",
                      conditioning="prefix")
    model = out.result[0]
    assert model.conditioning.mode == "prefix" and model.attention_backend == "sdpa"
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in tiny_model.state_dict().items())
    from realcam.weights import WeightsError
    with pytest.raises(WeightsError, match="not a Wan DiT checkpoint"):
        cls.execute(model_name="not_a_model.pt", dtype="default", fp8="keep", attention="auto", conditioning="from file")


def test_trajectory_node_outputs_path_and_preview(comfy_runtime):
    import json

    cls = comfy_runtime.nodes.NODE_CLASS_MAPPINGS["RealCamCameraTrajectory"]
    doc = json.dumps({"version": 1, "type": "preset", "frames": 9, "preset": {"name": "cam09"}})
    traj, preview = cls.execute(trajectory=doc, frames=81, fps=16.0).result
    assert traj.frames == 81 and abs(float(traj.c2w[80, 0, 3]) + 1.9876) < 1e-3   # the node's frame count wins
    assert preview.shape == (1, 256, 512, 3) and float(preview.std()) > 0.01
    from realcam.camera.trajectory_json import TrajectoryJSONError
    with pytest.raises(TrajectoryJSONError, match=r"trajectory.preset.name"):
        cls.execute(trajectory=doc.replace("cam09", "cam99"), frames=9, fps=16.0)
