"""A real ComfyUI 0.3.75 server on 127.0.0.1 with this pack installed, for API and browser tests.

The pack is linked into the extracted tree's ``custom_nodes`` as ``ComfyUI-RealCam`` (the folder name
users are told to use), the server runs with ``--cpu`` on a free port, its log goes to a file, and
``stop()`` ends it. Model folders can point at a temporary directory through an extra-model-paths file.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .comfyui import BUNDLED_FRONTEND, REPO_ROOT, ensure_comfyui, ensure_frontend

PACK_NAME = "ComfyUI-RealCam"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    def __init__(self, workdir: Path, models_dir: Path | None = None, input_dir: Path | None = None,
                 frontend: str | None = None) -> None:
        """``frontend``: a ``comfyui-frontend-package`` version other than the one installed (see ``ensure_frontend``)."""
        self.tree = ensure_comfyui()
        self.frontend = frontend
        self.workdir = Path(workdir)
        self.models_dir = models_dir
        self.input_dir = Path(input_dir) if input_dir is not None else self.workdir / "input"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "comfyui_server.log"

    def start(self, timeout: float = 180.0) -> "ComfyServer":
        link = self.tree / "custom_nodes" / PACK_NAME
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(REPO_ROOT, target_is_directory=True)
        settings = self.tree / "user" / "default" / "comfy.settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        if not settings.exists():  # no first-run templates dialog over the canvas
            settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
        args = [sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
                "--disable-auto-launch", "--output-directory", str(self.workdir / "output"),
                "--temp-directory", str(self.workdir / "temp"), "--input-directory", str(self.input_dir)]
        if self.frontend not in (None, BUNDLED_FRONTEND):
            args += ["--front-end-root", str(ensure_frontend(self.frontend))]
        if self.models_dir is not None:
            extra = self.workdir / "extra_model_paths.yaml"
            folders = ("diffusion_models", "vae", "vae_approx", "text_encoders")
            extra.write_text("realcam_tests:\n    base_path: " + str(self.models_dir) + "\n" +
                             "".join(f"    {f}: {f}\n" for f in folders))
            args += ["--extra-model-paths-config", str(extra)]
        for d in (self.workdir, self.input_dir, self.workdir / "output", self.workdir / "temp"):
            d.mkdir(parents=True, exist_ok=True)  # a missing input folder makes core video nodes fail to import
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, cwd=self.tree, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(self.url + "/system_stats", timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not start within {timeout:.0f}s:\n{self.log_tail()}")

    def post_json(self, path: str, payload: dict):
        req = urllib.request.Request(self.url + path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:  # ComfyUI answers validation errors with 400 + JSON
            return json.load(e)

    def run_prompt(self, prompt: dict, timeout: float = 600.0) -> dict:
        """Queue an API workflow and wait for its history entry; raises with the node errors if invalid."""
        answer = self.post_json("/prompt", {"prompt": prompt, "client_id": "realcam-tests"})
        if "prompt_id" not in answer:
            raise RuntimeError(f"ComfyUI refused the workflow: {json.dumps(answer)[:3000]}")
        pid = answer["prompt_id"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            history = self.get_json(f"/history/{pid}")
            if pid in history and history[pid]["status"].get("completed") is not None:
                return history[pid]
            time.sleep(0.2)
        raise TimeoutError(f"workflow did not finish in {timeout:.0f}s:\n{self.log_tail()}")

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.load(r)

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None
