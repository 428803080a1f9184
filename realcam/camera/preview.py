"""A preview IMAGE of a trajectory: top view (x → right, z → up) and side view (z → right, −y → up) of
the path, coloured from start (blue) to end (orange), with camera frustums along it."""
from __future__ import annotations

import torch

from .trajectory import Trajectory

BACKGROUND = (0.12, 0.12, 0.13)
GRID = (0.22, 0.22, 0.24)
MAX_SEGMENTS = 400


def _draw_line(img: torch.Tensor, p0, p1, color, width: int = 1) -> None:
    h, w, _ = img.shape
    n = int(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]), 1)) + 1
    t = torch.linspace(0, 1, n)
    xs = (p0[0] + t * (p1[0] - p0[0])).round().long()
    ys = (p0[1] + t * (p1[1] - p0[1])).round().long()
    c = torch.tensor(color)
    for dx in range(-(width // 2), width // 2 + 1):
        for dy in range(-(width // 2), width // 2 + 1):
            x, y = xs + dx, ys + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            img[y[ok], x[ok]] = c


def _panel(traj: Trajectory, size: int, axes: tuple[int, int], flip: tuple[int, int], title_color) -> torch.Tensor:
    img = torch.tensor(BACKGROUND).repeat(size, size, 1)
    pos = traj.c2w[:, :3, 3]
    rot = traj.c2w[:, :3, :3]
    a, b = axes
    u, v = pos[:, a] * flip[0], pos[:, b] * flip[1]
    span = float(max(u.max() - u.min(), v.max() - v.min(), 0.5))
    frustum = 0.15 * span
    cu, cv = float(u.max() + u.min()) / 2, float(v.max() + v.min()) / 2
    scale = 0.7 * size / (span + 2 * frustum)

    def to_px(x, y):
        return (size / 2 + (x - cu) * scale, size / 2 - (y - cv) * scale)
    for g in range(-4, 5):  # grid every quarter of the view
        step = size / 8
        _draw_line(img, (size / 2 + g * step, 0), (size / 2 + g * step, size - 1), GRID)
        _draw_line(img, (0, size / 2 + g * step), (size - 1, size / 2 + g * step), GRID)
    n = traj.frames
    # at most MAX_SEGMENTS segments, whatever the length: the drawing costs the same for 81 frames or 20,000
    drawn = torch.linspace(0, n - 1, min(n, MAX_SEGMENTS + 1)).round().long().unique().tolist()
    for i, j in zip(drawn[:-1], drawn[1:]):
        f = i / max(n - 2, 1)
        color = (0.25 + 0.75 * f, 0.45 + 0.2 * f, 1.0 - 0.8 * f)
        _draw_line(img, to_px(float(u[i]), float(v[i])), to_px(float(u[j]), float(v[j])), color, 2)
    corners = torch.tensor([[-1.0, -0.6, 1.5], [1.0, -0.6, 1.5], [1.0, 0.6, 1.5], [-1.0, 0.6, 1.5]], dtype=torch.float64)
    for i in sorted({0, n - 1, *range(0, n, max(1, n // 6))}):
        f = i / max(n - 1, 1)
        color = (0.4 + 0.6 * f, 0.55 + 0.2 * f, 1.0 - 0.7 * f)
        c = pos[i] + (rot[i] @ (corners.T * frustum / 1.5)).T
        cp = [to_px(float(p[a] * flip[0]), float(p[b] * flip[1])) for p in c]
        o = to_px(float(u[i]), float(v[i]))
        for k in range(4):
            _draw_line(img, o, cp[k], color)
            _draw_line(img, cp[k], cp[(k + 1) % 4], color)
    s = to_px(float(u[0]), float(v[0]))
    _draw_line(img, (s[0] - 4, s[1]), (s[0] + 4, s[1]), (1.0, 1.0, 1.0), 2)
    _draw_line(img, (s[0], s[1] - 4), (s[0], s[1] + 4), (1.0, 1.0, 1.0), 2)
    img[:3, :] = torch.tensor(title_color)
    return img


def render_preview(traj: Trajectory, size: int = 256) -> torch.Tensor:
    """``[size, 2·size, 3]`` float image in [0, 1]: top view | side view."""
    top = _panel(traj, size, axes=(0, 2), flip=(1, 1), title_color=(0.3, 0.6, 1.0))
    side = _panel(traj, size, axes=(2, 1), flip=(1, -1), title_color=(1.0, 0.6, 0.3))
    sep = torch.ones(size, 2, 3)
    return torch.cat([top[:, :-1], sep, side[:, 1:]], dim=1)[:, : 2 * size]
