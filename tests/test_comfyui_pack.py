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
    assert len(ours) == 9
    assert all("video to video" in c.GET_SCHEMA().description for c in ours.values())   # found by node search
    loader = ours["RealCamModelLoader"].INPUT_TYPES()["required"]["model_name"]
    options = loader[0] if isinstance(loader[0], list) else loader[1]["options"]
    assert options[0] == "realcam-tiny student (embedded)"                             # no download needed
    for node_name, node_cls in ours.items():
        spec = node_cls.INPUT_TYPES()
        for group in ("required", "optional"):
            for name, (_, *opts) in spec.get(group, {}).items():
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


def test_video_encode_node_refuses_pixels_outside_0_1(comfy_runtime):
    """Stock ComfyUI nodes only make IMAGE batches in [0, 1]; custom loaders can hand over 0..255 or −1..1, which
    used to be encoded as if in [0, 1]. The node says what to do instead."""
    _, _, _, _, vae = _render_parts()
    cls = comfy_runtime.nodes.NODE_CLASS_MAPPINGS["RealCamVideoEncode"]
    video = torch.rand(9, 32, 32, 3, generator=torch.Generator().manual_seed(1))
    for bad, hint in ((video * 255, "255"), (video * 2 - 1, r"\(x \+ 1\) / 2")):
        with pytest.raises(ValueError, match=hint):
            cls.execute(vae=vae, images=bad, fps=16.0, frame_policy="trim", size_policy="crop")
    source, notes = cls.execute(vae=vae, images=video, fps=16.0, frame_policy="trim", size_policy="crop").result
    assert source.video_frames == 9 and notes == "no changes"


