"""Camera conventions, presets, splines, trajectory JSON and preview."""
from __future__ import annotations

import json
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from realcam.camera import (from_opengl, from_unreal_rows, from_w2c, look_at, relative_poses,
                            rotation_from_ypr, to_opengl, ypr_from_rotation)
from realcam.camera.poses import PoseError
from realcam.camera.presets import PRESETS, preset_trajectory
from realcam.camera.preview import render_preview
from realcam.camera.spline import Keyframe, spline_trajectory
from realcam.camera.trajectory_json import (TrajectoryJSONError, parse_trajectory, poses_json, read_camera_extrinsics,
                                            trajectory_from_json, write_camera_extrinsics)

angles = st.floats(-179, 179)
pitches = st.floats(-85, 85)
coords = st.floats(-20, 20)


def _is_rotation(c2w: torch.Tensor, tol=1e-9) -> bool:
    r = c2w[:, :3, :3]
    eye = torch.eye(3, dtype=r.dtype)
    return bool(((r.transpose(1, 2) @ r - eye).abs().max() < tol) and ((torch.linalg.det(r) - 1).abs().max() < tol))


def _angle_deg(r: torch.Tensor) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, (float(r.trace()) - 1) / 2))))


# --- conventions -------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(angles, pitches, angles, coords, coords, coords)
def test_convention_round_trips(yaw, pitch, roll, x, y, z):
    c2w = torch.eye(4, dtype=torch.float64)[None].clone()
    c2w[0, :3, :3] = rotation_from_ypr(yaw, pitch, roll)[0]
    c2w[0, :3, 3] = torch.tensor([x, y, z], dtype=torch.float64)
    assert torch.allclose(ypr_from_rotation(c2w[:, :3, :3])[0], torch.tensor([yaw, pitch, roll], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(from_opengl(to_opengl(c2w)), c2w, atol=1e-12)
    assert torch.allclose(from_w2c(torch.linalg.inv(c2w)), c2w, atol=1e-9)
    back = read_camera_extrinsics(write_camera_extrinsics({"cam01": c2w}), "cam01")
    assert torch.allclose(back, c2w, atol=1e-6)


def test_axis_meanings():
    # yaw turns the optical axis (+z) towards +x (right), pitch towards -y (up in OpenCV)
    assert rotation_from_ypr(90, 0, 0)[0, :, 2].tolist() == pytest.approx([1, 0, 0], abs=1e-12)
    assert rotation_from_ypr(0, 90, 0)[0, :, 2].tolist() == pytest.approx([0, -1, 0], abs=1e-12)
    # OpenGL camera looks down its -z: the OpenCV optical axis is its -z column
    gl = torch.eye(4, dtype=torch.float64)[None]
    assert from_opengl(gl)[0, :3, 2].tolist() == [0, 0, -1]
    cam = look_at(torch.tensor([[1.0, -1.0, 0.0]]), torch.tensor([1.0, -1.0, 5.0]))
    assert torch.allclose(cam[0, :3, :3], torch.eye(3, dtype=torch.float64))


def test_unreal_rows_follow_recammaster_convention():
    """A camera yawing right in Unreal (x forward, y right, z up; cm) is a pan right in OpenCV, relative to frame 0."""
    rows = []
    for deg, (px, py, pz) in ((0, (0, 0, 0)), (20, (100, 0, 0)), (-10, (0, 50, 200))):
        a = math.radians(deg)
        f, r, u = (math.cos(a), math.sin(a), 0), (-math.sin(a), math.cos(a), 0), (0, 0, 1)
        rows.append([[*f, 0], [*r, 0], [*u, 0], [px, py, pz, 1]])
    c2w = from_unreal_rows(torch.tensor(rows, dtype=torch.float64))
    rel = relative_poses(c2w)
    assert rel[1, :3, 2].tolist() == pytest.approx([math.sin(math.radians(20)), 0, math.cos(math.radians(20))], abs=1e-9)
    assert rel[1, :3, 3].tolist() == pytest.approx([0, 0, 1.0], abs=1e-9)       # 1 m forward
    assert rel[2, :3, 3].tolist() == pytest.approx([0.5, -2.0, 0.0], abs=1e-9)  # 0.5 m right, 2 m up
    # and ReCamMaster's own recipe (transpose, columns [1,2,0,3], negate column 1, /100) gives the same relative poses
    m = torch.tensor(rows, dtype=torch.float64).transpose(1, 2)[:, :, [1, 2, 0, 3]].clone()
    m[:, :, 1] *= -1
    m[:, :3, 3] /= 100
    assert torch.allclose(torch.linalg.inv(m[0]) @ m, rel, atol=1e-9)


# --- presets ----------------------------------------------------------------------------------------------------

RECAMMASTER_END = {  # video frame 80 of 81 (docs/method.md, "Cameras"): translation (m), rotation angle (deg), axis check
    "cam01": ((0, 0, 0), 19.876, lambda r: r[0, 2] > 0), "cam02": ((0, 0, 0), 19.876, lambda r: r[0, 2] < 0),
    "cam03": ((0, 0, 0), 9.938, lambda r: r[1, 2] < 0), "cam04": ((0, 0, 0), 9.938, lambda r: r[1, 2] > 0),
    "cam05": ((0, 0, 1.9876), 0.0, None), "cam06": ((0, 0, -1.9876), 0.0, None),
    "cam07": ((0, -0.9938, 0), 13.952, lambda r: r[1, 2] > 0), "cam08": ((0, 0.9938, 0), 13.952, lambda r: r[1, 2] < 0),
    "cam09": ((-1.9876, 0, 0.5326), 29.822, lambda r: r[0, 2] > 0), "cam10": ((1.9876, 0, 0.5326), 29.822, lambda r: r[0, 2] < 0),
}


@pytest.mark.parametrize("cam", sorted(RECAMMASTER_END))
def test_recammaster_presets_match_reference(cam):
    traj = preset_trajectory(cam, 81)
    t, deg, axis = RECAMMASTER_END[cam]
    end = traj.c2w[80]
    assert torch.allclose(traj.c2w[0], torch.eye(4, dtype=torch.float64))
    assert (end[:3, 3] - torch.tensor(t, dtype=torch.float64)).abs().max() < 1e-3        # 1 mm
    assert abs(_angle_deg(end[:3, :3]) - deg) < 0.1                                       # 0.1 degree
    if axis is not None:
        assert axis(end[:3, :3])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_any_length_and_loop_closed(name):
    for frames in (17, 81, 177):
        traj = preset_trajectory(name, frames)
        assert traj.frames == frames and _is_rotation(traj.c2w)
    loop = preset_trajectory(name, 97, loop=True, easing="ease_in_out")
    assert torch.allclose(loop.c2w[-1], loop.c2w[0], atol=1e-9)


def test_amplitude_speed_easing():
    base = preset_trajectory("zoom_in", 81)
    double = preset_trajectory("zoom_in", 81, amplitude=2)
    assert torch.allclose(double.c2w[:, 2, 3], 2 * base.c2w[:, 2, 3])
    fast = preset_trajectory("zoom_in", 81, speed=2)
    assert float(fast.c2w[40, 2, 3]) == pytest.approx(float(base.c2w[80, 2, 3]), abs=1e-9)   # twice as fast
    eased = preset_trajectory("zoom_in", 81, easing="ease_in_out")
    steps = eased.c2w[1:, 2, 3] - eased.c2w[:-1, 2, 3]
    assert steps[0] < steps[40] and steps[-1] < steps[40]
    orbit = preset_trajectory("orbit_right", 49, angle=90, radius=2)
    assert orbit.c2w[-1, 0, 3] > 1.9 and _angle_deg(orbit.c2w[-1, :3, :3]) == pytest.approx(90 * 48 / 48.5, abs=1e-6)
    with pytest.raises(ValueError, match="unknown camera preset"):
        preset_trajectory("dolly_zoom", 9)
    with pytest.raises(ValueError, match="takes"):
        preset_trajectory("pan_left", 9, radius=3)


# --- splines -----------------------------------------------------------------------------------------------------

keyframe_st = st.tuples(st.tuples(coords, coords, coords), st.one_of(
    st.tuples(st.just("look"), st.tuples(coords, coords, coords)),
    st.tuples(st.just("ypr"), st.tuples(angles, pitches, angles))))


@settings(max_examples=40, deadline=None)
@given(st.lists(keyframe_st, min_size=1, max_size=6), st.booleans(), st.booleans(), st.integers(5, 60))
def test_every_spline_frame_is_a_rotation(raw, constant_speed, closed, frames):
    keys = []
    for i, (pos, (kind, value)) in enumerate(raw):
        if kind == "look":
            if sum((a - b) ** 2 for a, b in zip(pos, value)) < 1e-2 or \
               (pos[0] - value[0]) ** 2 + (pos[2] - value[2]) ** 2 < 1e-4:  # vertical look: roll undefined
                value = (pos[0], pos[1], pos[2] + 1.0)
            keys.append(Keyframe(0.5 * i, pos, look_at=value))
        else:
            keys.append(Keyframe(0.5 * i, pos, ypr=value))
    try:
        traj = spline_trajectory(keys, frames, fps=8, constant_speed=constant_speed, closed=closed)
    except PoseError as err:   # valid keys whose in-between cameras look straight up/down or at themselves
        assert "interpolate" in str(err) and all(k.look_at is not None for k in keys), err
        return
    assert traj.frames == frames and _is_rotation(traj.c2w) and torch.isfinite(traj.c2w).all()


def test_look_at_keys_that_interpolate_to_an_undefined_camera_get_a_clear_error():
    # both keys are valid; halfway the camera stands at (0, 0, 0.5) and looks at (0, 0.5, 0.5): straight down
    keys = [Keyframe(0.0, (0, 0, 0), look_at=(0, 0, 1)), Keyframe(0.5, (0, 0, 1), look_at=(0, 1, 0))]
    with pytest.raises(PoseError, match="interpolate to a camera with no defined orientation"):
        spline_trajectory(keys, 5, fps=8)


def test_spline_interpolates_keyframes_and_constant_speed():
    keys = [Keyframe(0.0, (0, 0, 0), ypr=(0, 0, 0)), Keyframe(1.0, (1, 0, 0.5), ypr=(30, 0, 0)),
            Keyframe(3.0, (3, -1, 0), ypr=(-20, 10, 5))]
    traj = spline_trajectory(keys, 49, fps=16)
    for k in keys:
        i = int(k.t * 16)
        assert traj.c2w[i, :3, 3].tolist() == pytest.approx(list(k.position), abs=1e-9)
        assert torch.allclose(traj.c2w[i, :3, :3], k.rotation(), atol=1e-6)
    mid = traj.c2w[8, :3, :3]   # halfway between the first two keys: half the yaw
    assert ypr_from_rotation(mid[None])[0, 0] == pytest.approx(15, abs=1e-4)
    even = spline_trajectory(keys, 49, fps=16, constant_speed=True)
    steps = (even.c2w[1:, :3, 3] - even.c2w[:-1, :3, 3]).norm(dim=1)
    assert float(steps.max() / steps.min()) < 1.01
    ring = [Keyframe(float(i), (math.sin(i * math.pi / 2), 0, math.cos(i * math.pi / 2)), look_at=(0, 0, 0)) for i in range(4)]
    closed = spline_trajectory(ring, 65, fps=16, closed=True)
    assert torch.allclose(closed.c2w[-1], closed.c2w[0], atol=1e-9)


# --- JSON ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc,field", [
    ("{not json", "trajectory: not valid JSON"),
    ({"type": "preset", "frames": 9, "preset": {"name": "cam01"}}, "trajectory.version: missing"),
    ({"version": 1, "type": "orbit", "frames": 9}, "trajectory.type"),
    ({"version": 1, "type": "preset", "frames": 0, "preset": {"name": "cam01"}}, "trajectory.frames: must be >= 1"),
    ({"version": 1, "type": "preset", "frames": 9, "preset": {"name": "nope"}}, "trajectory.preset.name: unknown preset"),
    ({"version": 1, "type": "preset", "frames": 9, "preset": {"name": "cam01", "speed": "fast"}}, "trajectory.preset.speed"),
    ({"version": 1, "type": "spline", "frames": 9, "spline": {"keyframes": []}}, "trajectory.spline.keyframes"),
    ({"version": 1, "type": "spline", "frames": 9, "spline": {"keyframes": [{"t": 0, "position": [0, 0, "a"]}]}},
     "trajectory.spline.keyframes[0].position[2]"),
    ({"version": 1, "type": "spline", "frames": 9,
      "spline": {"keyframes": [{"t": 0, "position": [0, 0, 0], "look_at": [0, 0, 1], "yaw": 3}]}},
     "trajectory.spline.keyframes[0]: give either"),
    ({"version": 1, "type": "spline", "frames": 9, "spline": {"keyframes": [{"t": 0, "position": [0, 0, 0], "look_at": [0, 0, 1]},
                                                                           {"t": 0, "position": [1, 0, 0], "look_at": [0, 0, 1]}]}},
     "trajectory.spline.keyframes[1].t: two keyframes"),
    ({"version": 1, "type": "poses", "frames": 1, "poses": [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]]}, "trajectory.poses[0]"),
    ({"version": 1, "type": "poses", "frames": 1, "poses": [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0]]},
     "trajectory.poses: camera pose of frame 0 is not a rotation"),
    ({"version": 1, "type": "spline", "frames": 9, "spline": {"timing": "clip", "keyframes": [
        {"t": 0, "position": [0, 0, 0], "look_at": [0, 0, 1]}, {"t": 1.2, "position": [1, 0, 0], "look_at": [0, 0, 1]}]}},
     "trajectory.spline.keyframes[1].t: 1.2 is outside the clip"),
    ({"version": 1, "type": "spline", "frames": 9, "spline": {"timing": "frames", "keyframes": [{"t": 0, "position": [0, 0, 0]}]}},
     "trajectory.spline.timing"),
    ({"version": 1, "type": "spline", "frames": 9, "spline": {"speed": 0, "keyframes": [{"t": 0, "position": [0, 0, 0]}]}},
     "trajectory.spline.speed: must be >="),
])
def test_malformed_json_names_the_field(doc, field):
    with pytest.raises(TrajectoryJSONError) as e:
        parse_trajectory(doc if isinstance(doc, str) else json.dumps(doc))
    assert str(e.value).startswith(field), str(e.value)


