"""Camera conventions (the one module that owns them): OpenCV camera-to-world, x right, y down,
z forward, metres; poses as flattened row-major 3×4 (``pose12``). Conversions from Unreal rows
(MultiCamVideo), OpenGL/Blender and world-to-camera; presets; splines; the trajectory JSON."""
from .poses import (PoseError, as_c2w, check_c2w, from_opengl, from_unreal_rows, from_w2c, look_at,
                    parse_unreal_matrix, pose12, relative_poses, rotation_from_ypr, to_opengl, to_unreal_rows,
                    ypr_from_rotation)

__all__ = ["PoseError", "as_c2w", "check_c2w", "from_opengl", "from_unreal_rows", "from_w2c", "look_at",
           "parse_unreal_matrix", "pose12", "relative_poses", "rotation_from_ypr", "to_opengl", "to_unreal_rows",
           "ypr_from_rotation"]
