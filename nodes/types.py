"""Custom ComfyUI socket types carrying typed backend objects."""
from comfy_api.latest import io

RealCamModel = io.Custom("REALCAM_MODEL")  # a realcam.model.RealCamDiT
