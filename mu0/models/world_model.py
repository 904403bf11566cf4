"""μ_0: backbone + trace expert, trained with flow matching in B-spline control-point space.

Targets are the control points fitted to each keypoint's normalised future deltas (BSplineTrace.fit).
Flow matching follows π_0: x_t = t·ε + (1−t)·P, t ~ Beta(1.5, 1)·0.999 + 0.001; the expert's head outputs
the velocity u = ε − P (the recipe) or the clean control points P (`predicts`, whose loss is their squared
error); a keypoint counts only with at least `min_valid_steps` valid future steps. A done head learns per step
whether the future is still valid (BCE, weight `done_weight`). Sampling runs the prefix once and
integrates from t = 1 to 0 with Euler steps. Weights save as config.json + model.safetensors.
Batch keys: see traces.dataset. Shapes: b batch, n keypoints, h horizon, k control points.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from mu0.batch import (
    CLUSTER_IDS,
    DEPTH,
    FUTURE,
    FUTURE_VALID,
    HISTORY,
    HISTORY_VALID,
    IMAGE,
    INSTRUCTION,
    POINT_MASK,
    POINTS_UV,
    Z_VALID,
)
from mu0.config import WorldModelConfig
from mu0.models.backbone import VLMBackbone
from mu0.models.baselines.kinematic import constant_velocity
from mu0.models.bspline import BSplineTrace
from mu0.models.checkpoint import Checkpointable
from mu0.models.depth_image import colorize_depth, has_depth
from mu0.models.expert_block import partitioned
from mu0.models.flow_matching import euler, euler_times, noised, sample_time
from mu0.models.loss_mask import trainable
from mu0.models.scene_encoder import Scene
from mu0.models.trace_expert import TraceExpert


def rigidity_loss(ctrl: torch.Tensor, cluster_ids: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Mean over pairs of keypoints in the same moving entity (cluster id > 0, both usable) of the
    variance, across control points, of their distance: zero when the entity moves rigidly."""
    dist = torch.linalg.vector_norm(ctrl[:, :, None] - ctrl[:, None, :], dim=-1)  # (b,n,n,k)
    same = (cluster_ids[:, :, None] == cluster_ids[:, None, :]) & (cluster_ids[:, :, None] > 0)
    pairs = same & ok[:, :, None] & ok[:, None, :] & ~torch.eye(ok.shape[1], dtype=torch.bool, device=ok.device)
    var = dist.var(dim=-1, unbiased=False)
    return (var * pairs).sum() / pairs.sum().clamp(min=1)


class WorldContext(NamedTuple):
    """What the expert reads of one image and instruction (`Mu0WorldModel.embed`)."""

    prefix: torch.Tensor  # (b,l,d) backbone hidden states
    mask: torch.Tensor  # (b,l) which prefix tokens are read
    patches: torch.Tensor | None  # (b,d_v,g,g) vision patch grid for keypoint features, or None
    scene: Scene | None = None  # the expert's scene encoding, or None without a scene encoder


