"""The ATM-style baseline: a track transformer without a VLM.

Image patches, instruction words and one token per query point (a learned query plus a Fourier
embedding of its (u, v)) go through one transformer encoder; each point token regresses its whole
normalised future (horizon × 3) directly, with a masked mean-squared error. It is deterministic and
reads no history, as ATM's track transformer. Batch keys as in traces.dataset; shapes: b batch,
n points, h horizon, w width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mu0.batch import FUTURE, FUTURE_VALID, IMAGE, INSTRUCTION, POINT_MASK, POINTS_UV, Z_VALID
from mu0.config import TrackTransformerConfig
from mu0.models import tokenizer
from mu0.models.checkpoint import Checkpointable
from mu0.models.loss_mask import trainable
from mu0.models.trace_expert import FourierUV


def masked_axes(batch: dict) -> torch.Tensor:
    """(b,3) weights of the u, v, z axes: z counts only where the sample has depth."""
    axes = torch.ones(len(batch[Z_VALID]), 3, device=batch[FUTURE].device)
    axes[:, 2] = batch[Z_VALID].float()
    return axes


class TrackTransformer(Checkpointable, nn.Module):
    kind, config_class = "track-transformer", TrackTransformerConfig

    def __init__(self, cfg: TrackTransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        patches = (cfg.image_size // cfg.patch_size) ** 2
        self.patchify = nn.Conv2d(3, w, cfg.patch_size, stride=cfg.patch_size)
        self.image_pos = nn.Parameter(torch.randn(1, patches, w) * 0.02)
        self.text = nn.Embedding(tokenizer.VOCAB_SIZE, w)
        self.text_pos = nn.Parameter(torch.randn(1, cfg.max_text_tokens, w) * 0.02)
        self.query = nn.Parameter(torch.randn(w) * 0.02)
        self.uv = FourierUV(cfg.fourier_freqs, w)
        self.token_type = nn.Embedding(3, w)  # image / text / point
        layer = nn.TransformerEncoderLayer(w, cfg.heads, 4 * w, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.horizon * 3)
        nn.init.zeros_(self.head.weight)  # starts by predicting "nothing moves"
        nn.init.zeros_(self.head.bias)

    def _regress(self, batch: dict) -> torch.Tensor:
        images = batch[IMAGE]
        x = F.interpolate(images.float() / 127.5 - 1.0, size=(self.cfg.image_size,) * 2, mode="bilinear",
                          antialias=True, align_corners=False)
        img = self.patchify(x).flatten(2).transpose(1, 2) + self.image_pos + self.token_type.weight[0]
        ids, text_mask = tokenizer.encode(list(batch[INSTRUCTION]), self.cfg.max_text_tokens)
        ids, text_mask = ids.to(images.device), text_mask.to(images.device)
        txt = self.text(ids) + self.text_pos[:, : ids.shape[1]] + self.token_type.weight[1]
        pts = self.query + self.uv(batch[POINTS_UV]) + self.token_type.weight[2]
        b, n = pts.shape[:2]
        pad = torch.cat([torch.zeros(b, img.shape[1], dtype=torch.bool, device=images.device), ~text_mask,
                         ~batch[POINT_MASK]], dim=1)
        out = self.encoder(torch.cat([img, txt, pts], dim=1), src_key_padding_mask=pad)
        return self.head(self.out_norm(out[:, -n:])).reshape(b, n, self.cfg.horizon, 3)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        return self.compute_loss(batch)

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict]:
        pred = self._regress(batch)
        weight = batch[FUTURE_VALID].float() * trainable(batch, 1)[..., None]  # (b,n,h)
        err = ((pred - batch[FUTURE]) ** 2 * masked_axes(batch)[:, None, None]).sum(-1)
        loss = (err * weight).sum() / weight.sum().clamp(min=1)
        return loss, {"loss": float(loss.detach()), "keypoints": int(batch[POINT_MASK].sum())}

    @torch.no_grad()
    def predict(self, batch: dict, num_samples: int = 1) -> torch.Tensor:
        """Normalised traces (s,b,n,h,3); deterministic, so every sample is the same."""
        return self._regress(batch)[None].expand(num_samples, -1, -1, -1, -1)

    @torch.no_grad()
    def predict_point(self, batch: dict) -> torch.Tensor:
        return self._regress(batch)
