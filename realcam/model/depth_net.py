"""The depth of a single frame, learned (``ConditioningConfig.pixel_guide_depth_net``).

The plane sweep (:func:`realcam.guide.guide_depth`) finds a pixel's depth only where the source's own motion shows it,
and needs the source's camera path. A small network that sees one frame guesses it everywhere, as a monocular depth
model does for a real video: it classifies each pixel into the checkpoint's swept planes
(``ConditioningConfig.pixel_guide_sweep``), and the pixel guide is drawn through that depth, layer by layer, with or
without the path (docs/results.md, "World v2: a depth learned from single frames"). It is trained on its own, on
frames and the renderer's depths (``scripts/depth_net_probe.py train``), and travels in the checkpoint as the
``depth_net.*`` tensors (``python -m realcam set-guide-depth-net`` attaches one).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALES = 3      # the U-Net halves the frame three times: its input sides are multiples of 2**SCALES


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU())


class DepthNet(nn.Module):
    """A U-Net of three scales, ``width`` channels at the finest: a frame ``[B, 3, H, W]`` in [0, 1] (with its pixel
    rows and columns as two more channels) → logits ``[B, P, H, W]`` over the ``P`` depth ``planes`` (metres,
    increasing). ``side``: the longer side of the frames it was trained on; :meth:`depth` reads every frame at that
    size."""

    def __init__(self, planes: tuple[float, ...], width: int = 32, side: int = 64) -> None:
        super().__init__()
        if width % 8 or width < 8:
            raise ValueError(f"depth network width {width}: give a multiple of 8 (its group norms hold 8 groups)")
        self.planes, self.side = tuple(float(d) for d in planes), int(side)
        w = width
        self.e1, self.e2, self.e3, self.mid = _block(5, w), _block(w, 2 * w), _block(2 * w, 4 * w), _block(4 * w, 4 * w)
        self.d3, self.d2, self.d1 = _block(8 * w, 2 * w), _block(4 * w, w), _block(2 * w, w)
        self.out = nn.Conv2d(w, len(self.planes), 1)

    def reset_parameters(self) -> None:
        """PyTorch's own initialisation of every layer (a model built on the meta device is defined afterwards)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.GroupNorm)):
                m.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        e1 = self.e1(torch.cat([x, ys, xs], 1))
        e2 = self.e2(F.avg_pool2d(e1, 2))
        e3 = self.e3(F.avg_pool2d(e2, 2))
        m = self.mid(F.avg_pool2d(e3, 2))

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, scale_factor=2, mode="nearest")

        d3 = self.d3(torch.cat([up(m), e3], 1))
        d2 = self.d2(torch.cat([up(d3), e2], 1))
        return self.out(self.d1(torch.cat([up(d2), e1], 1)))

    def digest(self) -> str:
        """A fingerprint of the network (its planes, frame size and weights, as float32): training data drawn through
        it records this, and a model that reads that data must carry the same network."""
        import hashlib

        h = hashlib.sha256(repr((self.planes, self.side)).encode())
        for name, tensor in sorted(self.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return h.hexdigest()[:32]

    def input_size(self, h: int, w: int) -> tuple[int, int]:
        """The size a ``h × w`` frame is read at: its longer side :attr:`side`, the aspect kept, each side a multiple
        of ``2**SCALES``."""
        step = 2 ** SCALES
        scale = self.side / max(h, w)
        return max(step, round(h * scale / step) * step), max(step, round(w * scale / step) * step)

    @torch.no_grad()
    def depth(self, pictures: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """The depth of every pixel of ``pictures`` ``[N, 3, H, W]`` (bytes, or floats in [0, 1] taken to bytes as a
        source is kept), one of :attr:`planes` per pixel: ``[N, h, w]`` float64 on the CPU at ``size`` (default: the
        pictures' own), nearest-resized from the network's reading at :meth:`input_size`."""
        if pictures.ndim != 4 or pictures.shape[1] != 3:
            raise ValueError(f"depth network: pictures must be [N, 3, H, W], got {tuple(pictures.shape)}")
        weight = self.out.weight
        if pictures.dtype == torch.uint8:
            x = pictures.to(weight.device, torch.float32) / 255
        else:       # the frames a guide is drawn from are the source's as bytes: read what they hold
            x = (pictures.detach().to(weight.device, torch.float32).clamp(0, 1) * 255).round() / 255
        h, w = x.shape[-2:]
        at = self.input_size(h, w)
        if at != (h, w):
            x = F.interpolate(x, size=at, mode="area" if at[0] <= h and at[1] <= w else "bilinear")
        planes = torch.tensor(self.planes, dtype=torch.float64, device=weight.device)
        d = planes[self(x.to(weight.dtype)).argmax(1)]
        return F.interpolate(d[:, None], size=size or (h, w), mode="nearest")[:, 0].cpu()
