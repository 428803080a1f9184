"""ComfyUI entry point of the RealCam node pack.

ComfyUI imports this folder as a package and calls ``comfy_entrypoint()`` (V3 node API). Nothing here
imports ComfyUI at module import time, so the folder is also importable outside ComfyUI. The backend
package ``realcam`` lives beside this file; it is put on ``sys.path`` when it is not pip-installed.
"""
import os
import sys

_PACK_DIR = os.path.dirname(os.path.abspath(__file__))
try:
    import realcam  # noqa: F401  (installed with pip, or already importable)
except ImportError:
    sys.path.insert(0, _PACK_DIR)

WEB_DIRECTORY = "./web/js"

try:
    import comfy_api.latest  # noqa: F401  (the V3 node API, ComfyUI >= 0.3.6x)
except ImportError:
    try:
        import comfy  # noqa: F401  (inside an older ComfyUI: say what to do instead of failing silently)
        import logging

        logging.getLogger("realcam").error(
            "RealCam nodes need ComfyUI's V3 node API (comfy_api.latest, ComfyUI 0.3.6x or newer; tested with "
            "0.3.75): update ComfyUI. The realcam Python package itself works without it.")
        NODE_CLASS_MAPPINGS: dict = {}
    except ImportError:
        pass


async def comfy_entrypoint():
    from .nodes import RealCamExtension

    return RealCamExtension()


__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