def test_json_round_trips_and_lengths():
    spec = parse_trajectory({"version": 1, "type": "spline", "frames": 33, "fps": 16, "spline": {
        "keyframes": [{"t": 0, "position": [0, 0, 0], "look_at": [0, 0, 4]}, {"t": 2, "position": [1, 0, 1], "look_at": [0, 0, 4]}],
        "constant_speed": True}})
    traj = spec.build()
    again = trajectory_from_json(poses_json(traj))
    assert torch.allclose(again.c2w, traj.c2w, atol=1e-8) and again.fps == 16
    assert spec.build(frames=81).frames == 81                 # the node's frame count wins
    assert parse_trajectory(spec.to_json()).data == spec.data


@pytest.mark.parametrize("name", ["arc_right", "orbit_left", "pan_left", "tilt_up"])
def test_preset_as_clip_timed_keys_keeps_the_move_at_any_length(name):
    """The editor's preset → keys conversion: the keys reproduce the preset's end pose exactly at the length
    they were made for, and (timing "clip") the whole move at any other length instead of a cut-off part."""
    from realcam.camera.presets import preset_keyframes

    keys = preset_keyframes(name, 33, count=5)
    assert [k["t"] for k in keys] == [0, 0.25, 0.5, 0.75, 1]
    doc = {"version": 1, "type": "spline", "frames": 81, "fps": 16, "spline": {"timing": "clip", "keyframes": keys}}
    preset = preset_trajectory(name, 33).c2w
    at33 = parse_trajectory(doc).build(33).c2w
    assert torch.allclose(at33[-1], preset[-1], atol=1e-5)
    at81 = parse_trajectory(doc).build(81).c2w                      # what a sampler on an 81-frame video uses
    assert torch.allclose(at81[-1], preset[-1], atol=1e-5)
    assert torch.allclose(at81[40], preset[16], atol=1e-5)          # key 2 (t = 0.5) is frame 16 of 33, 40 of 81
    # seconds timing (the old form) at 81 frames of 16 fps would run the same keys over 2 s of 5: cut off early
    seconds = {**doc, "spline": {"keyframes": [{**k, "t": k["t"] * 32 / 16} for k in keys]}}
    assert torch.allclose(parse_trajectory(seconds).build(81).c2w[32], preset[-1], atol=1e-5)


