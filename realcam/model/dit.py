"""The Wan DiT with RealCam camera conditioning.

Module and parameter names follow the official Wan / ComfyUI state dict (``blocks.N.self_attn.q``,
``blocks.N.modulation``, ``head.head`` …) plus ReCamMaster's per-block ``cam_encoder`` and
``projector``, so those files load with no renaming. One block (docs/method.md, "Backbone"):

    h  = norm1(x)·(1 + e1) + e0
    x += e2 · projector(SelfAttn(h + cam_encoder(pose)))       # camera layers: ReCamMaster layout
    x += CrossAttn(norm3(x), text)
    x += e5 · FFN(norm2(x)·(1 + e4) + e3)

``cam_encoder`` starts at zero and ``projector`` at the identity, so a fresh RealCam model computes
exactly plain Wan. Timesteps may be one per sample (``[B]``) or one per sequence frame (``[B, F]``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.utils.checkpoint
from torch import nn

from ..camera.rays import RAY_DIM, ray_features, reference_positions, warp_latents
from ..config import ConditioningConfig, StreamingConfig, TeacherSamplingConfig, WanConfig
from .attention import AttentionMask, Backend, attention
from .depth_net import DepthNet
from .kv_cache import BlockKV, KVCache
from .layers import (CastLinear, LayerNorm, RMSNorm, gated, identity_linear_, modulate, sinusoidal_embedding,
                     xavier_linear_)
from .rope import Rope, grid_positions, make_rope
from .sequence import SequenceLayout

CAMERA_DIM = 12  # flattened 3x4 camera-to-world, row-major


@dataclass(frozen=True)
class CameraInput:
    """Cameras for a sequence: ``poses`` ``[B, F, 12]`` per sequence frame, or per-token ray features
    ``[B, F, N, RAY_DIM]`` (``camera_tokens='rays'``), and an optional ``weight`` ``[F]`` (1 where the
    embedding is added, 0 where not: applied after ``cam_encoder`` so its bias is removed too)."""

    poses: torch.Tensor
    weight: torch.Tensor | None = None

    def embed(self, cam_encoder: nn.Module) -> torch.Tensor:
        """``[B, F, 1 or N, C]``: one embedding per frame (broadcast over its tokens) or per token."""
        emb = cam_encoder(self.poses)
        if emb.ndim == 3:
            emb = emb[:, :, None]
        return emb if self.weight is None else emb * self.weight[None, :, None, None]


@dataclass(frozen=True)
class TokenGrid:
    """Token layout of a patchified latent: ``frames × height × width`` tokens."""

    frames: int
    height: int
    width: int

    @property
    def per_frame(self) -> int:
        return self.height * self.width

    def __len__(self) -> int:
        return self.frames * self.per_frame


@dataclass
class GateReading:
    """What :meth:`RealCamDiT.forward` hands back besides the velocity for ``conditioning.pixel_guide_skip``, when
    asked (training reads it): ``gate``, the share of the pixel guide taken per latent value, and ``velocity``, the
    model's own velocity before any of the guide is taken; both ``[B, C, F, H, W]``, None until filled."""

    gate: torch.Tensor | None = None
    velocity: torch.Tensor | None = None


class SelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, eps: float, qk_norm: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q, self.k, self.v, self.o = (CastLinear(dim, dim) for _ in range(4))
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v as ``[B, L, H, D]``, normalised, not yet rotated."""
        heads = lambda t: t.unflatten(-1, (self.num_heads, -1))  # noqa: E731
        return heads(self.norm_q(self.q(x))), heads(self.norm_k(self.k(x))), heads(self.v(x))

    def forward(self, x: torch.Tensor, rope: Rope, mask: AttentionMask | None = None,
                backend: Backend = "auto", cache: BlockKV | None = None) -> torch.Tensor:
        q, k, v = self.project(x)
        if cache is not None:
            out = cache.attend(q, k, v, rope, backend)
        else:
            out = attention(rope.apply(q), rope.apply(k), v, mask=mask, backend=backend)
        return self.o(out.flatten(2))


class CrossAttention(SelfAttention):
    """Text cross-attention: queries from the video tokens, keys/values from the text context."""

    def context_kv(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heads = lambda t: t.unflatten(-1, (self.num_heads, -1))  # noqa: E731
        return heads(self.norm_k(self.k(context))), heads(self.v(context))

    def forward(self, x: torch.Tensor, context_kv: tuple[torch.Tensor, torch.Tensor],  # type: ignore[override]
                backend: Backend = "auto") -> torch.Tensor:
        q = self.norm_q(self.q(x)).unflatten(-1, (self.num_heads, -1))
        k, v = context_kv
        return self.o(attention(q, k, v, backend=backend).flatten(2))


class WanBlock(nn.Module):
    def __init__(self, cfg: WanConfig, camera_layers: bool, camera_dim: int = CAMERA_DIM) -> None:
        super().__init__()
        dim = cfg.dim
        self.norm1 = LayerNorm(dim, cfg.eps, elementwise_affine=False)
        self.self_attn = SelfAttention(dim, cfg.num_heads, cfg.eps, cfg.qk_norm)
        self.norm3 = LayerNorm(dim, cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = CrossAttention(dim, cfg.num_heads, cfg.eps, cfg.qk_norm)
        self.norm2 = LayerNorm(dim, cfg.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(CastLinear(dim, cfg.ffn_dim), nn.GELU(approximate="tanh"), CastLinear(cfg.ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)
        if camera_layers:
            self.cam_encoder = CastLinear(camera_dim, dim)
            self.projector = CastLinear(dim, dim)
        else:
            self.cam_encoder = self.projector = None
        self._identity_key: tuple | None = None   # projector weights (storage, version) last checked
        self._identity = False

    def forward(self, x: torch.Tensor, e: torch.Tensor, grid: TokenGrid, rope: Rope,
                context_kv: tuple[torch.Tensor, torch.Tensor] | torch.Tensor, cam: CameraInput | None = None,
                mask: AttentionMask | None = None, backend: Backend = "auto",
                cache: BlockKV | None = None) -> torch.Tensor:
        """``x`` ``[B, L, C]`` tokens on ``grid``; ``e`` ``[B, F or 1, 6, C]`` float32 time projection."""
        if isinstance(context_kv, torch.Tensor):  # text tokens: project this block's K/V here
            context_kv = self.cross_attn.context_kv(context_kv)
        frames = lambda t: t.unflatten(1, (grid.frames, grid.per_frame))  # noqa: E731
        mod = (self.modulation.float()[:, None] + e).unbind(2)  # six [B, F|1, C]
        h = modulate(frames(self.norm1(x)), mod[0], mod[1])
        if cam is not None and self.cam_encoder is not None:
            h = h + cam.embed(self.cam_encoder).to(h.dtype)
        y = self.self_attn(h.flatten(1, 2), rope, mask=mask, backend=backend, cache=cache)
        if self.projector is not None and not self._skip_projector():
            y = self.projector(y)
        x = gated(frames(x), frames(y), mod[2]).flatten(1, 2)
        x = x + self.cross_attn(self.norm3(x), context_kv, backend=backend)
        y = self.ffn(modulate(frames(self.norm2(x)), mod[3], mod[4]).flatten(1, 2))
        return gated(frames(x), frames(y), mod[5]).flatten(1, 2)


    def _skip_projector(self) -> bool:
        """True when the projector is exactly the identity (fresh camera layers, e.g. on plain Wan weights) and
        the block runs inference: a dim × dim matmul that changes nothing (4 % of a forward). Checked again
        whenever its weights change (storage or in-place version); training always applies it."""
        if self.training or torch.compiler.is_compiling():
            return False
        w, b = self.projector.weight, self.projector.bias
        if w.is_meta:
            return False
        # inference tensors (ComfyUI runs nodes under torch.inference_mode) keep no version counter: checked on
        # every call then (an O(dim²) comparison against the O(tokens·dim²) matmul it saves)
        key = None if w.is_inference() or b.is_inference() else (w.data_ptr(), w._version, w.dtype, b.data_ptr(), b._version)
        if key is None or key != self._identity_key:
            eye = torch.eye(w.shape[0], w.shape[1], device=w.device)
            self._identity = bool(torch.equal(w.float(), eye)) and not bool(b.float().any())
            self._identity_key = key
        return self._identity


class Head(nn.Module):
    def __init__(self, cfg: WanConfig) -> None:
        super().__init__()
        self.norm = LayerNorm(cfg.dim, cfg.eps, elementwise_affine=False)
        self.head = CastLinear(cfg.dim, cfg.out_dim * math.prod(cfg.patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        shift, scale = (self.modulation.float()[:, None] + e[:, :, None]).unbind(2)
        h = modulate(self.norm(x).unflatten(1, (grid.frames, grid.per_frame)), shift, scale)
        return self.head(h.flatten(1, 2))


class RealCamDiT(nn.Module):
    """Wan DiT + per-block camera layers. ``forward`` works on an assembled sequence; ``velocity``
    builds the sequence from source/target latents and cameras with the model's conditioning."""

    def __init__(self, cfg: WanConfig, camera_layers: bool = True,
                 conditioning: ConditioningConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.conditioning = conditioning or ConditioningConfig()
        self.camera_layers = camera_layers
        self.attention_backend: Backend = "auto"
        # settings a checkpoint carries (realcam.weights reads/writes them); callers override per call
        self.streaming = StreamingConfig()          # the causal student's chunk/cache/steps
        self.sampling = TeacherSamplingConfig()     # the bidirectional teacher's steps/shift/CFG/solver/grid
        self.trained_latent_size: tuple[int, int] | None = None   # (h, w) latents it was trained on, when known
        self.activation_checkpointing = False  # training: recompute each block in backward (with a KV cache too)
        self.patch_embedding = nn.Conv3d(cfg.in_dim, cfg.dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        # conditioning.source_warp: the source reprojected into the target cameras, one plane per depth (and, with
        # source_warp_first, its first frame too), enters the target tokens through its own patch embedding (zero at
        # first: the model is the one it was loaded from)
        reprojections = self.conditioning.guide_reprojections
        self.guide_embedding = (nn.Conv3d(cfg.in_dim * reprojections, cfg.dim, kernel_size=cfg.patch_size,
                                          stride=cfg.patch_size) if reprojections else None)
        self.text_embedding = nn.Sequential(CastLinear(cfg.text_dim, cfg.dim), nn.GELU(approximate="tanh"),
                                            CastLinear(cfg.dim, cfg.dim))
        self.time_embedding = nn.Sequential(CastLinear(cfg.freq_dim, cfg.dim), nn.SiLU(), CastLinear(cfg.dim, cfg.dim))
        self.time_projection = nn.Sequential(nn.SiLU(), CastLinear(cfg.dim, 6 * cfg.dim))
        camera_dim = RAY_DIM if self.conditioning.camera_tokens == "rays" else CAMERA_DIM
        self.blocks = nn.ModuleList(WanBlock(cfg, camera_layers, camera_dim) for _ in range(cfg.num_layers))
        self.head = Head(cfg)
        # conditioning.pixel_guide_skip: how much of the pixel guide to take as the clean target, per latent value
        # (zero at first: the model is the one it was loaded from)
        self.guide_gate = Head(cfg) if self.conditioning.pixel_guide_skip else None
        # conditioning.pixel_guide_depth_net: the depth of a single frame, the guide's layers (realcam.guide); trained on
        # its own, never by the DiT's stages
        cond = self.conditioning
        self.depth_net = (DepthNet(cond.pixel_guide_sweep, cond.pixel_guide_depth_net, cond.pixel_guide_depth_net_size)
                          if cond.pixel_guide_depth_net else None)
        if self.patch_embedding.weight.device.type != "meta":
            self.init_weights()

    # initialisation ---------------------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Wan's initialisation (xavier linears, N(0, 0.02) embeddings, zero head) + camera layers.

        Sets every parameter, so a model built on the meta device and materialised with ``to_empty``
        (uninitialised memory) is fully defined afterwards: norms to one/zero, modulation tables to
        ``N(0, 1/dim)`` as in the constructor."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                xavier_linear_(m)
            elif isinstance(m, (RMSNorm, LayerNorm)) and m.weight is not None:
                nn.init.ones_(m.weight)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)
        heads = [self.head] + ([self.guide_gate] if self.guide_gate is not None else [])
        for table in [b.modulation for b in self.blocks] + [h.modulation for h in heads]:
            nn.init.normal_(table, std=self.cfg.dim**-0.5)
        nn.init.xavier_uniform_(self.patch_embedding.weight.flatten(1))
        nn.init.zeros_(self.patch_embedding.bias)
        for seq in (self.text_embedding, self.time_embedding):
            for m in seq:
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.02)
        nn.init.zeros_(self.head.head.weight)
        self.init_camera_layers()
        self.init_guide()
        self.init_guide_gate()
        if self.depth_net is not None:      # random until one trained on its own is loaded (set-guide-depth-net)
            self.depth_net.reset_parameters()

    def init_guide(self) -> None:
        """``guide_embedding`` = 0: the reprojected source adds nothing until training teaches it to."""
        if self.guide_embedding is not None:
            nn.init.zeros_(self.guide_embedding.weight)
            nn.init.zeros_(self.guide_embedding.bias)

    def init_guide_gate(self) -> None:
        """``guide_gate`` outputs 0: nothing is taken from the pixel guide until training teaches it to."""
        if self.guide_gate is not None:
            nn.init.normal_(self.guide_gate.modulation, std=self.cfg.dim**-0.5)
            nn.init.zeros_(self.guide_gate.head.weight)
            nn.init.zeros_(self.guide_gate.head.bias)

    def init_camera_layers(self) -> None:
        """``cam_encoder`` = 0 and ``projector`` = identity: the block then equals plain Wan."""
        for block in self.blocks:
            if block.cam_encoder is None:
                continue
            nn.init.zeros_(block.cam_encoder.weight)
            nn.init.zeros_(block.cam_encoder.bias)
            identity_linear_(block.projector)

    # properties -------------------------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        return self.patch_embedding.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.patch_embedding.weight.device

    # pieces reused by the streaming sampler -----------------------------------------------------------------
    def embed_text(self, context: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Text context ``[B, L, text_dim]`` → per-block cross-attention (k, v), computed once."""
        ctx = self.embed_context(context)
        return [block.cross_attn.context_kv(ctx) for block in self.blocks]

    def embed_context(self, context: torch.Tensor) -> torch.Tensor:
        """Text context ``[B, L, text_dim]`` → text tokens ``[B, L, dim]`` (each block projects its own K/V)."""
        if context.ndim != 3 or context.shape[-1] != self.cfg.text_dim:
            raise ValueError(f"text context must be [B, L, {self.cfg.text_dim}], got {tuple(context.shape)}")
        return self.text_embedding(context.to(self.dtype))

    def embed_time(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``t`` ``[B]`` or ``[B, F]`` → (``e`` ``[B, F|1, C]``, ``e0`` ``[B, F|1, 6, C]``), float32."""
        tt = t[:, None] if t.ndim == 1 else t
        e = self.time_embedding(sinusoidal_embedding(tt, self.cfg.freq_dim).to(self.dtype)).float()
        e0 = self.time_projection(e.to(self.dtype)).float().unflatten(-1, (6, self.cfg.dim))
        return e, e0

    def patchify(self, x: torch.Tensor) -> tuple[torch.Tensor, TokenGrid]:
        pt, ph, pw = self.cfg.patch_size
        _, c, f, h, w = x.shape
        if c != self.cfg.in_dim:
            vae = "Wan2.2 VAE (48 channels)" if self.cfg.in_dim == 48 else "Wan2.1 VAE (16 channels)"
            raise ValueError(f"latents have {c} channels but {self.cfg.name} reads {self.cfg.in_dim}: use the {vae}")
        if f % pt or h % ph or w % pw:
            stride = self.cfg.vae_stride
            raise ValueError(
                f"latent size {f}x{h}x{w} is not divisible by the patch size {self.cfg.patch_size}: "
                f"video width and height must be multiples of {stride[1] * ph} pixels")
        tokens = self.patch_embedding(x.to(self.dtype))
        grid = TokenGrid(*tokens.shape[2:])
        # contiguous [B, L, C]: a strided view made every later op of every block slower (4.5 % of a forward)
        return tokens.flatten(2).transpose(1, 2).contiguous(), grid

    def unpatchify(self, x: torch.Tensor, grid: TokenGrid) -> torch.Tensor:
        pt, ph, pw = self.cfg.patch_size
        x = x.unflatten(1, (grid.frames, grid.height, grid.width)).unflatten(-1, (pt, ph, pw, self.cfg.out_dim))
        # [B, F, H, W, pt, ph, pw, C] -> [B, C, F·pt, H·ph, W·pw]
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(x.shape[0], self.cfg.out_dim, grid.frames * pt, grid.height * ph, grid.width * pw)

    def rope_for(self, grid: TokenGrid, t_positions: torch.Tensor | None, cam: torch.Tensor | None = None) -> Rope:
        """RoPE of the sequence; with ``rope_positions='rays'`` and cameras ``cam`` ``[B, F, 12]`` the spatial
        positions are where each token's ray lands in the reference camera (one rotation table per sample)."""
        if t_positions is None:
            t_positions = torch.arange(grid.frames, dtype=torch.float64)
        if t_positions.shape != (grid.frames,):
            raise ValueError(f"need one temporal position per sequence frame ({grid.frames}), got {tuple(t_positions.shape)}")
        positions = grid_positions(t_positions.to(self.device), grid.height, grid.width)
        if cam is None or self.conditioning.rope_positions != "rays":
            return make_rope(positions, self.cfg.head_dim, self.cfg.rope_theta)
        depths = self.conditioning.rope_depths
        heads = self.cfg.num_heads
        if heads % len(depths):
            raise ValueError(f"conditioning rope_depth has {len(depths)} depths; their number must divide the "
                             f"{heads} attention heads (one group of heads per depth)")
        spatial = torch.stack([reference_positions(cam.to(self.device), grid.height, grid.width,
                                                   self.conditioning.ray_fov_deg, d).flatten(1, 2)
                               for d in depths], dim=2)                           # [B, L, depths, 2]
        time = positions[None, :, None, :1].expand(cam.shape[0], -1, len(depths), 1)
        rope = make_rope(torch.cat([time, spatial], dim=-1), self.cfg.head_dim, self.cfg.rope_theta)
        if len(depths) == 1:                                                      # one table per sample
            return Rope(rope.cos[:, :, 0], rope.sin[:, :, 0])
        per_head = heads // len(depths)                                           # one per sample and head
        return Rope(rope.cos.repeat_interleave(per_head, dim=2), rope.sin.repeat_interleave(per_head, dim=2))

    # the forward pass ---------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | list, *,
                cam: torch.Tensor | None = None, cam_weight: torch.Tensor | None = None,
                t_positions: torch.Tensor | None = None, mask: AttentionMask | None = None,
                cache: KVCache | None = None, guide: torch.Tensor | None = None,
                reading: GateReading | None = None, guide_strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        """Velocity for an assembled latent sequence.

        x: ``[B, C, F, H, W]`` latents (F sequence frames); t: ``[B]`` or ``[B, F]`` timesteps in [0, 1000];
        context: ``[B, L, text_dim]`` or the per-block K/V of :meth:`embed_text`; cam: ``[B, F, 12]`` pose per
        sequence frame (needs camera layers; ``camera_tokens='rays'`` turns it into per-token rays);
        cam_weight: ``[F]`` 0/1 per frame (where the camera embedding is added); t_positions: ``[F]`` RoPE
        temporal positions (default 0..F−1); mask: token-level attention mask for self-attention;
        cache: a :class:`KVCache` prepared with ``begin_chunk`` — x is then one chunk attending to it;
        guide: the sequence of :meth:`source_guide` (models with ``conditioning.source_warp``);
        reading: a :class:`GateReading` that receives the gate and the velocity before it (``pixel_guide_skip``);
        guide_strength: the gate's share of the pixel guide scaled (:meth:`guide_share`; :meth:`guide_strength` says
        what a render passes): one number, or ``[B, 1, F, H, W]`` per latent value in sequence order
        (``conditioning.pixel_guide_agreement``: :meth:`realcam.guide.PixelGuide.strengths`).
        """
        if x.ndim != 5:
            raise ValueError(f"latents must be [B, C, F, H, W], got {tuple(x.shape)}")
        if t.ndim == 2 and t.shape[1] != x.shape[2]:
            raise ValueError(f"per-frame timesteps [B, {t.shape[1]}] do not match {x.shape[2]} sequence frames")
        tokens, grid = self.patchify(x)
        if guide is not None:
            if self.guide_embedding is None:
                raise ValueError("this model has no source_warp conditioning: pass guide=None")
            n = self.conditioning.guide_reprojections
            if guide.shape != (x.shape[0], x.shape[1] * n, *x.shape[2:]):
                raise ValueError(f"guide must be {(x.shape[0], x.shape[1] * n, *x.shape[2:])} (the source "
                                 f"reprojected {n} times: source_guide), got {tuple(guide.shape)}")
            tokens = tokens + self.guide_embedding(guide.to(self.dtype)).flatten(2).transpose(1, 2)
        cam_in = self._camera_input(cam, cam_weight, grid)
        rope = self.rope_for(grid, t_positions, cam)
        e, e0 = self.embed_time(t.to(self.device))
        # per-block K/V precomputed by embed_text (streaming), or text tokens that every block projects inside
        # its own forward (so a sharded block's weights are only touched there, as FSDP requires)
        context_kv = context if isinstance(context, list) else [self.embed_context(context)] * len(self.blocks)
        recompute = self.activation_checkpointing and torch.is_grad_enabled()
        for i, (block, kv) in enumerate(zip(self.blocks, context_kv)):
            block_cache = cache.blocks[i] if cache is not None else None
            if recompute:   # a cached step (DMD's exit steps) attends to a copy of what it saw: see FrozenBlockKV
                tokens = torch.utils.checkpoint.checkpoint(block, tokens, e0, grid, rope, kv, cam_in, mask,
                                                           self.attention_backend,
                                                           None if block_cache is None else block_cache.frozen(),
                                                           use_reentrant=False)
                continue
            tokens = block(tokens, e0, grid, rope, kv, cam=cam_in, mask=mask, backend=self.attention_backend,
                           cache=block_cache)
        v = self.unpatchify(self.head(tokens, e, grid), grid)
        if self.guide_gate is not None and guide is not None:
            gate = self.unpatchify(self.guide_gate(tokens, e, grid), grid)
            if reading is not None:
                reading.gate, reading.velocity = gate, v
            v = self.take_from_guide(x, v, t, guide[:, -x.shape[1]:], self.guide_share(gate, guide_strength))
        return v.to(x.dtype)

    # lowest σ the guide's share is divided by: below it the share fades out with σ (the last, nearly clean steps
    # keep the model's own estimate), and the gate's gradient stays bounded
    GATE_MIN_SIGMA = 0.05

    def guide_strength(self, swept: bool) -> float:
        """The strength a render passes: ``conditioning.pixel_guide_strength`` for a guide drawn through the depth the
        source's motion shows or the depth network reads (``PixelGuide.swept``), 1 for the one-plane guide (a render
        without the source's path or a depth network, or of a source whose motion showed no depth), which is wrong
        under a move and which a stronger share would copy
        (docs/results.md, "World v2: a stronger guide"). Training passes 1: the gate learns as it is."""
        return float(self.conditioning.pixel_guide_strength) if swept else 1.0

    @staticmethod
    def guide_share(gate: torch.Tensor, strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        """The gate's share of the pixel guide at ``strength`` s: ``min(s·g, max(g, 1))`` — scaled, never pushed past
        all of the guide unless the gate already asks for more; the gate itself at ``s = 1``. ``strength``: one
        number, or a tensor that broadcasts against the gate (a strength per latent value)."""
        if not isinstance(strength, torch.Tensor) and strength == 1:
            return gate
        if isinstance(strength, torch.Tensor):
            strength = strength.to(gate.device, torch.float32)
        return torch.minimum(gate * strength, gate.clamp_min(1.0))

    def take_from_guide(self, x: torch.Tensor, v: torch.Tensor, t: torch.Tensor, pixels: torch.Tensor,
                        gate: torch.Tensor) -> torch.Tensor:
        """``conditioning.pixel_guide_skip``: the velocity whose clean estimate takes ``gate`` of the pixel guide,
        ``x0 + g·(pixels − x0)`` with ``x0 = x − σ·v``; all ``[B, C, F, H, W]`` (``pixels``: the guide's last group,
        zeros at source frames), ``t`` ``[B]`` or ``[B, F]`` in [0, 1000]. Frames at σ = 0 (clean source frames)
        are left as they are."""
        sigma = (t.to(v.device, torch.float32) / 1000).reshape(t.shape[0], 1, -1, 1, 1)
        x, v, pixels, gate = x.float(), v.float(), pixels.to(v.device, torch.float32), gate.float()
        x0 = x - sigma * v
        share = gate * (x0 - pixels) * (sigma > 0) / sigma.clamp_min(self.GATE_MIN_SIGMA)
        return v + share

    def _camera_input(self, cam: torch.Tensor | None, cam_weight: torch.Tensor | None,
                      grid: TokenGrid) -> CameraInput | None:
        if cam is None:
            return None
        if not self.camera_layers:
            raise ValueError("this model has no camera layers (plain Wan weights); load it with camera_layers=True "
                             "to add zero-initialised ones, or pass cam=None")
        if cam.shape[1:] != (grid.frames, CAMERA_DIM):
            raise ValueError(f"cameras must be [B, {grid.frames}, 12], got {tuple(cam.shape)}")
        if not cam.is_meta and not torch.isfinite(cam).all():    # (meta: shapes only, realcam.plan)
            raise ValueError("camera poses contain NaN or inf")
        weight = None if cam_weight is None else cam_weight.to(self.device, self.dtype)
        cam = cam.to(self.device, self.dtype)
        if self.conditioning.camera_tokens == "rays":
            cam = ray_features(cam, grid.height, grid.width, self.conditioning.ray_fov_deg)
        return CameraInput(cam, weight)

    def velocity(self, source: torch.Tensor, target: torch.Tensor, t: torch.Tensor, context: torch.Tensor | list,
                 pose12: torch.Tensor | None, *, layout: SequenceLayout | None = None,
                 mask: AttentionMask | None = None, source_pose12: torch.Tensor | None = None,
                 pixel_guide: torch.Tensor | None = None, reading: GateReading | None = None,
                 guide_strength: float | torch.Tensor = 1.0) -> torch.Tensor:
        """Predicted velocity of the target latents ``[B, C, f, h, w]`` given clean source latents.

        ``t``: ``[B]`` or ``[B, f]`` target timesteps; ``pose12``: ``[B, f, 12]`` target cameras (relative,
        OpenCV c2w, row-major 3×4) or None for no camera; ``source_pose12``: the source's cameras in the same
        frame, when known (read under ``conditioning.source_cameras``); ``pixel_guide``: the guide latents of
        ``conditioning.pixel_guide_depth`` (:mod:`realcam.guide`). The sequence is built by ``layout``
        (default: the model's conditioning over f latent frames). ``reading``: receives the gate and the velocity
        before it, at the target frames (models with ``pixel_guide_skip``; left empty otherwise). ``guide_strength``:
        as for :meth:`forward`, a tensor given per target latent value ``[B, 1, f, h, w]``.
        """
        layout = layout or SequenceLayout(self.conditioning, source.shape[2])
        x = layout.build(source, target)
        if isinstance(guide_strength, torch.Tensor):      # source frames (σ = 0) take nothing from the guide anyway
            guide_strength = layout.build(torch.ones_like(guide_strength), guide_strength)
        cam, weight = layout.frame_cameras(pose12, source_pose12) if pose12 is not None else (None, None)
        out = self(x, layout.frame_timesteps(t), context, cam=cam, cam_weight=weight,
                   t_positions=layout.temporal_positions(), mask=mask, guide=self.source_guide(layout, source, cam, pixels=pixel_guide),
                   reading=reading, guide_strength=guide_strength)
        if reading is not None and reading.gate is not None:
            reading.gate, reading.velocity = layout.split(reading.gate)[1], layout.split(reading.velocity)[1]
        return layout.split(out)[1]

    def source_guide(self, layout: SequenceLayout, source: torch.Tensor, cam: torch.Tensor | None,
                     first: torch.Tensor | None = None, pixels: torch.Tensor | None = None) -> torch.Tensor | None:
        """For ``conditioning.source_warp``: the sequence (``layout`` order) holding, at each target frame, the source
        latent frame of the same index reprojected from its own camera into the target's through every plane
        (:func:`realcam.camera.rays.warp_latents`), and zeros at source frames. With ``source_warp_first`` the
        source's first latent frame follows, reprojected the same way from the reference camera (where the source,
        and the target path, start). ``first``: that frame ``[B, C, 1, h, w]``; needed when ``source`` does not begin
        at it (a streamed chunk after the first). With ``pixel_guide_depth`` the last group is ``pixels``
        ``[B, C, f, h, w]``: the source's first video frame reprojected into these target frames' cameras and
        encoded (:mod:`realcam.guide`; the caller holds the VAE). ``cam``: the sequence's cameras
        (:meth:`SequenceLayout.frame_cameras`); None (no camera, or a model without the option) gives None."""
        if self.guide_embedding is None or cam is None:
            return None
        is_target = layout.is_target().to(cam.device)
        cond, target_cam = self.conditioning, cam[:, is_target]
        f = source.shape[2]
        groups = []
        if cond.source_warp:
            groups.append(warp_latents(source, cam[:, ~is_target], target_cam, cond.ray_fov_deg, cond.source_warp))
        if cond.source_warp_first:
            if first is None:
                if layout.start != 0:
                    raise ValueError(f"source_warp_first: this sequence starts at latent frame {layout.start}; pass "
                                     "first=, the source's first latent frame")
                first = source[:, :, :1]
            reference = torch.eye(3, 4, dtype=cam.dtype, device=cam.device).flatten().expand(cam.shape[0], f, 12)
            groups.append(warp_latents(first.expand(-1, -1, f, -1, -1), reference, target_cam, cond.ray_fov_deg,
                                       cond.source_warp))
        if cond.pixel_guide_depth:
            if pixels is None:
                raise ValueError("this model reads the source's first frame reprojected on pixels and encoded "
                                 "(pixel_guide_depth): pass pixel_guide= (realcam.guide.PixelGuide makes it)")
            if pixels.shape != source.shape:
                raise ValueError(f"pixel guide must be {tuple(source.shape)} (one latent frame per target frame), got "
                                 f"{tuple(pixels.shape)}")
            groups.append(pixels.to(source.device, source.dtype))
        warped = torch.cat(groups, dim=1)
        return layout.build(torch.zeros_like(warped), warped)


