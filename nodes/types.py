"""Custom ComfyUI socket types carrying typed backend objects."""
from comfy_api.latest import io

RealCamModel = io.Custom("REALCAM_MODEL")            # realcam.model.RealCamDiT
RealCamTrajectory = io.Custom("REALCAM_TRAJECTORY")  # realcam.camera.trajectory.Trajectory
RealCamVAE = io.Custom("REALCAM_VAE")                # realcam.vae.VideoVAE
RealCamLatents = io.Custom("REALCAM_LATENTS")        # realcam.pipeline.SourceVideo (source or rendered target)
RealCamText = io.Custom("REALCAM_TEXT")              # realcam.pipeline.TextContext
