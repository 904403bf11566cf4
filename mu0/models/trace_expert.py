"""The trace expert: two tokens per keypoint (its history, and its noisy future control points),
transformer blocks with adaLN-Zero conditioning (flow time, plus the scene encoding when there is one) that
attend among the keypoints' tokens (or, with `isolate_keypoints`, each keypoint's own two) and to the
backbone's prefix, and two heads: control points (velocity or clean, flow matching) and per-step "done".

No positional encoding orders the keypoints, so the expert is permutation-equivariant over them;
where a keypoint is comes from a Fourier embedding of its (u, v), what is there from the vision
tower's patch features sampled at that (u, v) (the recipe samples frozen DINOv2 features there), and the
whole scene from a small CNN's encoding of the image (scene_encoder.py), added to every token.
History tokens do not see future tokens; future tokens see everything allowed. Shapes: b batch, n keypoints,
p history steps, k control points, l prefix tokens, w width.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mu0.config import TraceExpertConfig
from mu0.models.expert_block import ExpertBlock, Modulation, step_modulations
from mu0.models.scene_encoder import Scene, SceneEncoder


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """DiT-style sinusoidal embedding of flow times t (b,) in [0, 1] → (b, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class FourierUV(nn.Module):
    """(b,n,2) unit coordinates → (b,n,w); the last layer starts at zero so it adds nothing at first."""

    def __init__(self, freqs: int, width: int) -> None:
        super().__init__()
        self.register_buffer("bands", 2.0 ** torch.arange(freqs, dtype=torch.float32) * math.pi, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(4 * freqs, width), nn.SiLU(), nn.Linear(width, width))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, uv: torch.Tensor) -> torch.Tensor:
        x = uv[..., None] * self.bands  # (b,n,2,f)
        return self.mlp(torch.cat([x.sin(), x.cos()], dim=-1).flatten(-2))


