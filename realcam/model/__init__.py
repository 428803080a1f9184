"""The RealCam DiT: Wan blocks + camera layers, RoPE, attention backends, sequence layouts."""
from .attention import AttentionMask, attention, flash_available
from .dit import CAMERA_DIM, CameraInput, GateReading, RealCamDiT, TokenGrid
from .rope import Rope, grid_positions, make_rope
from .sequence import SequenceLayout

__all__ = ["AttentionMask", "attention", "flash_available", "CAMERA_DIM", "CameraInput", "GateReading", "RealCamDiT",
           "TokenGrid", "Rope", "grid_positions", "make_rope", "SequenceLayout"]
