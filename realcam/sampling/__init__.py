"""Samplers: flow-matching schedules, the bidirectional teacher sampler, the streaming session."""
from .schedules import SOLVERS, Sampler, flow_sigmas, renoise, shift_sigma, to_x0, warp_timesteps
from .streaming import ChunkResult, EndOfSource, StreamingSession
from .teacher import Interrupted, sample_teacher

__all__ = ["SOLVERS", "Sampler", "flow_sigmas", "renoise", "shift_sigma", "to_x0", "warp_timesteps",
           "ChunkResult", "EndOfSource", "StreamingSession", "Interrupted", "sample_teacher"]
