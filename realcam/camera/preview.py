"""A labelled preview IMAGE of a trajectory (drawn with PIL): top view (x → right, z → up) and side view
(z → right, −y → up) of the path, coloured from start (blue) to end (orange), with camera frustums along
it, each panel titled with its axes, the first and last cameras marked "start"/"end" with their frame
numbers, and a scale bar in metres."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .trajectory import Trajectory

BACKGROUND = (31, 31, 33)
GRID = (56, 56, 61)
TEXT = (220, 220, 220)
MAX_SEGMENTS = 400
TITLES = ("top view (right: +x, up: +z forward)", "side view (right: +z forward, up: -y up)")


def _color(f: float) -> tuple[int, int, int]:
    """start (blue) → end (orange)"""
    return (int(255 * (0.3 + 0.7 * f)), int(255 * (0.55 + 0.15 * f)), int(255 * (1.0 - 0.75 * f)))


def _scale_bar(span: float) -> float:
    """A round length (1, 2 or 5 × 10^k metres) about a quarter of the view."""
    raw = span / 4
    k = 10 ** math.floor(math.log10(raw))
    return next(m * k for m in (5, 2, 1) if m * k <= raw)


def _panel(traj: Trajectory, size: int, axes: tuple[int, int], flip: tuple[int, int], title: str) -> Image.Image:
    img = Image.new("RGB", (size, size), BACKGROUND)
    g = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    pos = traj.c2w[:, :3, 3]
    rot = traj.c2w[:, :3, :3]
    a, b = axes
    u, v = pos[:, a] * flip[0], pos[:, b] * flip[1]
    span = float(max(u.max() - u.min(), v.max() - v.min(), 0.5))
    frustum = 0.15 * max(span, 2.0)      # rotation-only paths still show which way each camera looks
    cu, cv = float(u.max() + u.min()) / 2, float(v.max() + v.min()) / 2
    scale = 0.62 * size / (span + 2 * frustum)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (size / 2 + (x - cu) * scale, size / 2 + 6 - (y - cv) * scale)
    for k in range(1, 8):  # grid every eighth of the view
        g.line([(k * size / 8, 0), (k * size / 8, size)], fill=GRID)
        g.line([(0, k * size / 8), (size, k * size / 8)], fill=GRID)
    n = traj.frames
    # at most MAX_SEGMENTS segments, whatever the length: the drawing costs the same for 81 frames or 20,000
    drawn = torch.linspace(0, n - 1, min(n, MAX_SEGMENTS + 1)).round().long().unique().tolist()
    for i, j in zip(drawn[:-1], drawn[1:]):
        g.line([to_px(float(u[i]), float(v[i])), to_px(float(u[j]), float(v[j]))], fill=_color(i / max(n - 2, 1)), width=2)
    corners = torch.tensor([[-1.0, -0.6, 1.5], [1.0, -0.6, 1.5], [1.0, 0.6, 1.5], [-1.0, 0.6, 1.5]], dtype=torch.float64)
    for i in sorted({0, n - 1, *range(0, n, max(1, n // 6))}):
        c = pos[i] + (rot[i] @ (corners.T * frustum / 1.5)).T
        cp = [to_px(float(p[a] * flip[0]), float(p[b] * flip[1])) for p in c]
        o = to_px(float(u[i]), float(v[i]))
        color = _color(i / max(n - 1, 1))
        for k in range(4):
            g.line([o, cp[k]], fill=color)
            g.line([cp[k], cp[(k + 1) % 4]], fill=color)
    for i, word in ((0, "start"), (n - 1, "end")):
        x, y = to_px(float(u[i]), float(v[i]))
        g.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_color(i / max(n - 1, 1)), outline=(255, 255, 255))
        if n == 1 and word == "end":
            continue
        label = f"{word} (frame {i})"
        w = g.textlength(label, font=font)
        g.text((x + 5 if x + 5 + w < size else x - 5 - w, y + (-14 if word == "start" else 4)), label, fill=TEXT, font=font)
    bar = _scale_bar(span + 2 * frustum)
    g.line([(8, size - 10), (8 + bar * scale, size - 10)], fill=TEXT, width=2)
    g.text((12 + bar * scale, size - 17), f"{bar:g} m", fill=TEXT, font=font)
    g.rectangle([0, 0, size, 14], fill=(24, 24, 26))
    g.text((4, 2), title, fill=TEXT, font=font)
    return img


def render_preview(traj: Trajectory, size: int = 256) -> torch.Tensor:
    """``[size, 2·size, 3]`` float image in [0, 1]: top view | side view, labelled."""
    top = _panel(traj, size, axes=(0, 2), flip=(1, 1), title=TITLES[0])
    side = _panel(traj, size, axes=(2, 1), flip=(1, -1), title=TITLES[1])
    sheet = Image.new("RGB", (2 * size, size), (255, 255, 255))
    sheet.paste(top.crop((0, 0, size - 1, size)), (0, 0))
    sheet.paste(side.crop((1, 0, size, size)), (size + 1, 0))
    return torch.from_numpy(np.asarray(sheet, dtype=np.float32) / 255.0)