def test_spline_speed_is_stored_and_applied_once():
    keys = [{"t": 0, "position": [0, 0, 0], "yaw": 0}, {"t": 1, "position": [2, 0, 0], "yaw": 0}]
    doc = {"version": 1, "type": "spline", "frames": 33, "fps": 16, "spline": {"timing": "clip", "keyframes": keys}}
    slow = parse_trajectory(doc).build().c2w[:, 0, 3]
    fast = parse_trajectory({**doc, "spline": {**doc["spline"], "speed": 2}}).build().c2w[:, 0, 3]
    assert torch.allclose(fast[:17], slow[::2]) and torch.allclose(fast[16:], torch.full((17,), 2.0, dtype=torch.float64))
    again = parse_trajectory(parse_trajectory({**doc, "spline": {**doc["spline"], "speed": 2}}).to_json())
    assert torch.allclose(again.build().c2w[:, 0, 3], fast)           # saved and reloaded: applied once, not twice


def test_trajectory_latent_poses():
    traj = preset_trajectory("pan_right", 33)
    assert traj.pose12().shape == (9, 12) and traj.pose12()[0].tolist() == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
    prev = traj.pose12("previous")
    assert prev.shape == (9, 12)
    with pytest.raises(ValueError, match="4k\\+1"):
        preset_trajectory("pan_right", 30).latent_c2w()
    joined = traj.concat(preset_trajectory("zoom_in", 17))
    assert joined.frames == 49 and torch.allclose(joined.c2w[32], traj.c2w[32])


