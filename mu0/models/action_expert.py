"""The action expert: a policy that predicts chunks of robot actions with flow matching, reading a frozen
μ_0's trace features (the paper's downstream recipe, scaled down).

Trace-conditioned (`use_trace`): μ_0 — backbone and trace expert — is frozen. Its backbone turns the
image and instruction into prefix states; its trace expert is queried history-free on a grid of keypoints
for one Euler step ("partial trace guidance"), and the keypoints' future states, average-pooled, are the
trace tokens. The prefix reads them through a gated cross-attention whose gate tanh(g) starts at 0, so
the policy begins as if μ_0's traces were absent and opens the gate only where they help
(`trace_tokens` "states", the recipe). With "waypoints" the forecast itself is the conditioning: each grid
keypoint's predicted waypoints become a context token the decoder attends to directly (a gate that starts
closed stayed closed in training: the decoder learned to ignore μ_0); "both" has both paths. With "moving"
`trace_queries` the waypoint keypoints are not the grid but those of a finer lattice that μ_0 forecasts to move
farthest: the recipe queries the points it cares about, and μ_0's own forecast is meant to find them. With
`hand_queries` μ_0 is also queried on a small lattice around the hand's pixel (`hand_uv`: the hand's position from
proprio through the camera's calibration), whose waypoint tokens carry a learned "hand" embedding. With
`train_backbone` the gated prefix comes from the policy's own trainable copy of μ_0's backbone instead
(μ_0 itself stays frozen). Without `use_trace` the same decoder sits on a trainable backbone of the same
shape, randomly initialised (scratch) or action-pretrained.

The decoder: context = [projected prefix states, a proprio token, with `wrist_tokens` the wrist camera's pooled
feature map (read through μ_0's frozen scene encoder in a trace policy, as the recipe reads its wrist camera
through μ_0's frozen DINOv2), then any waypoint tokens]; its tokens are the noisy action chunk
with learned step embeddings, run through adaLN-Zero blocks (self-attention over the chunk, cross-attention
to the context). Flow matching follows π_0: x_t = t·ε + (1−t)·a, target u = ε − a, t ~ Beta(1.5, 1)·0.999
+ 0.001; steps past an episode's end are masked. Sampling integrates from t = 1 to 0 in `flow_steps`.
Proprio is standardised with statistics stored as buffers (so they travel with the weights).
Shapes: b batch, c chunk, a action dim, n keypoints, l prefix tokens, w width.
"""

from __future__ import annotations

import dataclasses
import itertools

import torch
from torch import nn

from mu0.batch import ACTION_VALID, ACTIONS, EPISODE, FRAME, HAND_UV, IMAGE, INSTRUCTION, PROPRIO, WRIST_IMAGE
from mu0.config import ActionExpertConfig
from mu0.models.backbone import VLMBackbone
from mu0.models.checkpoint import Checkpointable
from mu0.models.expert_block import ExpertBlock, partitioned, step_modulations
from mu0.models.flow_matching import euler, euler_times, noised, sample_time
from mu0.models.forecast_cache import ForecastCache, WorldReading, fingerprints
from mu0.models.scene_encoder import SceneEncoder
from mu0.models.trace_expert import timestep_embedding
from mu0.models.world_model import Mu0WorldModel


def grid_uv(grid: int, device=None) -> torch.Tensor:
    """(grid², 2) keypoints at the centres of a grid × grid lattice, in unit coordinates [-1, 1]."""
    centres = (torch.arange(grid, dtype=torch.float32, device=device) + 0.5) / grid * 2 - 1
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([u, v], dim=-1).reshape(-1, 2)


