"""Camera conventions (the one module that owns them): OpenCV camera-to-world, x right, y down,
z forward, metres; poses as flattened row-major 3×4 (``pose12``)."""
from .poses import PoseError, as_c2w, check_c2w, pose12, relative_poses

__all__ = ["PoseError", "as_c2w", "check_c2w", "pose12", "relative_poses"]
