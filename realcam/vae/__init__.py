"""Video VAEs: Wan2.1 (z16), Wan2.2 (z48) and TAEHV-compatible tiny VAEs, with exact streaming."""
from .layers import StreamState
from .loading import load_vae
from .taehv import TinyVAE
from .video_vae import (DecodeStream, EncodeStream, PreparedVideo, Tiling, VideoVAE, frames_from_image,
                        image_from_frames, prepare_frames)
from .wan21 import Wan21VAEConfig, WanVAE21
from .wan22 import Wan22VAEConfig, WanVAE22

__all__ = ["StreamState", "load_vae", "TinyVAE", "DecodeStream", "EncodeStream", "PreparedVideo", "Tiling",
           "VideoVAE", "frames_from_image", "image_from_frames", "prepare_frames", "Wan21VAEConfig", "WanVAE21",
           "Wan22VAEConfig", "WanVAE22"]