def sample_patches(patches: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """The patch grid (b,d,g,g) read bilinearly at unit (u, v) (b,n,2) → (b,n,d); unit uv has its pixel
    edges at ±1, which is grid_sample's convention with align_corners=False."""
    sampled = nn.functional.grid_sample(patches, uv[:, :, None, :].to(patches.dtype), mode="bilinear",
                                        padding_mode="border", align_corners=False)  # (b,d,n,1)
    return sampled[..., 0].transpose(1, 2)


class KeypointFeatures(nn.Module):
    """The image's patch grid (b,d_v,g,g) sampled bilinearly at each keypoint's unit (u, v) (b,n,2) and
    fused by a 2-layer MLP → (b,n,w): what the image shows at the point (gripper, handle, table)."""

    def __init__(self, patch_width: int, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.LayerNorm(patch_width), nn.Linear(patch_width, width), nn.SiLU(),
                                 nn.Linear(width, width))

    def forward(self, patches: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        return self.mlp(sample_patches(patches, uv))


class TraceExpert(nn.Module):
    def __init__(self, cfg: TraceExpertConfig, prefix_width: int, history: int, horizon: int,
                 patch_width: int = 0) -> None:
        super().__init__()
        w, k = cfg.width, cfg.num_ctrl
        self.cfg, self.horizon = cfg, horizon
        self.history_in = nn.Linear(history * 4, w)  # (dx, dy, dz, valid) per history step
        self.future_in = nn.Linear(k * 3, w)
        self.segment = nn.Embedding(2, w)  # history token / future token
        self.uv = FourierUV(cfg.fourier_freqs, w)
        self.point_features = KeypointFeatures(patch_width, w) if cfg.keypoint_features else None
        self.scene = SceneEncoder(w, cfg.scene_size, shift=cfg.scene_shift) if cfg.scene_encoder else None
        self.scene_points = (KeypointFeatures(self.scene.grid_channels, w)
                             if cfg.scene_encoder and cfg.scene_point_features else None)
        self.prefix_proj = nn.Linear(prefix_width, w)
        self.time_mlp = nn.Sequential(nn.Linear(w, w), nn.SiLU(), nn.Linear(w, w))
        self.blocks = nn.ModuleList(ExpertBlock(w, cfg.heads) for _ in range(cfg.layers))
        self.out_norm = nn.LayerNorm(w)
        self.velocity_out = nn.Linear(w, k * 3)  # the flow's velocity, or the clean control points (cfg.predicts)
        if cfg.prior != "none":  # an untrained expert then predicts the prior itself (its estimate from x = 0)
            nn.init.zeros_(self.velocity_out.weight)
            nn.init.zeros_(self.velocity_out.bias)
        self.done_out = nn.Linear(w, horizon)
        nn.init.zeros_(self.done_out.weight)
        nn.init.constant_(self.done_out.bias, 3.0)  # an untrained head says "still valid"

    def _keypoints(self, uv, history, history_valid, patches, scene: Scene | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each keypoint's history token (b,n,w) and where it is (b,n,w), which its future token adds to its input."""
        hist = torch.cat([history * history_valid[..., None], history_valid[..., None].float()], dim=-1)
        where = self.uv(uv)
        if self.point_features is not None:
            if patches is None:
                raise ValueError("this trace expert reads keypoint features: pass the backbone's patch grid")
            where = where + self.point_features(patches, uv)
        if self.scene is not None:
            if scene is None:
                raise ValueError("this trace expert reads the scene: pass its encoding (TraceExpert.scene(images))")
            where = where + scene.vector[:, None]
            if self.scene_points is not None:
                where = where + self.scene_points(scene.grid, uv)
        return self.history_in(hist.flatten(2)) + self.segment.weight[0] + where, where

    def _tokens(self, keypoints: tuple[torch.Tensor, torch.Tensor], x_t: torch.Tensor) -> torch.Tensor:
        """The (b,2n,w) token sequence: each keypoint's history token, then its future token for x_t (b,n,k,3)."""
        history, where = keypoints
        future = self.future_in(x_t.flatten(2)) + self.segment.weight[1] + where
        return torch.stack([history, future], dim=2).flatten(1, 2)

    def _conditioning(self, t: torch.Tensor, scene: Scene | None) -> torch.Tensor:
        """The blocks' conditioning (…,b,w) at flow times t (…,b)."""
        cond = self.time_mlp(timestep_embedding(t.flatten(), self.cfg.width)).reshape(*t.shape, -1)
        if scene is not None:  # the scene also modulates every block, as a class label does in DiT
            cond = cond + scene.vector
        return cond

    def _self_masks(self, point_mask: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The self-attention's (2n,2n) mask and (b,2n) padding; none when keypoints are isolated (pairs):
        a token then sees only its own keypoint's two tokens (and the prefix), so padding cannot leak into a
        real keypoint and a padded one keeps a key to read."""
        if self.cfg.isolate_keypoints:
            return None, None
        is_future = torch.arange(2 * point_mask.shape[1], device=point_mask.device) % 2 == 1
        self_mask = ~is_future[:, None] & is_future[None, :]  # history tokens do not look at futures
        return self_mask, ~point_mask.repeat_interleave(2, dim=1)

    def _through_blocks(self, x, conds, prefixes, prefix_pad, self_mask, token_pad) -> torch.Tensor:
        """The (b,2n,w) tokens through every block (conds, prefixes: each block's conditioning and context, or
        their precomputed forms); the future tokens' states (b,n,w)."""
        pairs = self.cfg.isolate_keypoints
        last = len(self.blocks) - 1
        for i, (block, cond, prefix) in enumerate(zip(self.blocks, conds, prefixes, strict=True)):
            x = block(x, cond, prefix, prefix_pad, self_mask, token_pad, pairs=pairs, futures_only=pairs and i == last)
        return x if pairs and self.blocks else x[:, 1::2]

    def _heads(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        future = self.out_norm(states)
        return self.velocity_out(future).unflatten(-1, (self.cfg.num_ctrl, 3)), self.done_out(future)

    def forward(self, prefix, prefix_mask, uv, history, history_valid, point_mask, x_t, t, patches=None, scene=None):
        """Control-point velocity (b,n,k,3) and done logits (b,n,horizon); `patches` (b,d_v,g,g) is the
        backbone's patch grid, needed with keypoint features; `scene` the scene encoding (scene_encoder.Scene),
        needed with the scene encoder."""
        velocity, done, _ = self.forward_with_states(prefix, prefix_mask, uv, history, history_valid, point_mask, x_t,
                                                     t, patches, scene)
        return velocity, done

    def forward_with_states(self, prefix, prefix_mask, uv, history, history_valid, point_mask, x_t, t, patches=None,
                            scene=None):
        """forward's outputs plus the keypoints' future-token states (b,n,w): what an action expert reads."""
        states = self.future_states(prefix, prefix_mask, uv, history, history_valid, point_mask, x_t, t, patches, scene)
        return *self._heads(states), states

    def future_states(self, prefix, prefix_mask, uv, history, history_valid, point_mask, x_t, t, patches=None,
                      scene=None):
        """Each keypoint's future-token state (b,n,w) before the final norm: the trace features an action
        expert reads."""
        x = self._tokens(self._keypoints(uv, history, history_valid, patches, scene), x_t)
        blocks = len(self.blocks)
        return self._through_blocks(x, [self._conditioning(t, scene)] * blocks, [self.prefix_proj(prefix)] * blocks,
                                    ~prefix_mask, *self._self_masks(point_mask))

    def sampler(self, prefix, prefix_mask, uv, history, history_valid, point_mask, times, patches=None, scene=None
                ) -> ExpertSampler:
        """forward_with_states for the Euler steps of one sample at flow times `times` (s,b), one call per step,
        with what the steps share computed once (`ExpertSampler`)."""
        return ExpertSampler(self, prefix, prefix_mask, uv, history, history_valid, point_mask, times, patches, scene)


class ExpertSampler:
    """The trace expert at each Euler step of one sample, in order: (velocity, done logits, states) for that
    step's x_t, as forward_with_states gives them. What the steps share is computed once: the keypoints' tokens
    but the noisy future's, each block's keys of the prefix and every block's modulation at every step's time
    (`step_modulations`). With the blocks' own savings, a policy plan's four steps went 47 → 35 ms on one core."""

    def __init__(self, expert: TraceExpert, prefix, prefix_mask, uv, history, history_valid, point_mask, times,
                 patches=None, scene=None) -> None:
        self.expert = expert
        self.keypoints = expert._keypoints(uv, history, history_valid, patches, scene)
        self.masks = expert._self_masks(point_mask)
        prefix = expert.prefix_proj(prefix)
        self.keys = [block.context_keys(prefix, ~prefix_mask) for block in expert.blocks]
        self.modulations = step_modulations(expert.blocks, expert._conditioning(times, scene))
        self.step = 0

    def __call__(self, x_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.step == len(self.modulations):
            raise RuntimeError(f"this sampler was prepared for {self.step} Euler steps")
        modulation: list[Modulation] = self.modulations[self.step]
        self.step += 1
        x = self.expert._tokens(self.keypoints, x_t)
        states = self.expert._through_blocks(x, modulation, self.keys, None, *self.masks)
        return *self.expert._heads(states), states
