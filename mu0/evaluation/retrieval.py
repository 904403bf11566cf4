"""The retrieval baseline: forecast by looking the scene up in the training split.

For each query frame it finds the `k` training frames whose images are nearest (L2 over the frame
area-averaged to `thumb`×`thumb` RGB), takes in each of them the keypoint nearest to every query point,
and averages those keypoints' futures step by step (a step no neighbour has stays where the averaged trace
last was). It reads the image and the query points only: no instruction, no history, nothing learned. It
is what "the model only memorised its training scenes" scores, so a learned model has to beat it.
Futures are in the dataset's normalised units. Shapes: b batch, n points, m bank frames, r rows, h steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mu0.batch import FUTURE, FUTURE_VALID, IMAGE, POINT_MASK, POINTS_UV


def thumbnail(images: torch.Tensor, size: int) -> torch.Tensor:
    """(b,3,H,W) uint8 → (b, 3·size²) float descriptors in [0, 1]."""
    return F.interpolate(images.float() / 255.0, size=(size, size), mode="area").flatten(1)


class RetrievalBaseline:
    kind = "retrieval"

    def __init__(self, thumbs: torch.Tensor, uv: torch.Tensor, future: torch.Tensor, valid: torch.Tensor,
                 rows: torch.Tensor, k: int = 3, thumb: int = 24) -> None:
        """thumbs (m,d); uv (m,r,2), future (m,r,h,3), valid (m,r,h) and rows (m,r) of each bank frame's
        keypoints (rows false where padded)."""
        if len(thumbs) == 0:
            raise ValueError("the retrieval baseline needs at least one training frame")
        self.thumbs, self.uv, self.future, self.valid, self.rows = thumbs, uv, future, valid, rows
        self.k, self.thumb = min(k, len(thumbs)), thumb

    @classmethod
    def from_dataset(cls, dataset, k: int = 3, thumb: int = 24, batch_size: int = 64) -> RetrievalBaseline:
        """The bank: every query frame of `dataset` (a TraceDataset without training augmentation) with the
        keypoints it draws."""
        parts = {key: [] for key in ("thumbs", "uv", "future", "valid", "rows")}
        for batch in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
            parts["thumbs"].append(thumbnail(batch[IMAGE], thumb))
            parts["uv"].append(batch[POINTS_UV])
            parts["future"].append(batch[FUTURE].half())  # half the memory; futures are float16 on disk too
            parts["valid"].append(batch[FUTURE_VALID])
            parts["rows"].append(batch[POINT_MASK])
        if not parts["thumbs"]:
            raise ValueError("the retrieval baseline needs at least one training frame")
        return cls(*(torch.cat(parts[key]) for key in ("thumbs", "uv", "future", "valid", "rows")), k=k, thumb=thumb)

    @torch.no_grad()
    def predict_point(self, batch: dict) -> torch.Tensor:
        """(b,n,h,3) normalised futures of the query points."""
        dist = torch.cdist(thumbnail(batch[IMAGE], self.thumb), self.thumbs)  # (b,m)
        nearest = dist.topk(self.k, largest=False).indices  # (b,k)
        uv = self.uv[nearest]  # (b,k,r,2)
        d = torch.cdist(batch[POINTS_UV][:, None].expand(-1, self.k, -1, -1).float(), uv.float())  # (b,k,n,r)
        d = d.masked_fill(~self.rows[nearest][:, :, None, :], float("inf"))
        pick = d.argmin(-1)  # (b,k,n)
        frame = nearest[:, :, None].expand_as(pick)
        future, valid = self.future[frame, pick].float(), self.valid[frame, pick]  # (b,k,n,h,3), (b,k,n,h)
        total = (future * valid[..., None]).sum(1)
        count = valid.sum(1)  # (b,n,h)
        return _hold_last(total / count.clamp(min=1)[..., None], count > 0)

    @torch.no_grad()
    def predict(self, batch: dict, num_samples: int = 1) -> torch.Tensor:
        """Deterministic: every sample is the point estimate (s,b,n,h,3)."""
        return self.predict_point(batch)[None].expand(num_samples, -1, -1, -1, -1)


def _hold_last(trace: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """(b,n,h,3) with steps not `known` (b,n,h) replaced by the last known step before them (0 before any)."""
    idx = torch.where(known, torch.arange(known.shape[-1], device=known.device), -1)
    last = idx.cummax(dim=-1).values  # index of the last known step so far, -1 if none
    held = trace.gather(2, last.clamp(min=0)[..., None].expand_as(trace))
    return torch.where((last >= 0)[..., None], held, torch.zeros_like(trace)).to(trace.dtype)


def bank_size_note(model: RetrievalBaseline) -> dict:
    """What the report says about the bank."""
    return {"frames": int(len(model.thumbs)), "keypoints": int(model.rows.sum()), "k": model.k,
            "thumbnail_px": model.thumb, "descriptor": "L2 over area-averaged RGB"}

