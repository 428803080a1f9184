"""Configurations: the Wan backbone sizes, RealCam conditioning options and streaming settings.

Every option the method leaves open (see docs/method.md) is a field here with the project's default,
so weights trained another way can be matched. Configs are plain frozen dataclasses; they travel in a
RealCam checkpoint's safetensors metadata as JSON (``to_json`` / ``from_json``).
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected an object of settings, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown field(s) {unknown}; known fields are {sorted(names)}")
    kwargs = {}
    for k, v in data.items():
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    try:
        return cls(**kwargs)
    except TypeError as e:          # a value of the wrong type (e.g. "3" for a number) met a comparison
        raise ValueError(f"{cls.__name__}: a setting has the wrong type ({e})") from None


class _JsonMixin:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[arg-type]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        return _from_dict(cls, data)

    def override(self, **changes: Any):
        """A copy with the given fields replaced; ``None`` means "keep this one's value" (a node widget or CLI
        flag left at "from checkpoint")."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[type-var]

    @classmethod
    def from_json(cls, text: str):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{cls.__name__}: metadata is not valid JSON ({e})") from None
        return cls.from_dict(data)


WAN_LIMITS = {"dim": 16_384, "ffn_dim": 131_072, "num_heads": 256, "num_layers": 256, "in_dim": 1_024, "out_dim": 1_024,
              "text_dim": 16_384, "text_len": 4_096, "freq_dim": 4_096, "rope_max_positions": 1 << 20}


