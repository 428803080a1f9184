"""RealCam: real-time camera-controlled video-to-video generation on the Wan DiT.

Public entry points: :func:`load_dit`, :func:`save_realcam_checkpoint`, :class:`RealCamDiT`, and the
configs in :mod:`realcam.config`. The package never imports ComfyUI; ``nodes/`` wraps it.
"""

__version__ = "0.1.0"

from .config import CONFIGS, ConditioningConfig, StreamingConfig, TeacherSamplingConfig, WanConfig, get_config  # noqa: E402
from .model import RealCamDiT  # noqa: E402
from .weights import LoadInfo, WeightsError, load_dit, save_realcam_checkpoint  # noqa: E402

__all__ = ["CONFIGS", "ConditioningConfig", "StreamingConfig", "TeacherSamplingConfig", "WanConfig", "get_config", "RealCamDiT",
           "LoadInfo", "WeightsError", "load_dit", "save_realcam_checkpoint", "__version__"]