def _render_parts():
    from realcam.camera.presets import preset_trajectory
    from realcam.config import StreamingConfig, TINY, TeacherSamplingConfig
    from realcam.model import RealCamDiT
    from realcam.pipeline import encode_video, text_context
    from realcam.vae import VideoVAE, Wan21VAEConfig, WanVAE21
    from tests.conftest import randomize_
    from tests.test_vae import _randomize

    vae = VideoVAE(_randomize(WanVAE21(Wan21VAEConfig(dim=8, z_dim=16)), 1), "wan2.1")
    model = randomize_(RealCamDiT(TINY), seed=3).eval()
    model.streaming = StreamingConfig(sink_chunks=1, window_chunks=2, shift=3.0, denoising_steps=(1000.0, 500.0))
    model.sampling = TeacherSamplingConfig(steps=3, shift=3.0, guidance=1.0, solver="euler", grid="diffsynth")
    video = torch.rand(25, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    source = encode_video(vae, video)
    return model, source, preset_trajectory("pan_left", 25), text_context(model), vae


def test_sampler_nodes_use_the_checkpoints_settings_unless_overridden(comfy_runtime, report):
    """Widgets left at 'from model' take what the checkpoint carries (the embedded student: shift 3, window 2);
    a widget the user sets overrides that one setting. Before the fix the streaming node's widgets (shift 5,
    window 5) silently replaced the checkpoint's, and the teacher's shift lived in a side README.json."""
    from realcam.pipeline import render_stream, render_teacher

    model, source, traj, text, vae = _render_parts()
    nodes = comfy_runtime.nodes.NODE_CLASS_MAPPINGS
    stream = nodes["RealCamStreamingSampler"]
    defaults = dict(steps="", chunk=0, sink=-1, window=-1, shift=0.0, context_noise=-1.0, rope="from model", seed=4)
    images, latents = stream.execute(model, source, traj, text, vae, **defaults).result
    want = render_stream(model, source, traj, text, config=model.streaming, seed=4)
    old_widgets = render_stream(model, source, traj, text, config=model.streaming.override(shift=5.0, window_chunks=5,
                                denoising_steps=(1000.0, 750.0, 500.0)), seed=4)
    assert torch.equal(latents.latents, want.latents.cpu())
    gap = float((want.latents - old_widgets.latents).abs().max())
    report(f"streaming node with 'from model' widgets equals the checkpoint's settings exactly; the old widget "
           f"defaults differ by {gap:.3f} (max |latent|)")
    assert gap > 1e-3
    _, shifted = stream.execute(model, source, traj, text, vae, **{**defaults, "shift": 5.0}).result
    assert torch.equal(shifted.latents,
                       render_stream(model, source, traj, text, config=model.streaming.override(shift=5.0), seed=4).latents)
    teacher = nodes["RealCamTeacherSampler"]
    (out,) = teacher.execute(model, source, traj, text, steps=0, cfg=0.0, shift=0.0, scheduler="from model", seed=1,
                             grid="from model").result
    assert torch.equal(out.latents, render_teacher(model, source, traj, text, seed=1).cpu())
    (euler8,) = teacher.execute(model, source, traj, text, steps=0, cfg=0.0, shift=8.0, scheduler="from model", seed=1,
                                grid="from model").result
    assert torch.equal(euler8.latents, render_teacher(model, source, traj, text, shift=8.0, seed=1).cpu())
    assert not torch.equal(euler8.latents, out.latents)


def test_the_example_chain_renders_the_demo_case_with_the_sources_path(comfy_runtime, report):
    """The zero-download example's nodes, run as its workflow wires them, make exactly the demo's student render:
    held-out scene 0 of the embedded model's world, the demo's preset at its benchmark amplitude, and the source's own
    path passed through the Procedural Clip's ``source_camera``. Before the fix the clip carried no path, so the nodes
    could only render the case without it."""
    import json

    from realcam.demo import DEMO_PRESET, load_tiny, make_case, run_student
    from realcam.metrics import psnr
    from tests.workflow_env import ROOT, load_workflow

    wf = load_workflow(ROOT / "workflows" / "realcam_tiny.api.json")
    nodes = comfy_runtime.nodes.NODE_CLASS_MAPPINGS
    embedded = load_tiny()
    clip_in = wf["1"]["inputs"]
    assert clip_in["world"] == embedded.world and wf["10"]["inputs"]["source_camera"] == ["1", 2]
    images, fps, source_camera = nodes["RealCamProceduralClip"].execute(**clip_in).result
    case = make_case(clip_in["scene"], DEMO_PRESET, world=embedded.world, amplitude=embedded.amplitude)
    assert torch.equal(images, case.source) and torch.equal(source_camera.c2w, case.source_trajectory.c2w)
    (vae,) = nodes["RealCamVAELoader"].execute(**wf["4"]["inputs"]).result
    (model,) = nodes["RealCamModelLoader"].execute(**wf["3"]["inputs"]).result
    source, _ = nodes["RealCamVideoEncode"].execute(vae=vae, images=images, fps=fps,
                                                    **{k: wf["5"]["inputs"][k] for k in ("frame_policy", "size_policy")}).result
    doc = wf["6"]["inputs"]["trajectory"]
    assert json.loads(doc)["preset"]["name"] == DEMO_PRESET
    traj, _ = nodes["RealCamCameraTrajectory"].execute(trajectory=doc, frames=images.shape[0], fps=fps).result
    (text,) = nodes["RealCamText"].execute(model=model).result
    widgets = {k: v for k, v in wf["10"]["inputs"].items() if not isinstance(v, list)}
    stream = nodes["RealCamStreamingSampler"]
    known, _ = stream.execute(model, source, traj, text, vae, **widgets, source_camera=source_camera).result
    unknown, _ = stream.execute(model, source, traj, text, vae, **widgets).result
    demo = run_student(embedded, case).frames
    assert torch.equal(known[:case.source.shape[0]], demo)
    gain = psnr(known.clamp(0, 1), case.target) - psnr(unknown.clamp(0, 1), case.target)
    report(f"example chain = the demo's student render exactly; knowing the source's path: {gain:+.2f} dB on its case")
    assert not torch.equal(known, unknown)
