"""Custom ComfyUI socket types carrying typed backend objects."""
from comfy_api.latest import io

RealCamModel = io.Custom("REALCAM_MODEL")            # realcam.model.RealCamDiT
RealCamTrajectory = io.Custom("REALCAM_TRAJECTORY")  # realcam.camera.trajectory.Trajectory
