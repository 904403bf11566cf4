"""The flow network: a small U-Net over two RGB-D frames and the camera's own flow between them. It
predicts the residual flow (what moves in the world) and whether each pixel of the first frame is still
seen in the second. Small enough for a CPU: the extraction runs it once per frame pair."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# rgb a (3), rgb b (3), rgb b warped by the camera flow (3), inverse depth a (1), camera flow (2), depth known (1)
IN_CHANNELS = 13
CAMERA_FLOW = slice(10, 12)  # where the camera flow sits among the input channels
FLOW_SCALE = 8.0  # pixels per unit of the camera-flow input and of the residual output


@dataclasses.dataclass(frozen=True)
class FlowNetConfig:
    widths: tuple[int, ...] = (16, 24, 32, 48, 64)  # channels at full, 1/2, 1/4, 1/8, 1/16 resolution


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True))


class FlowNet(nn.Module):
    def __init__(self, cfg: FlowNetConfig = FlowNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.down = nn.ModuleList([_conv(IN_CHANNELS, w[0])])
        for a, b in zip(w[:-1], w[1:], strict=True):
            self.down.append(nn.Sequential(_conv(a, b, 2), _conv(b, b)))
        self.up = nn.ModuleList([_conv(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1))])
        self.head = nn.Conv2d(w[0], 3, 3, 1, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # starts as "only the camera moves, everything is seen"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(b,13,h,w) inputs → residual flow (b,2,h,w) in pixels and visibility logits (b,h,w)."""
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        for layer, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = layer(torch.cat([x, skip], 1))
        out = self.head(x)
        return out[:, :2] * FLOW_SCALE, out[:, 2]


def flow_inputs(rgb_a: np.ndarray, rgb_b: np.ndarray, depth_a: np.ndarray, cam_flow: np.ndarray) -> np.ndarray:
    """(13,h,w) float32 network input of one frame pair: (h,w,3) uint8 frames, (h,w) metres (0 = none) and
    the (h,w,2) camera flow from a to b (NaN where a has no depth)."""
    import cv2

    h, w = depth_a.shape
    known = np.all(np.isfinite(cam_flow), axis=2)
    flow = np.where(known[..., None], cam_flow, 0.0).astype(np.float32)
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    warped = cv2.remap(rgb_b, u + flow[..., 0], v + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=(128, 128, 128))
    inv_depth = np.where(depth_a > 0, 1.0 / np.maximum(depth_a, 1e-3), 0.0).clip(0, 10) / 5.0
    parts = [np.moveaxis(im.astype(np.float32) / 255.0 - 0.5, 2, 0) for im in (rgb_a, rgb_b, warped)]
    parts += [inv_depth[None].astype(np.float32), np.moveaxis(flow, 2, 0) / FLOW_SCALE, known[None].astype(np.float32)]
    return np.concatenate(parts, 0)


def save_flow_net(net: FlowNet, path: Path, info: dict) -> None:
    """Weights as safetensors (never pickled), with the config and `info` (what it was trained on) as metadata."""
    from safetensors.torch import save_file

    meta = {"config": json.dumps(dataclasses.asdict(net.cfg)), "info": json.dumps(info)}
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp), metadata=meta)
    tmp.replace(path)


def load_flow_net(path: Path | str) -> tuple[FlowNet, dict]:
    """The network saved by `save_flow_net` and its `info`; a clear error names a missing or foreign file."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no flow-network weights there (train them with `mu0 train-flow`)")
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        cfg = FlowNetConfig(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in json.loads(meta["config"]).items()})
        net = FlowNet(cfg)
        net.load_state_dict(load_file(str(path)))
    except (KeyError, ValueError, RuntimeError, OSError, SafetensorError) as exc:
        raise ValueError(f"{path}: not a flow network saved by mu0 ({exc})") from None
    net.eval()
    return net, json.loads(meta.get("info", "{}"))
