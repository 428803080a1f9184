"""Running a RealCam model on ComfyUI's device without evicting every other model."""
from __future__ import annotations

import contextlib

import comfy.model_management as mm
import torch


def _nbytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))


@contextlib.contextmanager
def on_device(*modules: torch.nn.Module):
    """Move ``modules`` to ComfyUI's torch device for the block, freeing only the memory they need
    (``free_memory`` unloads other models least-recently-used first), then offload them again."""
    device = mm.get_torch_device()
    needed = sum(_nbytes(m) for m in modules if m is not None)
    if device.type != "cpu":
        mm.free_memory(needed * 1.3, device)
    for m in modules:
        if m is not None:
            m.to(device)
    try:
        yield device
    finally:
        offload = mm.unet_offload_device()
        for m in modules:
            if m is not None:
                m.to(offload)
        mm.soft_empty_cache()


def stop_requested() -> bool:
    """Raise ComfyUI's interrupt exception if the user pressed cancel (polled between steps/chunks)."""
    mm.throw_exception_if_processing_interrupted()
    return False
