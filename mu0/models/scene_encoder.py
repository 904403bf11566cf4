"""A small convolutional scene encoder for the trace expert: the whole image as one vector that every keypoint
token adds and every block's adaLN condition reads.

Why: the tiny vision-language backbone is trained from scratch, and at this data scale its vision transformer
does not learn the scene layout (where the gripper, the objects and the handles are) that decides the motion; a
few stride-2 convolutions do, within the same budget (README, "Why μ_0 is behind"). The encoder plays the part
the recipe gives frozen DINOv2 features — image evidence the expert reads directly, beside the backbone prefix —
but keeps the layout: the last feature map is flattened, not pooled, so each keypoint token can relate its own
(u, v) to where things are.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class Scene(NamedTuple):
    """One image's encoding: the whole-scene vector every token adds and every block's condition reads, and
    the stride-4 feature map a keypoint reads at its own (u, v) (`TraceExpertConfig.scene_point_features`)."""

    vector: torch.Tensor  # (b,width)
    grid: torch.Tensor  # (b,c,size/4,size/4)


class SceneEncoder(nn.Module):
    """uint8 RGB images (b,3,h,w) → Scene: resized to `size`, four 3×3 stride-2 convolutions; the last
    (size/16)² feature map flattened and projected is the vector, the second one (size/4)² the grid."""

    def __init__(self, width: int, size: int = 64, channels: tuple[int, ...] = (32, 64, 64, 64),
                 shift: int = 0, vector: bool = True) -> None:
        """`vector` false builds the feature map's layers only (no whole-scene vector: `feature_map` alone)."""
        super().__init__()
        if size % 2 ** len(channels):
            raise ValueError(f"scene_size {size} must be a multiple of {2 ** len(channels)}")
        self.size, self.shift = size, shift
        channels = channels if vector else channels[:2]
        layers, previous = [], 3
        for c in channels:
            layers += [nn.Conv2d(previous, c, 3, stride=2, padding=1), nn.GELU()]
            previous = c
        self.convs = nn.Sequential(*layers)
        cells = (size // 2 ** len(channels)) ** 2
        self.project = nn.Linear(previous * cells, width) if vector else None
        self.grid_channels = channels[1]

    def forward(self, images: torch.Tensor) -> Scene:
        grid = self.feature_map(images)
        return Scene(self.project(self.convs[4:](grid).flatten(1)), grid)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """The stride-4 feature map (b,c,size/4,size/4) alone (what a policy reads of its wrist camera)."""
        x = F.interpolate(images.float() / 127.5 - 1.0, size=(self.size, self.size), mode="area")
        if self.training and self.shift:
            x = random_shift(x, self.shift)
        return self.convs[:4](x)  # two conv + GELU pairs: stride 4


def random_shift(x: torch.Tensor, pixels: int) -> torch.Tensor:
    """Each image (b,c,s,s) moved by its own random whole-pixel offset within ±pixels, edges repeated (DrQ's
    augmentation): the scene's layout is read, not the exact pixels of one training episode."""
    b, c, s, _ = x.shape
    padded = F.pad(x, (pixels,) * 4, mode="replicate")
    start = torch.randint(0, 2 * pixels + 1, (b, 2), device=x.device)
    index = start[:, :, None] + torch.arange(s, device=x.device)  # (b, 2, s): the rows and columns kept
    rows = padded.gather(2, index[:, 0, None, :, None].expand(b, c, s, s + 2 * pixels))
    return rows.gather(3, index[:, 1, None, None, :].expand(b, c, s, s))