class Mu0WorldModel(Checkpointable, nn.Module):
    kind, config_class = "mu0", WorldModelConfig

    def __init__(self, cfg: WorldModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = VLMBackbone(cfg.backbone)
        self.expert = TraceExpert(cfg.expert, self.backbone.hidden_size, cfg.history, cfg.horizon,
                                  self.backbone.patch_width)
        e = cfg.expert
        self.spline = BSplineTrace(cfg.horizon, e.num_ctrl, e.knots, e.reg_lambda, e.ctrl_clip)

    def embed(self, images: torch.Tensor, instructions: list[str], depth: torch.Tensor | None = None
              ) -> WorldContext:
        """What the expert reads of the image, the instruction and (with `depth_image`) the depth (b,1,h,w)
        metres: prefix (b,l,d), its mask (b,l), the patch grid (b,d_v,g,g) where the expert samples
        keypoint features and the expert's scene encoding (each None without it). In training, depth
        is noised and hidden at random."""
        depth_images = shown = None
        if self.cfg.backbone.depth_image and depth is not None:
            depth_images, shown = self._depth_inputs(depth)
        out = self.backbone.embed_prefix(images, instructions, patches=self.cfg.expert.keypoint_features,
                                         depth_images=depth_images, depth_shown=shown)
        scene = self.expert.scene(images) if self.expert.scene is not None else None
        if not self.cfg.expert.keypoint_features:
            out = out + (None,)
        return WorldContext(*out, scene)

    def _depth_inputs(self, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg.backbone
        if tuple(cfg.depth_log_range) == (0.0, 0.0):
            raise ValueError("backbone.depth_log_range is unset: pretraining measures it on the training split")
        shown = has_depth(depth)
        if self.training:  # holes stay holes: noise on a 0 would make it the nearest colour
            ok = torch.isfinite(depth) & (depth > 0)
            depth = torch.where(ok, (depth + cfg.depth_noise_m * torch.randn_like(depth)).clamp(min=1e-3), depth)
            shown = shown & (torch.rand(len(depth), device=depth.device) >= cfg.depth_dropout)
        return colorize_depth(depth, cfg.depth_log_range), shown

    def _expert(self, batch: dict, context: WorldContext, x_t, t):
        return self.expert(context.prefix, context.mask, batch[POINTS_UV], batch[HISTORY], batch[HISTORY_VALID],
                           batch[POINT_MASK], x_t, t, context.patches, context.scene)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        """Training forward pass (what a DeepSpeed engine calls): the loss and its parts."""
        return self.compute_loss(batch)

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        context = self.embed(batch[IMAGE], list(batch[INSTRUCTION]), batch.get(DEPTH))
        future, valid = batch[FUTURE], batch[FUTURE_VALID]
        target = self.spline.fit(future, valid) - self._prior(batch)  # (b,n,k,3)
        keypoint_ok = trainable(batch, self.cfg.expert.num_ctrl)
        axes = torch.ones(3, device=future.device).expand(len(future), 3).clone()
        axes[:, 2] = batch[Z_VALID].float()  # 2D-only samples: no depth target
        target = target * axes[:, None, None, :]  # an unknown z is neither a target nor an input
        t = sample_time(len(future), future.device)
        noise = torch.randn_like(target)
        x_t = noised(target, noise, t)
        out, done_logits = self._expert(batch, context, x_t, t)
        wanted = target if self.cfg.expert.predicts == "clean" else noise - target
        err = ((out - wanted) ** 2 * axes[:, None, None, :]).sum(-1).mean(-1)  # (b,n)
        fm = (err * keypoint_ok).sum() / keypoint_ok.sum().clamp(min=1)
        done = nn.functional.binary_cross_entropy_with_logits(done_logits, valid.float(), reduction="none")
        done = (done.mean(-1) * batch[POINT_MASK]).sum() / batch[POINT_MASK].sum().clamp(min=1)
        loss = fm + self.cfg.expert.done_weight * done
        info = {"flow": float(fm.detach()), "done": float(done.detach()), "keypoints": int(keypoint_ok.sum())}
        if self.cfg.expert.rigidity_weight > 0 and CLUSTER_IDS in batch:
            clean = self._clean(out, x_t, t)  # the prediction of P at this t
            rigid = rigidity_loss(clean, batch[CLUSTER_IDS], keypoint_ok)
            loss = loss + self.cfg.expert.rigidity_weight * rigid
            info["rigidity"] = float(rigid.detach())
        info["loss"] = float(loss.detach())
        return loss, info

    def _velocity(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The flow's velocity u = ε − P from the head's output (b,n,k,3) at flow times t (b,) > 0."""
        return (x_t - out) / t[:, None, None, None] if self.cfg.expert.predicts == "clean" else out

    def _clean(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The estimate of the clean control points P from the head's output at flow times t (b,)."""
        return out if self.cfg.expert.predicts == "clean" else x_t - t[:, None, None, None] * out

    def _prior(self, batch: dict) -> torch.Tensor:
        """(b,n,k,3) control points the expert's output is added to: zero, or the constant-velocity
        extrapolation of the (scaled) history, so the flow learns the correction to it (zero without history)."""
        b, n = batch[POINTS_UV].shape[:2]
        if self.cfg.expert.prior == "none":
            return batch[POINTS_UV].new_zeros(b, n, self.cfg.expert.num_ctrl, 3)
        cv = constant_velocity(batch[HISTORY], batch[HISTORY_VALID], self.cfg.horizon)
        return self.spline.fit(cv, torch.ones(cv.shape[:3], dtype=torch.bool, device=cv.device), clip=False)

    def _sampler(self, context: WorldContext, uv, history, history_valid, point_mask, steps: int, total: int):
        """The expert at each of a sample's Euler steps, (x_t, t) → forward_with_states' outputs: an
        `ExpertSampler`, or — where ZeRO-3 partitions the expert (`partitioned`) — its own forward through the
        module call that gathers its weights, without the states (no trace policy trains under ZeRO-3)."""
        shared = (context.prefix, context.mask, uv, history, history_valid, point_mask)
        if partitioned(self.expert):
            return lambda x, t: (*self.expert(*shared, x, t, context.patches, context.scene), None)
        sampler = self.expert.sampler(*shared, euler_times(steps, total, len(uv), uv.device), context.patches,
                                      context.scene)
        return lambda x, t: sampler(x)

    def _integrate(self, batch: dict, context: WorldContext, x: torch.Tensor, steps: int) -> dict:
        last = {}
        expert = self._sampler(context, batch[POINTS_UV], batch[HISTORY], batch[HISTORY_VALID], batch[POINT_MASK],
                               steps, steps)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out, last["done_logits"], _ = expert(x, t)
            return self._velocity(out, x, t)

        x = euler(x, velocity, steps) + self._prior(batch)
        return {"ctrl": x, "trace": self.spline.render(x), "valid_prob": torch.sigmoid(last["done_logits"])}

    @torch.no_grad()
    def sample(self, batch: dict, steps: int | None = None, noise: torch.Tensor | None = None) -> dict:
        """Euler integration from noise (t=1) to control points (t=0); returns control points, the rendered
        normalised trace (b,n,h,3) and the probability that each step is still part of the trace."""
        return {k: v[0] for k, v in self.sample_many(batch, 1, steps, None if noise is None else noise[None]).items()}

    @torch.no_grad()
    def sample_many(self, batch: dict, num_samples: int, steps: int | None = None,
                    noise: torch.Tensor | None = None) -> dict:
        """`num_samples` independent samples per query, the backbone prefix computed once: every output
        gains a leading sample axis (s, b, n, ...)."""
        steps = steps or self.cfg.expert.inference_steps
        context = self.embed(batch[IMAGE], list(batch[INSTRUCTION]), batch.get(DEPTH))
        b, n = batch[POINTS_UV].shape[:2]
        if noise is None:
            noise = torch.randn(num_samples, b, n, self.cfg.expert.num_ctrl, 3, device=batch[POINTS_UV].device)
        outs = [self._integrate(batch, context, noise[s], steps) for s in range(num_samples)]
        return {k: torch.stack([o[k] for o in outs]) for k in outs[0]}

    @torch.no_grad()
    def predict(self, batch: dict, num_samples: int = 1) -> torch.Tensor:
        """Normalised traces (s,b,n,h,3): `num_samples` flow samples per query."""
        return self.sample_many(batch, num_samples)["trace"]

    @torch.no_grad()
    def predict_point(self, batch: dict) -> torch.Tensor:
        """The deterministic estimate (b,n,h,3): Euler integration started from the noise's mean (x = 0)
        instead of a random draw, the flow's estimate of the conditional mean trace."""
        b, n = batch[POINTS_UV].shape[:2]
        zero = batch[POINTS_UV].new_zeros(1, b, n, self.cfg.expert.num_ctrl, 3)
        return self.sample_many(batch, 1, noise=zero)["trace"][0]

    def trace_features(self, context: WorldContext, uv: torch.Tensor, steps: int = 1
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """What an action expert reads, history-free: starting from x = 0 at t = 1 (the noise's mean), run
        `steps` of the sampler's Euler steps; return the keypoints' future states at the last one (b,n,w)
        and the normalised trace (b,n,h,3) of that step's estimate of the clean control points."""
        b, n = uv.shape[:2]
        total = max(self.cfg.expert.inference_steps, steps)
        x = uv.new_zeros(b, n, self.cfg.expert.num_ctrl, 3)
        history = uv.new_zeros(b, n, self.cfg.history, 3)
        history_valid = torch.zeros(b, n, self.cfg.history, dtype=torch.bool, device=uv.device)
        point_mask = torch.ones(b, n, dtype=torch.bool, device=uv.device)
        last = {}
        expert = self._sampler(context, uv, history, history_valid, point_mask, steps, total)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out, _, last["states"] = expert(x, t)
            last["clean"] = self._clean(out, x, t)
            return self._velocity(out, x, t)

        euler(x, velocity, steps, total)
        return last["states"], self.spline.render(last["clean"])
