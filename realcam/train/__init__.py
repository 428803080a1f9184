"""Training: teacher, causal initialisation and Self-Forcing DMD distillation on torchrun (DDP / FSDP2).

See :mod:`realcam.train.loop` for the common loop, :mod:`realcam.train.stages` for the stages and
:mod:`realcam.train.data` for preprocessing. Commands: ``python -m realcam preprocess | train-teacher |
train-causal | distill``.
"""
from .config import TrainConfig, load_config

__all__ = ["TrainConfig", "load_config"]
