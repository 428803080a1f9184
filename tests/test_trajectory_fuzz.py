"""Hostile trajectory documents: whatever arrives, the parser answers with its own error naming the field,
quickly, or with a valid trajectory whose poses are finite (hypothesis, fixed seed and example budget)."""
from __future__ import annotations

import copy
import json
import time

import torch
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from realcam.camera.trajectory_json import MAX_FRAMES, TrajectoryJSONError, parse_trajectory

VALID = [
    {"version": 1, "type": "preset", "frames": 33, "fps": 16, "preset": {"name": "push_in", "amplitude": 1.0, "speed": 1.0,
                                                                          "easing": "linear", "loop": False,
                                                                          "params": {"distance": 2.0}}},
    {"version": 1, "type": "spline", "frames": 33, "spline": {"keyframes": [
        {"t": 0, "position": [0, 0, 0], "yaw": 0, "pitch": 0, "roll": 0},
        {"t": 1, "position": [1, 0, 0], "look_at": [0, 0, 4]}], "constant_speed": True, "closed": False}},
    {"version": 1, "type": "poses", "frames": 2, "poses": [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]] * 2},
]

junk = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**400, max_value=10**400) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw):
    """A valid document with one of its fields (or the whole) replaced by junk, or deleted."""
    doc = copy.deepcopy(draw(st.sampled_from(VALID)))
    paths = list(_paths(doc))
    path = draw(st.sampled_from(paths))
    value = draw(junk | st.sampled_from([10**400, 1e308, -1e38, 1e38, MAX_FRAMES + 1, [1] * 3, [[[[[]]]]], "push_in"]))
    if not path:
        return value
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if draw(st.booleans()) and isinstance(parent, dict):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return doc


def _check(doc) -> None:
    t0 = time.perf_counter()
    try:
        spec = parse_trajectory(doc)
    except TrajectoryJSONError as e:
        assert str(e).startswith("trajectory"), str(e)          # names the field
    else:
        assert torch.isfinite(spec.build().c2w).all()
    assert time.perf_counter() - t0 < 1.0


@seed(20261201)
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_documents_get_the_projects_error(doc):
    _check(doc)
    _check(json.dumps(doc, allow_nan=True) if not isinstance(doc, str) else doc)   # the same as text


@seed(20261202)
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk)
def test_arbitrary_values_get_the_projects_error(doc):
    _check(doc)


def test_known_bad_documents_from_the_audit():
    deep = "[" * 100_000 + "]" * 100_000
    cases = [deep, {"version": 1, "type": "preset", "frames": 33, "preset": {"name": "pan_left", "params": [1]}},
             {"version": 1, "type": "preset", "frames": 33, "preset": {"name": []}},
             {"version": 1, "type": "preset", "frames": 10**400, "preset": {"name": "pan_left"}},
             {"version": 1, "type": "preset", "frames": 10_000_000, "preset": {"name": "pan_left"}},
             {"version": 1, "type": "preset", "frames": 33, "preset": {"name": "push_in", "params": {"distance": 1e38}}}]
    for doc in cases:
        t0 = time.perf_counter()
        try:
            parse_trajectory(doc)
            raise AssertionError(f"accepted {str(doc)[:80]}")
        except TrajectoryJSONError as e:
            assert str(e).startswith("trajectory")
        assert time.perf_counter() - t0 < 1.0


def test_long_paths_preview_in_bounded_time():
    """A trajectory node at its maximum length used to spend 88 s drawing its preview (one segment per frame)."""
    from realcam.camera.presets import preset_trajectory
    from realcam.camera.preview import render_preview

    t0 = time.perf_counter()
    image = render_preview(preset_trajectory("orbit_left", MAX_FRAMES))
    assert time.perf_counter() - t0 < 2.0 and image.shape == (256, 512, 3)
