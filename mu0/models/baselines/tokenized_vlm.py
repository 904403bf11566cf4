"""The tokenized-VLM baseline: μ_0's backbone, no trace expert; coordinates are words.

Each query point becomes a block of tokens after the [image, instruction] prefix: its (u, v) as two bin
tokens, then its B-spline control points (fitted as μ_0's targets, normalised and clipped) as 3·K bin
tokens, x y z per control point. The LM head predicts the next token (cross-entropy over the whole
vocabulary, teacher forcing); decoding is greedy over the bin tokens (later samples: temperature 1).
Point blocks attend to the prefix and to themselves only, so all points decode in parallel: the
prefix's key-value cache is computed once and repeated for every point. Shapes: b batch, n points,
k control points, l prefix tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mu0.batch import FUTURE, FUTURE_VALID, IMAGE, INSTRUCTION, POINTS_UV
from mu0.config import TokenizedVLMConfig
from mu0.models import tokenizer
from mu0.models.backbone import VLMBackbone
from mu0.models.baselines.track_transformer import masked_axes
from mu0.models.bspline import BSplineTrace
from mu0.models.checkpoint import Checkpointable
from mu0.models.loss_mask import trainable


class TokenizedVLM(Checkpointable, nn.Module):
    kind, config_class = "tokenized-vlm", TokenizedVLMConfig

    def __init__(self, cfg: TokenizedVLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = VLMBackbone(cfg.backbone, extra_tokens=cfg.bins)
        # The head scores the coordinate bins only: the model never writes words, and a head over the whole
        # word vocabulary would be 4356-wide where 256 are ever the answer.
        self.lm_head = nn.Linear(self.backbone.hidden_size, cfg.bins, bias=False)
        self.spline = BSplineTrace(cfg.horizon, cfg.num_ctrl, cfg.knots, cfg.reg_lambda, cfg.ctrl_clip)

    def _to_bins(self, x: torch.Tensor, limit: float) -> torch.Tensor:
        unit = ((x.clamp(-limit, limit) + limit) / (2 * limit)).clamp(0, 1)
        return (unit * (self.cfg.bins - 1)).round().long()

    def _from_bins(self, bins: torch.Tensor) -> torch.Tensor:
        return bins.float() / (self.cfg.bins - 1) * 2 * self.cfg.ctrl_clip - self.cfg.ctrl_clip

    def _start(self, batch: dict):
        """The prefix cache repeated per point, the attention mask and next position per point sequence."""
        b, n = batch[POINTS_UV].shape[:2]
        _, mask, cache = self.backbone.embed_prefix(batch[IMAGE], list(batch[INSTRUCTION]), use_cache=True)
        cache.batch_repeat_interleave(n)
        uv = self._to_bins(batch[POINTS_UV], 1.0).reshape(b * n, 2) + tokenizer.VOCAB_SIZE
        return cache, mask.repeat_interleave(n, dim=0), mask.shape[1], uv

    def _step(self, ids: torch.Tensor, cache, mask: torch.Tensor, position: int) -> torch.Tensor:
        """Feed (b·n, t) tokens at `position`; returns their logits over the coordinate bins (b·n, t, bins)."""
        m = ids.shape[1]
        full = torch.cat([mask, torch.ones(len(ids), m, dtype=torch.bool, device=ids.device)], dim=1)
        pos = torch.arange(position, position + m, device=ids.device).expand(len(ids), m)
        out = self.backbone.model(input_ids=ids, attention_mask=full.long(), position_ids=pos, cache=cache,
                                  use_cache=True)
        return self.lm_head(out.last_hidden_state), full

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        return self.compute_loss(batch)

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        b, n = batch[POINTS_UV].shape[:2]
        k = self.cfg.num_ctrl
        target = self.spline.fit(batch[FUTURE], batch[FUTURE_VALID])  # (b,n,k,3) normalised, clipped
        tokens = self._to_bins(target, self.cfg.ctrl_clip).reshape(b * n, 3 * k) + tokenizer.VOCAB_SIZE
        cache, mask, length, uv = self._start(batch)
        logits, _ = self._step(torch.cat([uv, tokens[:, :-1]], dim=1), cache, mask, length)
        ce = F.cross_entropy(logits[:, 1:].reshape(-1, logits.shape[-1]), (tokens - tokenizer.VOCAB_SIZE).reshape(-1),
                             reduction="none").reshape(b, n, k, 3)
        ok = trainable(batch, k)
        weight = (ok[..., None, None].float() * masked_axes(batch)[:, None, None, :]).expand_as(ce)
        loss = (ce * weight).sum() / weight.sum().clamp(min=1)
        return loss, {"loss": float(loss.detach()), "keypoints": int(ok.sum())}

    def _decode(self, batch: dict, temperature: float) -> torch.Tensor:
        b, n = batch[POINTS_UV].shape[:2]
        cache, mask, position, ids = self._start(batch)
        out = []
        for _ in range(3 * self.cfg.num_ctrl):
            logits, mask = self._step(ids, cache, mask, position)
            position += ids.shape[1]
            bins = logits[:, -1]
            pick = bins.argmax(-1) if temperature <= 0 else \
                torch.multinomial(F.softmax(bins / temperature, dim=-1), 1)[:, 0]
            out.append(pick)
            ids = (pick + tokenizer.VOCAB_SIZE)[:, None]
        ctrl = self._from_bins(torch.stack(out, dim=1)).reshape(b, n, self.cfg.num_ctrl, 3)
        return self.spline.render(ctrl)

    @torch.no_grad()
    def predict(self, batch: dict, num_samples: int = 1) -> torch.Tensor:
        """Normalised traces (s,b,n,h,3): the greedy decode first, then samples at temperature 1."""
        return torch.stack([self._decode(batch, 0.0 if s == 0 else 1.0) for s in range(num_samples)])

    @torch.no_grad()
    def predict_point(self, batch: dict) -> torch.Tensor:
        """The greedy decode (b,n,h,3): its best single prediction."""
        return self._decode(batch, 0.0)
