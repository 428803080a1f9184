"""Custom ComfyUI socket types carrying typed backend objects."""
from comfy_api.latest import io

RealCamModel = io.Custom("REALCAM_MODEL")            # realcam.model.RealCamDiT
RealCamTrajectory = io.Custom("REALCAM_TRAJECTORY")  # realcam.camera.trajectory.Trajectory
RealCamVAE = io.Custom("REALCAM_VAE")                # realcam.vae.VideoVAE
RealCamLatents = io.Custom("REALCAM_LATENTS")        # realcam.pipeline.SourceVideo (source or rendered target)
RealCamText = io.Custom("REALCAM_TEXT")              # realcam.pipeline.TextContext


def schema(node_id: str, display_name: str, description: str, inputs: list, outputs: list) -> io.Schema:
    """A node schema in the RealCam category."""
    return io.Schema(node_id=node_id, display_name=display_name, category="RealCam", description=description,
                     inputs=inputs, outputs=outputs)