class GatedCrossAttention(nn.Module):
    """x + tanh(g)·attn(x, memory); g starts at 0, so the block starts closed (the identity)."""

    def __init__(self, width: int, memory_width: int, heads: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.memory_proj = nn.Linear(memory_width, width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.gate = nn.Parameter(torch.zeros(1))  # 1-D: DeepSpeed broadcasts parameters as bytes

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        m = self.memory_proj(memory)
        return x + torch.tanh(self.gate) * self.attn(self.norm(x), m, m, need_weights=False)[0]


class ActionExpert(Checkpointable, nn.Module):
    kind, config_class = "action-expert", ActionExpertConfig

    def __init__(self, cfg: ActionExpertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        if cfg.use_trace:
            self.world = Mu0WorldModel(cfg.world)
            self.world.requires_grad_(False)
            self.world.eval()  # frozen: no dropout or augmentation, whatever the policy's mode (see train)
            self.register_buffer("grid", grid_uv(cfg.grid), persistent=False)
            self._forecasts = ForecastCache()  # frozen μ_0's reading of training samples (not saved)
            if cfg.trace_queries == "moving":
                self.register_buffer("candidate_grid", grid_uv(cfg.candidates), persistent=False)
            if cfg.trace_tokens != "waypoints":
                self.trace_gate = GatedCrossAttention(cfg.world.backbone.text_hidden, cfg.world.expert.width,
                                                      cfg.heads)
            if cfg.trace_tokens != "states":
                steps = torch.linspace(0, cfg.world.horizon - 1, cfg.waypoints).round().long()
                self.register_buffer("waypoint_steps", steps, persistent=False)
                self.waypoint_in = nn.Sequential(nn.Linear(2 + 3 * cfg.waypoints, cfg.width), nn.GELU(),
                                                 nn.Linear(cfg.width, cfg.width))
            if cfg.hand_queries:
                offsets = grid_uv(cfg.hand_queries) * (cfg.hand_spacing * cfg.hand_queries / 2)
                self.register_buffer("hand_offsets", offsets, persistent=False)
                self.hand_embed = nn.Parameter(torch.zeros(cfg.hand_queries ** 2, cfg.width))
        if cfg.wrist_tokens:
            if not self._reads_wrist_through_mu0():
                # its own, trainable (scratch: no μ_0 to borrow from): the feature map's layers only
                self.wrist_encoder = SceneEncoder(w, vector=False)
            self.wrist_in = nn.Linear(self._wrist_encoder().grid_channels, w)
            self.wrist_pos = nn.Parameter(torch.randn(cfg.wrist_tokens ** 2, w) * 0.02)
        if not cfg.use_trace or cfg.train_backbone:
            # the policy's own backbone reads the RGB frame only (rollouts give μ_0 no depth either)
            self.backbone = VLMBackbone(dataclasses.replace(cfg.world.backbone, freeze=False, depth_image=False))
        hidden = cfg.world.backbone.text_hidden
        self.prefix_proj = nn.Linear(hidden, w)
        self.proprio_in = nn.Linear(cfg.proprio_dim, w)
        self.action_in = nn.Linear(cfg.action_dim, w)
        self.step_embed = nn.Parameter(torch.randn(cfg.chunk, w) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.blocks = nn.ModuleList(ExpertBlock(w, cfg.heads) for _ in range(cfg.layers))
        self.out_norm = nn.LayerNorm(w)
        self.action_out = nn.Linear(w, cfg.action_dim)
        self.register_buffer("proprio_mean", torch.zeros(cfg.proprio_dim))
        self.register_buffer("proprio_std", torch.ones(cfg.proprio_dim))

    def _reads_wrist_through_mu0(self) -> bool:
        return self.cfg.use_trace and self.cfg.world.expert.scene_encoder

    def _wrist_encoder(self) -> SceneEncoder:
        """μ_0's frozen scene encoder for a trace policy (not registered twice: its weights stay μ_0's)."""
        return self.world.expert.scene if self._reads_wrist_through_mu0() else self.wrist_encoder

    def _wrist(self, wrist: torch.Tensor | None) -> list[torch.Tensor]:
        """The wrist camera's tokens [(b, wrist_tokens², w)], or [] for a policy without a wrist view."""
        if not self.cfg.wrist_tokens:
            return []
        if wrist is None:
            raise ValueError("this policy reads the wrist camera (policy.wrist_tokens > 0): pass its image")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self._reads_wrist_through_mu0()):
            grid = self._wrist_encoder().feature_map(wrist)
        pooled = nn.functional.adaptive_avg_pool2d(grid, self.cfg.wrist_tokens).flatten(2).transpose(1, 2)
        return [self.wrist_in(pooled) + self.wrist_pos]

    def train(self, mode: bool = True):
        super().train(mode)
        if self.cfg.use_trace:
            self.world.eval()  # frozen: no dropout, whatever the policy's mode
        return self

    def set_proprio_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.proprio_mean.copy_(mean)
        self.proprio_std.copy_(std.clamp(min=1e-3))

    def context(self, images: torch.Tensor, instructions: list[str], proprio: torch.Tensor,
                with_trace: bool = False, wrist: torch.Tensor | None = None, hand_uv: torch.Tensor | None = None,
                samples: list[tuple[int, int]] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """The decoder's context (b,l+1(+k)(+n),w) — prefix, proprio token, the wrist camera's k tokens (with
        wrist_tokens; `wrist` its uint8 images) and, with waypoint tokens, one per keypoint, last (the hand's
        last of all, with hand_queries; `hand_uv` (b,2) the hand's unit pixel) — its padding mask, and — with
        `with_trace` and use_trace — μ_0's keypoints (b,n,2) and normalised trace (b,n,h,3). `samples`, the rows'
        (episode, frame) in a training set, lets μ_0's reading of each be computed once (`_read_world`)."""
        trace, waypoint_tokens = None, []
        if self.cfg.use_trace:
            world = self._read_world(images, instructions, hand_uv, samples)
            prefix, mask, uv, states, trace = world.prefix, world.mask, world.uv, world.states, world.trace
            if self.cfg.train_backbone:
                prefix, mask = self.backbone.embed_prefix(images, instructions)
            if self.cfg.trace_tokens != "waypoints":
                prefix = self.trace_gate(prefix, self._pool(states[:, :self.cfg.grid ** 2]))
            if self.cfg.trace_tokens != "states":
                tokens = self.waypoint_in(torch.cat([uv, trace[:, :, self.waypoint_steps].flatten(2)], -1))
                if self.cfg.hand_queries:
                    k = self.cfg.hand_queries ** 2
                    tokens = torch.cat([tokens[:, :-k], tokens[:, -k:] + self.hand_embed], dim=1)
                waypoint_tokens = [tokens]
        else:
            prefix, mask = self.backbone.embed_prefix(images, instructions)
        p = (proprio - self.proprio_mean) / self.proprio_std
        ctx = torch.cat([self.prefix_proj(prefix), self.proprio_in(p)[:, None], *self._wrist(wrist), *waypoint_tokens],
                        dim=1)
        extra = ctx.shape[1] - mask.shape[1]  # the proprio, wrist and waypoint tokens are never padding
        ctx_mask = torch.cat([mask, torch.ones_like(mask[:, :1]).expand(-1, extra)], dim=1)
        return ctx, ctx_mask, ((uv, trace) if with_trace and trace is not None else None)

    @torch.no_grad()
    def _read_world(self, images: torch.Tensor, instructions: list[str], hand_uv: torch.Tensor | None,
                    samples: list[tuple[int, int]] | None = None) -> WorldReading:
        """Frozen μ_0's prefix and forecast; with `samples` (each row's (episode, frame)), each sample's is
        computed once and reused (`ForecastCache`)."""

        def read(rows: list[int] | None = None) -> WorldReading:
            pick = (lambda x: x) if rows is None else (lambda x: None if x is None else x[rows])
            texts = instructions if rows is None else [instructions[r] for r in rows]
            context = self.world.embed(pick(images), texts)
            uv, states, trace = self._forecast(context, len(context.prefix), self._hand_lattice(pick(hand_uv)))
            if rows is None:
                return WorldReading(context.prefix, context.mask, uv, states, trace)
            # a cache keeps only what this policy reads
            prefix, mask = (None, None) if self.cfg.train_backbone else (context.prefix, context.mask)
            return WorldReading(prefix, mask, uv, None if self.cfg.trace_tokens == "waypoints" else states, trace)

        if samples is None:
            return read()
        return self._forecasts.read(samples, fingerprints(images, instructions, hand_uv), read, images.device)

    def _hand_lattice(self, hand_uv: torch.Tensor | None) -> torch.Tensor | None:
        """(b,k,2) the hand keypoints around `hand_uv` (b,2), inside the image; None without hand_queries."""
        if not self.cfg.hand_queries:
            return None
        if hand_uv is None:
            raise ValueError("this policy queries μ_0 at the hand (policy.hand_queries > 0): pass the hand's pixel")
        return (hand_uv[:, None, :].to(self.hand_offsets.dtype) + self.hand_offsets).clamp(-1.0, 1.0)

    def _forecast(self, world_context, b: int, hand: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """μ_0's forecast at the policy's keypoints: their (b,n,2) uv, future states (b,n,w) and normalised
        trace (b,n,h,3). With "moving" queries, the grid² candidates whose forecast (u, v) strays farthest
        from where they start; then the `hand` keypoints (b,k,2), if any. μ_0 forecasts each keypoint on its
        own (its keypoints do not attend to each other), so one call serves all."""
        base = self.grid if self.cfg.trace_queries == "grid" else self.candidate_grid
        uv = base.expand(b, -1, -1)
        if hand is not None:
            uv = torch.cat([uv, hand], dim=1)
        states, trace = self.world.trace_features(world_context, uv, self.cfg.trace_steps)
        if self.cfg.trace_queries == "grid":
            return uv, states, trace
        n = len(base)
        reach = trace[:, :n, :, :2].norm(dim=-1).amax(dim=-1)  # the trace is relative to its start (b,N)
        keep = torch.cat([reach.topk(self.cfg.grid ** 2, dim=1).indices,
                          torch.arange(n, uv.shape[1], device=uv.device).expand(b, -1)], dim=1)

        def pick(x: torch.Tensor) -> torch.Tensor:
            index = keep.reshape(*keep.shape, *(1,) * (x.dim() - 2)).expand(-1, -1, *x.shape[2:])
            return x.gather(1, index)

        return pick(uv), pick(states), pick(trace)

    def _pool(self, states: torch.Tensor) -> torch.Tensor:
        """(b, grid², w) → (b, (grid/pool)², w) by average pooling on the lattice."""
        b, _, w = states.shape
        g, p = self.cfg.grid, self.cfg.pool
        x = states.reshape(b, g, g, w).permute(0, 3, 1, 2)
        return nn.functional.avg_pool2d(x, p).flatten(2).transpose(1, 2)

    def velocity(self, ctx, ctx_mask, x_t: torch.Tensor, t: torch.Tensor, keys: list | None = None,
                 modulations: list | None = None) -> torch.Tensor:
        """The flow's velocity (b,c,a) for the noisy chunk x_t at times t (b,); `keys`, each block's
        `context_keys` of ctx, and `modulations`, each block's modulation at t, spare a sampler's Euler steps
        projecting the same context and times again."""
        x = self.action_in(x_t) + self.step_embed
        if modulations is None:
            modulations = [self._conditioning(t)] * len(self.blocks)
        for i, block in enumerate(self.blocks):
            x = block(x, modulations[i], ctx if keys is None else keys[i], ~ctx_mask, None, None)
        return self.action_out(self.out_norm(x))

    def _conditioning(self, t: torch.Tensor) -> torch.Tensor:
        """The blocks' conditioning (…,b,w) at flow times t (…,b)."""
        return self.time_mlp(timestep_embedding(t.flatten(), self.cfg.width)).reshape(*t.shape, -1)

    def _samples(self, batch: dict) -> list[tuple[int, int]] | None:
        """The rows' (episode, frame) when a trace policy trains on samples that carry them, else None."""
        if not (self.cfg.use_trace and self.training and EPISODE in batch and FRAME in batch):
            return None
        return list(zip(batch[EPISODE].tolist(), batch[FRAME].tolist(), strict=True))

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        return self.compute_loss(batch)

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        """Batch: image (b,3,h,w) uint8, instruction [b], proprio (b,p), actions (b,c,a), action_valid (b,c)
        (+ wrist_image, hand_uv for policies that read them)."""
        actions, valid = batch[ACTIONS], batch[ACTION_VALID].float()
        ctx, ctx_mask, _ = self.context(batch[IMAGE], list(batch[INSTRUCTION]), batch[PROPRIO],
                                        wrist=batch.get(WRIST_IMAGE), hand_uv=batch.get(HAND_UV),
                                        samples=self._samples(batch))
        t = sample_time(len(actions), actions.device)
        noise = torch.randn_like(actions)
        x_t = noised(actions, noise, t)
        err = ((self.velocity(ctx, ctx_mask, x_t, t) - (noise - actions)) ** 2).mean(-1)
        loss = (err * valid).sum() / valid.sum().clamp(min=1)
        info = {"loss": float(loss.detach())}
        if self.cfg.use_trace and self.cfg.trace_tokens != "waypoints":
            info["trace_gate"] = float(torch.tanh(self.trace_gate.gate).detach()[0])
        return loss, info

    @torch.inference_mode()
    def trace_reading(self, images: torch.Tensor, instructions: list[str], proprio: torch.Tensor,
                      wrist: torch.Tensor | None = None, hand_uv: torch.Tensor | None = None) -> dict[str, float]:
        """How much the decoder reads μ_0 (empty without use_trace): the gate tanh(g) of the gated path
        (`trace_gate`) and, with waypoint tokens, the share of the decoder's cross-attention that lands on them
        while it samples chunks for these inputs (`waypoint_attention`, mean over blocks, heads, chunk steps,
        Euler steps and samples) beside the share uniform attention would give them (`waypoint_uniform_share`);
        with hand_queries, the part of it on the hand's tokens (`hand_attention`, uniform: `hand_uniform_share`)."""
        reading: dict[str, float] = {}
        if not self.cfg.use_trace:
            return reading
        if self.cfg.trace_tokens != "waypoints":
            reading["trace_gate"] = float(torch.tanh(self.trace_gate.gate)[0])
        if self.cfg.trace_tokens == "states":
            return reading
        k = self.cfg.hand_queries ** 2
        n, shares, uniform, hand, hand_uniform = self.cfg.grid ** 2 + k, [], [], [], []

        def capture(module, args, kwargs, output):  # the same attention again, now with its weights
            weights = module.forward(*args, **{**kwargs, "need_weights": True, "average_attn_weights": True})[1]
            shares.append(weights[..., -n:].sum(-1).mean())  # waypoint tokens are the context's last n
            uniform.append((n / (~kwargs["key_padding_mask"]).sum(-1).float()).mean())
            if k:  # the hand's are the last k of them
                hand.append(weights[..., -k:].sum(-1).mean())
                hand_uniform.append((k / (~kwargs["key_padding_mask"]).sum(-1).float()).mean())

        hooks = [block.cross_attn.register_forward_hook(capture, with_kwargs=True) for block in self.blocks]
        try:  # through the attention modules' own forward, which the hooks see
            self._act(images, instructions, proprio, None, wrist, hand_uv, precompute=False)
        finally:
            for hook in hooks:
                hook.remove()
        reading["waypoint_attention"] = float(torch.stack(shares).mean())
        reading["waypoint_uniform_share"] = float(torch.stack(uniform).mean())
        if k:
            reading["hand_attention"] = float(torch.stack(hand).mean())
            reading["hand_uniform_share"] = float(torch.stack(hand_uniform).mean())
        return reading

    @torch.inference_mode()  # no autograd bookkeeping at all: ~4% of a plan's time on one core
    def act(self, images: torch.Tensor, instructions: list[str], proprio: torch.Tensor,
            noise: torch.Tensor | None = None, wrist: torch.Tensor | None = None,
            hand_uv: torch.Tensor | None = None) -> dict:
        """An action chunk (b,c,a), clipped to [-1, 1], and when it reads μ_0, μ_0's trace (b,n,h,3) at the
        keypoints it queried (`grid_uv`, (b,n,2): the grid or the moving ones, then the hand's)."""
        return self._act(images, instructions, proprio, noise, wrist, hand_uv)

    def _act(self, images, instructions, proprio, noise, wrist, hand_uv, precompute: bool = True) -> dict:
        ctx, ctx_mask, forecast = self.context(images, instructions, proprio, with_trace=True, wrist=wrist,
                                               hand_uv=hand_uv)
        b = len(images)
        x = noise if noise is not None else torch.randn(b, self.cfg.chunk, self.cfg.action_dim, device=images.device)
        steps = self.cfg.flow_steps
        keys, modulations = None, itertools.repeat(None)
        if precompute and not partitioned(self):  # the steps read one context at times known in advance: project
            # them once (not under ZeRO-3, whose parameters are whole only inside their modules' forward)
            keys = [block.context_keys(ctx, ~ctx_mask) for block in self.blocks]
            times = euler_times(steps, steps, b, x.device)
            modulations = iter(step_modulations(self.blocks, self._conditioning(times)))
        x = euler(x, lambda x, t: self.velocity(ctx, ctx_mask, x, t, keys, next(modulations)), steps)
        out = {"actions": x.clamp(-1.0, 1.0)}
        if forecast is not None:
            out["grid_uv"], out["trace"] = forecast
        return out