@dataclass(frozen=True)
class WanConfig(_JsonMixin):
    """Shape of a Wan DiT (docs/method.md, "Backbone"). ``name`` is informative only."""

    name: str
    dim: int
    ffn_dim: int
    num_heads: int
    num_layers: int
    in_dim: int = 16
    out_dim: int = 16
    patch_size: tuple[int, int, int] = (1, 2, 2)
    text_dim: int = 4096
    text_len: int = 512
    freq_dim: int = 256
    eps: float = 1e-6
    qk_norm: bool = True
    cross_attn_norm: bool = True
    rope_theta: float = 10000.0
    rope_max_positions: int = 1024
    vae_stride: tuple[int, int, int] = (4, 8, 8)

    def __post_init__(self) -> None:
        # shapes come from files too (metadata, tensor shapes): check them before anything is built from them
        for key, hi in WAN_LIMITS.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                raise ValueError(f"{self.name}: {key}={v!r} must be a whole number in [1, {hi:,}]")
        patch = self.patch_size
        if not (isinstance(patch, tuple) and len(patch) == 3 and all(isinstance(p, int) and not isinstance(p, bool)
                                                                   and 1 <= p <= 16 for p in patch)):
            raise ValueError(f"{self.name}: patch_size={patch!r} must be 3 whole numbers in [1, 16]")
        for key in ("eps", "rope_theta"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{self.name}: {key}={v!r} must be a finite number > 0")
        if self.dim % self.num_heads:
            raise ValueError(f"{self.name}: dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.head_dim % 2 or self.head_dim < 6:
            raise ValueError(f"{self.name}: head_dim {self.head_dim} must be even and >= 6 for 3D RoPE")

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def vae_name(self) -> str:
        """The VAE family whose latents this backbone reads."""
        return "wan2.2" if self.in_dim == 48 else "wan2.1"

    def replace(self, **changes: Any) -> "WanConfig":
        return dataclasses.replace(self, **changes)


ConditioningMode = Literal["interleave", "prefix"]
RopeTemporal = Literal["sequential", "shared"]
SourceTimestep = Literal["shared", "zero"]
PoseReference = Literal["first", "previous"]
CameraTokens = Literal["frame", "rays"]
RopePositions = Literal["grid", "rays"]
PixelGuideViews = Literal["first", "nearest"]


@dataclass(frozen=True)
class ConditioningConfig(_JsonMixin):
    """How source video and camera enter the model (docs/method.md, "Teacher").

    - ``mode``: ``interleave`` = ``[zs1, zt1, zs2, zt2, ...]`` (RealCam), ``prefix`` = ``[target | source]``
      (ReCamMaster).
    - ``rope_temporal``: ``sequential`` gives each sequence frame its own temporal position (interleave:
      source i at 2i, target i at 2i+1; prefix: target i at i, source i at f+i); ``shared`` puts source i
      and target i both at i.
    - ``source_timestep``: ``shared`` = one scalar t for the whole sequence (source tokens are clean but
      see the target's t); ``zero`` = per-frame timesteps with t=0 on source frames.
    - ``camera_on_source``: add the target pose of index i to source frame i too (ReCamMaster) or only
      to target frames.
    - ``pose_reference``: poses relative to the first target pose (default) or to the previous frame.
    - ``camera_tokens``: ``frame`` = one 12-number pose per frame, added to all its tokens (ReCamMaster);
      ``rays`` = per token, Fourier features and Plücker coordinates of the ray through it
      (:mod:`realcam.camera.rays`), with source tokens given their own camera's rays (the identity: the source's
      first camera is the reference) instead of the target's pose. ``ray_fov_deg``: the horizontal field of view
      the rays assume.
    - ``source_cameras`` (rays only): source token rays follow the source's own cameras (poses relative to its
      first one) where the caller knows them; without them the source is taken as held still at its first pose.
    - ``rope_positions`` (rays only): ``grid`` = the spatial RoPE position of a token is its row and column;
      ``rays`` = where the point ``rope_depth`` metres along its ray lands in the reference camera's picture (in
      token units), so that "the same position" means "the same point of the scene" across cameras and a
      model that copies the source at equal positions warps it (:func:`realcam.camera.rays.reference_positions`).
      ``rope_depth``: one depth for every head, or several (a list whose length divides the number of heads): the
      heads are split into that many equal groups, each matching rays at its own depth, like the planes of a
      plane sweep (a turn needs no depth; a move is exact only for points at the depth a head assumes).
    - ``source_warp`` (rays only): depths in metres of planes through which every source latent frame is
      reprojected into the target camera of the same latent frame (:func:`realcam.camera.rays.warp_latents`); the
      reprojections enter the target tokens through their own zero-initialised patch embedding, so a model given
      this option starts as the one it was loaded from. Empty (the default): off. A turn needs no depth; under a
      move a plane is right only for the points at its depth, so the model learns what to take from which.
    - ``source_warp_first`` (with ``source_warp``): also the source's *first* latent frame reprojected into every
      target frame through the same planes (more guide channels, after the same-time ones; their weights start at
      zero, so a model given this option starts as the one it was loaded from). The target path starts at the
      source's first camera, so that frame's camera is the reference — known even when the source's path is not —
      and it sees most of what a target that turns away from its start sees; the same-time source frame may have
      moved elsewhere (docs/results.md, "World v2: the source's first frame as a guide").
    - ``pixel_guide_depth``: above 0, one more guide (after the others, its weights starting at zero): the source's
      first *video* frame reprojected on pixels from the reference camera into every target camera through the
      plane this many metres ahead, then encoded by the VAE (:mod:`realcam.guide`; whoever holds the VAE makes it
      and passes it in). Resampling latents blurs a reprojection; encoding reprojected pixels keeps its detail
      (docs/results.md, "World v2: a guide made from the source's pixels"). 0 (the default): off.
    - ``pixel_guide_skip`` (with ``pixel_guide_depth``): a second output head predicts, per latent value, how much of
      the pixel guide to take as the clean target: the prediction ``x0 = x_t − σ·v`` becomes ``x0 + g·(guide − x0)``
      (:meth:`realcam.model.RealCamDiT.take_from_guide`). The head starts at zero (g = 0), so a model given this option
      starts as the one it was loaded from. Where the guide is right — a turn, inside the first frame's view — the
      model can pass it through exactly instead of rebuilding it through the transformer, which returns a softened
      copy (docs/results.md, "World v2: taking the guide as it is"). False (the default): off.
    - ``pixel_guide_sweep`` (with ``pixel_guide_depth``): plane depths in metres (2 to 32, increasing). When the
      source's own camera path is known, the depth of every pixel of its first frame is estimated from the source's
      motion by sweeping these planes (:func:`realcam.guide.guide_depth`), and the guide is reprojected through
      those depths, layer by layer, instead of through the one plane: the parallax of an arc, a zoom or a sideways
      move comes out right where the source moved enough to show it. Where it did not (a source that only turns, a
      plain region), and whenever the path is unknown, the pixel keeps ``pixel_guide_depth``. This changes how the
      guide is made, not the weights' shapes: a checkpoint trained with one plane can read it (docs/results.md,
      "World v2: the guide's depth from the source's motion"). Empty (the default): one plane.
    - ``pixel_guide_sweep_smooth`` (with ``pixel_guide_sweep``): two penalties ``[p1, p2]`` (0 ≤ p1 ≤ p2 ≤ 3, in the
      sweep's cost units: summed absolute RGB difference) for which the sweep's costs are aggregated semi-globally
      before each pixel takes its cheapest plane (:func:`realcam.camera.rays.semi_global_costs`): depth then follows
      the picture across plain regions and edges instead of being decided pixel by pixel. Like the planes it changes
      how the guide is made, not the weights (docs/results.md, "World v2: a smoother depth from the source's
      motion"). Empty (the default): each pixel's own box-averaged costs decide.
    - ``pixel_guide_views`` (with ``pixel_guide_sweep``): which source frames the swept guide is drawn from.
      ``"first"`` (the default): the first frame, for every target camera. ``"nearest"``: for each latent frame, the
      first frame or the source frame that latent frame starts at (the same moment), whichever was filmed from nearer
      the target camera, each through its own swept depth (:func:`realcam.guide.key_depths`), with the other one's
      layers filling what it does not cover and the plane under both (:func:`realcam.guide.nearest_views`): a target
      that follows the source's own motion — rising with it, moving forward with it — is drawn from a frame filmed
      near it. Like the sweep it needs the source's path and changes how the guide is made, not the weights
      (docs/results.md, "World v2: the guide drawn from the nearer source frame").
    - ``pixel_guide_strength`` (with ``pixel_guide_skip``; it acts with ``pixel_guide_sweep``): how much more (above 1) or less
      (below 1) of the pixel guide to take than the gate says, where the guide is drawn through the depth the
      source's motion shows (a render given the source's path, where the sweep found depth): the gate ``g`` becomes
      ``min(s·g, max(g, 1))`` — scaled, but never pushed past taking all of the guide unless the model itself already
      asks for more (:meth:`realcam.model.RealCamDiT.guide_share`). The gate is taught where the guide beats the
      model's own estimate, which is a probability, not the share that brings the estimate nearest the truth; a
      strength above 1 takes more where the guide is likely right. Without the path, or where the source's motion
      showed no depth (it only turned), the guide is the one plane, wrong under a move, and the gate is taken as
      trained; training always takes it so (docs/results.md, "World v2: a stronger guide"). It changes how the guide
      is taken, not the weights. 1 (the default): the gate as trained.
    - ``pixel_guide_agreement`` A (with ``pixel_guide_skip`` and ``pixel_guide_views: nearest``): where the guide's two
      views — the first frame and the source frame a latent frame starts at, each reprojected through its own swept
      depth — agree, take the gate's share up to A times, and as trained where they do not: per latent value of a
      latent frame with both views the strength is ``1 + (A − 1)·a``, ``a`` the share of the latent cell's pixels
      where both views reach and agree (:func:`realcam.guide.view_agreement`,
      :meth:`realcam.guide.PixelGuide.strengths`); latent frames with one view (the first) keep
      ``pixel_guide_strength``. Where two cameras confirm the depth the guide is drawn through, it is likely right;
      where they do not, it is likely wrong; the gate alone cannot see either, as it reads one view.
      Like the strength it acts only on the swept guide and changes how the guide is taken, not the weights
      (docs/results.md, "World v2: where the guide's two views agree"). 0 (the default): off.
    - ``pixel_guide_depth_net`` W (with ``pixel_guide_sweep``): above 0, the checkpoint carries a network of width W
      that reads the depth of a single frame (:class:`realcam.model.depth_net.DepthNet`, the ``depth_net.*``
      tensors), and the guide is drawn through its depth instead of the sweep's: the first frame's (and with
      ``pixel_guide_views: nearest`` each key frame's) every pixel on one of the ``pixel_guide_sweep`` planes, which the
      network classifies into. It needs no camera path: a source whose path is unknown is drawn through the network's
      depth too, where it would otherwise keep the one plane, and ``pixel_guide_strength`` acts on it as on a swept
      guide. The sweep needs motion to see depth; the network guesses it everywhere (docs/results.md, "World v2: a
      depth learned from single frames"). ``pixel_guide_depth_net_size``: the longer side of the frames it was
      trained on, which it reads every frame at (64). The network is trained on its own
      (``scripts/depth_net_probe.py train``) and attached with ``python -m realcam set-guide-depth-net``; training the
      DiT leaves it as it is. 0 (the default): off, the sweep decides.
    """

    mode: ConditioningMode = "interleave"
    rope_temporal: RopeTemporal = "sequential"
    source_timestep: SourceTimestep = "shared"
    camera_on_source: bool = True
    pose_reference: PoseReference = "first"
    camera_tokens: CameraTokens = "frame"
    ray_fov_deg: float = 60.0
    source_cameras: bool = False
    rope_positions: RopePositions = "grid"
    rope_depth: float | tuple[float, ...] = 4.0
    source_warp: tuple[float, ...] = ()
    source_warp_first: bool = False
    pixel_guide_depth: float = 0.0
    pixel_guide_skip: bool = False
    pixel_guide_sweep: tuple[float, ...] = ()
    pixel_guide_sweep_smooth: tuple[float, ...] = ()
    pixel_guide_views: PixelGuideViews = "first"
    pixel_guide_strength: float = 1.0
    pixel_guide_agreement: float = 0.0
    pixel_guide_depth_net: int = 0
    pixel_guide_depth_net_size: int = 64

    def __post_init__(self) -> None:
        for name, allowed in (("mode", ("interleave", "prefix")), ("rope_temporal", ("sequential", "shared")),
                              ("source_timestep", ("shared", "zero")), ("pose_reference", ("first", "previous")),
                              ("camera_tokens", ("frame", "rays")), ("rope_positions", ("grid", "rays")),
                              ("pixel_guide_views", ("first", "nearest"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"conditioning {name}={getattr(self, name)!r}; choose one of {allowed}")
        if self.camera_tokens == "rays" and self.pose_reference != "first":
            raise ValueError("conditioning camera_tokens='rays' needs pose_reference='first': rays of target and source "
                             "tokens must share one reference camera")
        if self.source_cameras and self.camera_tokens != "rays":
            raise ValueError("conditioning source_cameras=true needs camera_tokens='rays' (source tokens carry their "
                             "camera as rays)")
        if self.rope_positions == "rays" and self.camera_tokens != "rays":
            raise ValueError("conditioning rope_positions='rays' needs camera_tokens='rays' (source tokens must carry "
                             "their own camera, not the target's)")
        if isinstance(self.rope_depth, list):          # from JSON or a --set override: hashable like every field
            object.__setattr__(self, "rope_depth", tuple(self.rope_depth))
        depths = self.rope_depths
        if not 1 <= len(depths) <= 64 or any(isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 1e6
                                             for d in depths):
            raise ValueError(f"conditioning rope_depth={self.rope_depth!r}; give the depth in metres at which rays are "
                             "matched (or a list of up to 64, one per group of heads), each above 0 and at most 1e6 "
                             "(large = directions only)")
        if isinstance(self.source_warp, (int, float)) and not isinstance(self.source_warp, bool):
            object.__setattr__(self, "source_warp", (self.source_warp,))   # one depth given as a number
        elif isinstance(self.source_warp, list):
            object.__setattr__(self, "source_warp", tuple(self.source_warp))
        if not isinstance(self.source_warp, tuple) or len(self.source_warp) > 8 or any(
                isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 1e6 for d in self.source_warp):
            raise ValueError(f"conditioning source_warp={self.source_warp!r}; give a list of up to 8 plane depths in "
                             "metres, each above 0 and at most 1e6 (large = directions only), or [] for off")
        if self.source_warp and self.camera_tokens != "rays":
            raise ValueError("conditioning source_warp needs camera_tokens='rays' (the reprojection goes from each "
                             "source frame's own camera to the target's)")
        if isinstance(self.pixel_guide_depth, bool) or not isinstance(self.pixel_guide_depth, (int, float)) or not (
                0 <= self.pixel_guide_depth <= 1e6):
            raise ValueError(f"conditioning pixel_guide_depth={self.pixel_guide_depth!r}; give the plane's depth in "
                             "metres (above 0, at most 1e6), or 0 for off")
        if self.pixel_guide_depth and self.camera_tokens != "rays":
            raise ValueError("conditioning pixel_guide_depth needs camera_tokens='rays' (the reprojection goes from the "
                             "reference camera to each target camera)")
        for flag, needs, what in (("source_warp_first", "source_warp", "source_warp planes (the first frame is "
                                                                         "reprojected through them)"),
                                   ("pixel_guide_skip", "pixel_guide_depth", "pixel_guide_depth (the guide it takes from)")):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"conditioning {flag}={getattr(self, flag)!r}; give true or false")
            if getattr(self, flag) and not getattr(self, needs):
                raise ValueError(f"conditioning {flag}=true needs {what}")
        if isinstance(self.pixel_guide_sweep, list):
            object.__setattr__(self, "pixel_guide_sweep", tuple(self.pixel_guide_sweep))
        sweep = self.pixel_guide_sweep
        if not isinstance(sweep, tuple) or (sweep and not 2 <= len(sweep) <= 32) or any(
                isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 1e6 for d in sweep) or any(
                a >= b for a, b in zip(sweep, sweep[1:])):
            raise ValueError(f"conditioning pixel_guide_sweep={self.pixel_guide_sweep!r}; give 2 to 32 increasing plane "
                             "depths in metres, each above 0 and at most 1e6 (large = the horizon), or [] for one plane")
        if sweep and not self.pixel_guide_depth:
            raise ValueError("conditioning pixel_guide_sweep needs pixel_guide_depth (the guide it makes, and the depth "
                             "kept where the source's motion does not tell)")
        if isinstance(self.pixel_guide_sweep_smooth, list):
            object.__setattr__(self, "pixel_guide_sweep_smooth", tuple(self.pixel_guide_sweep_smooth))
        smooth = self.pixel_guide_sweep_smooth
        if not isinstance(smooth, tuple) or len(smooth) not in (0, 2) or any(
                isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 3 for p in smooth) or (
                smooth and smooth[0] > smooth[1]):
            raise ValueError(f"conditioning pixel_guide_sweep_smooth={self.pixel_guide_sweep_smooth!r}; give two "
                             "penalties [p1, p2] with 0 <= p1 <= p2 <= 3 (a step to the next plane, a larger jump), or "
                             "[] to decide each pixel alone")
        if smooth and not sweep:
            raise ValueError("conditioning pixel_guide_sweep_smooth needs pixel_guide_sweep (the planes whose costs it "
                             "aggregates)")
        if self.pixel_guide_views != "first" and not sweep:
            raise ValueError(f"conditioning pixel_guide_views={self.pixel_guide_views!r} needs pixel_guide_sweep (each "
                             "source frame is drawn through the depth the sweep finds for it)")
        strength = self.pixel_guide_strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 4:
            raise ValueError(f"conditioning pixel_guide_strength={strength!r}; give a number from 0 to 4 (1: the gate as "
                             "trained; above 1 takes more of the pixel guide)")
        if strength != 1 and not self.pixel_guide_skip:
            raise ValueError(f"conditioning pixel_guide_strength={strength!r} needs pixel_guide_skip (the gate it scales)")
        agreement = self.pixel_guide_agreement
        if isinstance(agreement, bool) or not isinstance(agreement, (int, float)) or not (
                agreement == 0 or 1 <= agreement <= 8):
            raise ValueError(f"conditioning pixel_guide_agreement={agreement!r}; give 0 (off) or a strength from 1 to 8 "
                             "for the gate's share where the guide's two views agree")
        if agreement and (not self.pixel_guide_skip or self.pixel_guide_views != "nearest"):
            raise ValueError(f"conditioning pixel_guide_agreement={agreement!r} needs pixel_guide_skip (the gate it "
                             "scales) and pixel_guide_views nearest (the second view it compares the first frame with)")
        net, side = self.pixel_guide_depth_net, self.pixel_guide_depth_net_size
        if isinstance(net, bool) or not isinstance(net, int) or not (net == 0 or (8 <= net <= 256 and net % 8 == 0)):
            raise ValueError(f"conditioning pixel_guide_depth_net={net!r}; give the depth network's width (a multiple of "
                             "8 from 8 to 256; the checkpoint's depth_net tensors) or 0 for off")
        if net and not sweep:
            raise ValueError("conditioning pixel_guide_depth_net needs pixel_guide_sweep (the planes its network "
                             "classifies each pixel into)")
        if isinstance(side, bool) or not isinstance(side, int) or not (16 <= side <= 1024 and side % 8 == 0):
            raise ValueError(f"conditioning pixel_guide_depth_net_size={side!r}; give the longer side in pixels of the "
                             "frames the depth network was trained on (a multiple of 8 from 16 to 1024)")
        if side != 64 and not net:
            raise ValueError(f"conditioning pixel_guide_depth_net_size={side!r} needs pixel_guide_depth_net (the network "
                             "that reads frames at that size)")
        if not isinstance(self.ray_fov_deg, (int, float)) or not 0 < self.ray_fov_deg < 180:
            raise ValueError(f"conditioning ray_fov_deg={self.ray_fov_deg!r}; give the field of view in degrees, "
                             "between 0 and 180")

    @property
    def guide_reprojections(self) -> int:
        """How many reprojections of the source the guide stacks: one per plane, twice with ``source_warp_first``, and
        one more with ``pixel_guide_depth``."""
        return len(self.source_warp) * (2 if self.source_warp_first else 1) + (1 if self.pixel_guide_depth else 0)

    @property
    def rope_depths(self) -> tuple[float, ...]:
        """``rope_depth`` as a tuple: one depth per group of heads."""
        return tuple(self.rope_depth) if isinstance(self.rope_depth, (tuple, list)) else (self.rope_depth,)

    def replace(self, **changes: Any) -> "ConditioningConfig":
        return dataclasses.replace(self, **changes)


RECAMMASTER_CONDITIONING = ConditioningConfig(mode="prefix", rope_temporal="sequential", source_timestep="shared",
                                              camera_on_source=True, pose_reference="first")
CONDITIONING_PRESETS: dict[str, ConditioningConfig] = {
    "interleave": ConditioningConfig(),          # RealCam (paper defaults, docs/method.md)
    "prefix": RECAMMASTER_CONDITIONING,          # ReCamMaster
}


@dataclass(frozen=True)
class StreamingConfig(_JsonMixin):
    """Settings of the causal student (docs/method.md, "Student")."""

    chunk_latent_frames: int = 3
    sink_chunks: int = 1
    window_chunks: int = 5
    denoising_steps: tuple[float, ...] = (1000.0, 750.0, 500.0)
    shift: float = 5.0
    context_noise: float = 0.0
    rope_mode: Literal["absolute", "cache_slot"] = "absolute"

    def __post_init__(self) -> None:
        if self.chunk_latent_frames < 1 or self.sink_chunks < 0 or self.window_chunks < 0:
            raise ValueError("streaming: chunk_latent_frames >= 1, sink_chunks >= 0 and window_chunks >= 0 are required")
        if not self.denoising_steps:
            raise ValueError("streaming: denoising_steps must list at least one timestep")
        object.__setattr__(self, "denoising_steps", tuple(float(t) for t in self.denoising_steps))
        check_shift("streaming", self.shift)
        if self.rope_mode not in ("absolute", "cache_slot"):
            raise ValueError(f"streaming rope_mode={self.rope_mode!r}; choose 'absolute' or 'cache_slot'")


SigmaGrid = Literal["wan", "diffsynth", "diffusers"]
SIGMA_GRIDS = ("wan", "diffsynth", "diffusers")
TEACHER_SOLVERS = ("unipc", "euler")


@dataclass(frozen=True)
class TeacherSamplingConfig(_JsonMixin):
    """How the bidirectional teacher samples by default (a checkpoint carries its own; see docs/method.md).

    ``grid``: where the sigmas sit — ``wan`` (official Wan: ``linspace(0.999, 0)`` without its last point,
    integer timesteps), ``diffsynth`` (DiffSynth-Studio, which ReCamMaster's release uses: ``linspace(1, 0)``,
    float timesteps) or ``diffusers`` (diffusers' flow UniPC: ``linspace(1, 0.001)``, integer timesteps);
    every grid is shifted and ends at σ = 0.
    """

    steps: int = 50
    shift: float = 5.0
    guidance: float = 5.0
    solver: Literal["unipc", "euler"] = "unipc"
    grid: SigmaGrid = "wan"

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or not 1 <= self.steps <= 1000:
            raise ValueError(f"teacher sampling steps={self.steps!r}; use a whole number from 1 to 1000")
        check_shift("teacher sampling", self.shift)
        if not (isinstance(self.guidance, (int, float)) and math.isfinite(self.guidance) and self.guidance >= 0):
            raise ValueError(f"teacher sampling guidance={self.guidance!r}; use a finite number >= 0 (1 = no CFG)")
        if self.solver not in TEACHER_SOLVERS:
            raise ValueError(f"teacher sampling solver={self.solver!r}; choose one of {TEACHER_SOLVERS}")
        if self.grid not in SIGMA_GRIDS:
            raise ValueError(f"teacher sampling grid={self.grid!r}; choose one of {SIGMA_GRIDS}")


def check_shift(what: str, shift: float) -> None:
    """Every shift (settings, checkpoint metadata, API calls) must be finite and > 0: else sampling yields NaN."""
    if not (isinstance(shift, (int, float)) and math.isfinite(shift) and shift > 0):
        raise ValueError(f"{what}: shift={shift!r} must be a finite number > 0 (5 is Wan's default)")


# Official Wan T2V sampling (UniPC, 50 steps, shift 5, CFG 5) and ReCamMaster's released inference script
# (DiffSynth's Euler, 50 steps, shift 5, CFG 5): the defaults for files that carry no settings of their own.
WAN_SAMPLING = TeacherSamplingConfig()
RECAMMASTER_SAMPLING = TeacherSamplingConfig(solver="euler", grid="diffsynth")


# --- named backbone sizes (docs/method.md, "Backbone") ------------------------------------------------------

WAN21_T2V_1_3B = WanConfig("wan2.1-t2v-1.3b", dim=1536, ffn_dim=8960, num_heads=12, num_layers=30)
WAN21_T2V_14B = WanConfig("wan2.1-t2v-14b", dim=5120, ffn_dim=13824, num_heads=40, num_layers=40)
WAN22_TI2V_5B = WanConfig("wan2.2-ti2v-5b", dim=3072, ffn_dim=14336, num_heads=24, num_layers=30,
                          in_dim=48, out_dim=48, vae_stride=(4, 16, 16))
# Tiny sizes for tests and the embedded demo model: real layout, small widths.
TINY = WanConfig("tiny", dim=64, ffn_dim=128, num_heads=4, num_layers=2, text_dim=32, text_len=16, freq_dim=32)
TINY_22 = WanConfig("tiny-2.2", dim=64, ffn_dim=128, num_heads=4, num_layers=2, in_dim=48, out_dim=48,
                    text_dim=32, text_len=16, freq_dim=32, vae_stride=(4, 16, 16))

CONFIGS: dict[str, WanConfig] = {c.name: c for c in (WAN21_T2V_1_3B, WAN21_T2V_14B, WAN22_TI2V_5B, TINY, TINY_22)}
RELEASED_CONFIGS = (WAN21_T2V_1_3B, WAN21_T2V_14B, WAN22_TI2V_5B)


def get_config(name: str) -> WanConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(f"unknown model config {name!r}; known: {', '.join(CONFIGS)}") from None