def test_preview_draws_the_path():
    a = render_preview(preset_trajectory("orbit_left", 49, angle=60), size=128)
    b = render_preview(preset_trajectory("crane_up", 49), size=128)
    assert a.shape == (128, 256, 3) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert (a - b).abs().sum() > 10 and a.std() > 0.01
    assert torch.equal(a, render_preview(preset_trajectory("orbit_left", 49, angle=60), size=128))
    title = render_preview(preset_trajectory("pan_left", 81))[:14, :250]     # each panel is labelled
    assert int((title.mean(-1) > 0.6).sum()) > 100


def test_reproject_with_the_true_depth_recovers_what_the_source_sees():
    """``reproject`` follows the renderer's conventions: the same camera gives back the frames; a turn is
    recovered whatever the plane's depth; under a move, the renderer's depth recovers the target wherever the
    source sees the same point (all but disocclusions and the edge the source never saw), and no plane does."""
    from realcam.camera.rays import reproject
    from realcam.data.synth import intrinsics, random_scene, render
    from realcam.metrics import psnr

    scene = random_scene(torch.Generator().manual_seed(3), "v2")
    K = intrinsics((48, 48))
    start = look_at(torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.0, 0.3, 4.2]))[0]   # as the synth's cameras
    source_c2w = start[None].repeat(2, 1, 1)
    source, _ = render(scene, source_c2w, K, (48, 48), torch.zeros(2))
    assert torch.allclose(reproject(source, source_c2w, source_c2w, K, 4.0), source, atol=1e-5)
    for shift in ((0.0, 0.0, 0.0), (0.3, -0.1, 0.2), (0.0, -0.2, 0.3)):
        moved = torch.eye(4, dtype=torch.float64)
        moved[:3, :3] = rotation_from_ypr(6.0, -3.0, 0.0)[0]
        moved[:3, 3] = torch.tensor(shift, dtype=torch.float64)
        target_c2w = torch.stack([start, start @ moved])
        target, depth = render(scene, target_c2w, K, (48, 48), torch.zeros(2))
        true_depth = reproject(source, source_c2w, target_c2w, K, depth)
        assert torch.allclose(true_depth[0], source[0], atol=1e-5)

        def matched(frames, target=target):   # share of the target's pixels (left of the edge the turn brings in) within 0.02
            return float(((frames[1] - target[1]).abs().mean(-1)[:, :40] < 0.02).float().mean())
        planes = [reproject(source, source_c2w, target_c2w, K, d) for d in (0.5, 2.0, 4.0, 1e5)]
        if shift == (0.0, 0.0, 0.0):
            assert psnr(true_depth[1:, :, :40], target[1:, :, :40]) > 30
            assert all(torch.allclose(p, true_depth, atol=1e-4) for p in planes)
        else:
            assert matched(true_depth) > 0.7 and matched(true_depth) > max(matched(p) for p in planes) + 0.1
    with pytest.raises(ValueError, match=r"frames \[F, H, W, C\]"):
        reproject(source, source_c2w, target_c2w[:1], K, 4.0)
