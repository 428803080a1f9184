"""The repository explains itself: every file it names is in it, and the linter passes."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = (".py", ".md", ".sh", ".yaml", ".toml", ".js", ".txt", ".cfg", "")
# repository paths: a known top-level folder followed by a path, or any *.md name
REF = re.compile(r"(?<![\w./-])((?:docs|scripts|configs|tests|realcam|nodes|workflows|web|\.ci)/[\w./-]*[\w]"
                 r"|[\w./-]*[A-Za-z_]\.md)\b")


# names that look like paths but are not files of this repository
NOT_FILES = {"realcam/teacher", "realcam/streaming", "realcam/recammaster", "realcam/tiny",   # SaveVideo filename prefixes
             "gpu_bench.md"}                                                                 # scripts/gpu_bench.sh's report


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.splitlines() if Path(p).suffix in TEXT and (ROOT / p).is_file()]


def test_every_referenced_file_exists():
    missing = []
    for path in _tracked():
        text = path.read_text(errors="replace")
        for m in REF.finditer(text):
            ref = m.group(1).rstrip(".")
            if ref in NOT_FILES:
                continue
            candidates = [ROOT / ref, path.parent / ref, ROOT / "docs" / ref]
            if not any(c.exists() or c.with_suffix(".py").exists() for c in candidates):
                missing.append(f"{path.relative_to(ROOT)}: {ref}")
    assert missing == [], "files named but not in the repository:\n" + "\n".join(missing)


def test_ruff_passes():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (the dev extra installs it)")
    out = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
