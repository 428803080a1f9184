"""Custom ComfyUI socket types carrying typed backend objects."""
from comfy_api.latest import io

RealCamModel = io.Custom("REALCAM_MODEL")            # realcam.model.RealCamDiT
RealCamTrajectory = io.Custom("REALCAM_TRAJECTORY")  # realcam.camera.trajectory.Trajectory
RealCamVAE = io.Custom("REALCAM_VAE")                # realcam.vae.VideoVAE
RealCamLatents = io.Custom("REALCAM_LATENTS")        # realcam.pipeline.SourceVideo (source or rendered target)
RealCamText = io.Custom("REALCAM_TEXT")              # realcam.pipeline.TextContext


# words artists search for: the frontend's node search matches them in the description (and, on cores whose
# Schema has ``search_aliases``, as aliases too)
SEARCH_WORDS = ("video to video", "camera control", "ReCamMaster", "Wan")


def schema(node_id: str, display_name: str, description: str, inputs: list, outputs: list, hidden: list | None = None) -> io.Schema:
    """A node schema in the RealCam category."""
    extra = {"search_aliases": list(SEARCH_WORDS)} if "search_aliases" in getattr(io.Schema, "__dataclass_fields__", {}) else {}
    return io.Schema(node_id=node_id, display_name=display_name, category="RealCam",
                     description=f"{description} ({', '.join(SEARCH_WORDS)})", inputs=inputs, outputs=outputs,
                     hidden=hidden, **extra)
