"""Live camera updates for running streams: a thread-safe mailbox per session id.

A client (the web widget, through the pack's route) posts a trajectory JSON for a session; the
streaming renderer polls :meth:`LiveCameras.newest` before each chunk and steers to it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from .camera.trajectory_json import TrajectorySpec, parse_trajectory


@dataclass
class _Entry:
    spec: TrajectorySpec
    version: int


class LiveCameras:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._seen: dict[str, int] = {}

    def post(self, session: str, trajectory_json: str | dict) -> int:
        """Validate and store a new camera path for ``session``; returns its version number."""
        if not session:
            raise ValueError("a live camera update needs a session id")
        spec = parse_trajectory(trajectory_json)
        with self._lock:
            version = self._entries[session].version + 1 if session in self._entries else 1
            self._entries[session] = _Entry(spec, version)
            return version

    def newest(self, session: str, video_frames: int, first_latent_frame: int) -> torch.Tensor | None:
        """Absolute latent-frame poses from ``first_latent_frame`` on, if a newer path arrived since the last call."""
        with self._lock:
            entry = self._entries.get(session)
            if entry is None or self._seen.get(session) == entry.version:
                return None
            self._seen[session] = entry.version
        return entry.spec.build(video_frames).latent_c2w()[first_latent_frame:]

    def close(self, session: str) -> None:
        with self._lock:
            self._entries.pop(session, None)
            self._seen.pop(session, None)


LIVE_CAMERAS = LiveCameras()
