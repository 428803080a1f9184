"""Live camera updates for running streams: a bounded, thread-safe mailbox per running session.

A streaming run *opens* its session id for as long as it runs (:meth:`LiveCameras.open`, closed in a
``finally``); a client (the web widget, through the pack's route) posts a trajectory JSON for that id, and
the renderer polls :meth:`LiveCameras.newest` before each chunk and steers to it. A post is parsed, sampled at
the running stream's length and checked *before* it is accepted, so one that does not fit is refused at
POST time instead of stopping the stream; a post for a session no run holds is refused (a path posted while
idle, or after an interrupted run, cannot steer the next run). At most ``MAX_SESSIONS`` runs hold a session
at once and each keeps only its newest path, so memory stays bounded however many posts arrive.

A run asked for the session ``auto`` holds a fresh, unguessable id (:func:`session_for_run`), which the node
tells only the client that queued the prompt: no other client can steer it. A fixed name is as private as
the name itself.
"""
from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass

import torch

from .camera.trajectory_json import check_poses, parse_trajectory

MAX_SESSIONS = 16
SESSION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
AUTO = "auto"      # live_session value: this run gets its own random session id


class LiveCameraError(ValueError):
    """A refused live-camera request; ``status`` is the HTTP status the route answers with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def check_session_id(session) -> str:
    if not isinstance(session, str) or not SESSION_ID.fullmatch(session):
        raise LiveCameraError(f"session: expected 1-64 letters, digits or _.:- characters, got {str(session)[:70]!r}")
    return session


def session_for_run(requested: str) -> str | None:
    """The session a run holds: None for "" (no live steering), a fresh random id for ``auto``, else the name."""
    requested = requested.strip()
    if not requested:
        return None
    if requested == AUTO:
        return "run-" + secrets.token_urlsafe(18)
    return check_session_id(requested)


@dataclass
class _Run:
    video_frames: int
    poses: torch.Tensor | None = None    # the newest posted path, absolute latent-frame camera-to-world
    version: int = 0
    seen: int = 0


class LiveCameras:
    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self.max_sessions = max_sessions

    def __len__(self) -> int:
        return len(self._runs)

    def open(self, session: str, video_frames: int) -> None:
        """Claim ``session`` for a run of ``video_frames`` frames (until :meth:`close`)."""
        check_session_id(session)
        with self._lock:
            if session in self._runs:
                raise LiveCameraError(f"live session {session!r} is held by another running stream; give this run "
                                      "its own live_session name", status=409)
            if len(self._runs) >= self.max_sessions:
                raise LiveCameraError(f"{self.max_sessions} streams already take live camera updates; wait for one "
                                      "to finish or leave live_session empty", status=503)
            self._runs[session] = _Run(video_frames)

    def post(self, session: str, trajectory_json: str | dict) -> int:
        """Validate a new camera path for the run holding ``session``; returns its version number."""
        check_session_id(session)
        spec = parse_trajectory(trajectory_json)                     # bounded by the schema's limits
        with self._lock:
            run = self._runs.get(session)
        if run is None:
            raise LiveCameraError(f"no stream is running under live session {session!r}: start the run first "
                                  "(a path posted while idle would steer the next run)", status=404)
        poses = spec.build(run.video_frames).latent_c2w()          # fits this stream, or the post is refused
        check_poses(poses, "trajectory")
        with self._lock:
            if self._runs.get(session) is not run:
                raise LiveCameraError(f"the stream under live session {session!r} ended", status=404)
            run.version += 1
            run.poses = poses
            return run.version

    def newest(self, session: str, first_latent_frame: int) -> torch.Tensor | None:
        """Absolute latent-frame poses from ``first_latent_frame`` on, if a newer path arrived since the last call."""
        with self._lock:
            run = self._runs.get(session)
            if run is None or run.poses is None or run.seen == run.version:
                return None
            run.seen = run.version
            return run.poses[first_latent_frame:]

    def close(self, session: str) -> None:
        with self._lock:
            self._runs.pop(session, None)


LIVE_CAMERAS = LiveCameras()
