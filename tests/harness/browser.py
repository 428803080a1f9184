"""Headless Chromium driven by npm ``playwright-core`` (no browser download: Debian's chromium).

``browser_tools()`` returns (node, chromium, node_modules dir) or raises ``BrowserUnavailable``. CI
installs the pieces in ``.ci/run`` (apt ``chromium``; ``playwright-core`` into the ignored ``.comfyui/pw``).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .comfyui import DEFAULT_ROOT

PLAYWRIGHT_VERSION = "1.65.1"
PW_DIR = DEFAULT_ROOT / "pw"


class BrowserUnavailable(RuntimeError):
    pass


def ensure_playwright() -> Path:
    modules = PW_DIR / "node_modules"
    if not (modules / "playwright-core").exists():
        if shutil.which("npm") is None:
            raise BrowserUnavailable("npm is not installed")
        PW_DIR.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["npm", "install", "-s", "--no-audit", "--no-fund", f"playwright-core@{PLAYWRIGHT_VERSION}"],
                              cwd=PW_DIR, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BrowserUnavailable(f"npm install playwright-core failed: {proc.stderr[-500:]}")
    return modules


def browser_tools() -> tuple[str, str, Path]:
    node = shutil.which("node")
    chromium = shutil.which("chromium")
    if node is None:
        raise BrowserUnavailable("node is not installed")
    if chromium is None:
        raise BrowserUnavailable("chromium is not installed (Debian package 'chromium')")
    return node, chromium, ensure_playwright()


if __name__ == "__main__":
    print(browser_tools())


def run_script(script: Path, *args: str, timeout: float = 600, context: str = "") -> dict:
    """Run a Node/playwright script with our chromium and return the JSON object on its last stdout line.

    Skips the calling test when the browser tools are missing outside CI; fails in CI.
    """
    import json
    import os

    import pytest

    try:
        node, chromium, modules = browser_tools()
    except BrowserUnavailable as e:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise
        pytest.skip(str(e))
    proc = subprocess.run([node, str(script), *args, chromium], capture_output=True, text=True, timeout=timeout,
                          env={"NODE_PATH": str(modules), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:] + "\n" + context
    return json.loads(proc.stdout.strip().splitlines()[-1])
