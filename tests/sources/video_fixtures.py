"""Make small videos, image folders and sidecars on disk for the video and S3 source tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def synthetic_frames(t: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    frames = np.full((t, h, w, 3), 40, np.uint8)
    for i in range(t):
        frames[i, 10:22, 4 + 3 * i : 16 + 3 * i] = (230, 80, 30)
    return frames


def write_mp4(path: Path, frames: np.ndarray, fps: int = 15) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_sidecars(video: Path, t: int, h: int, w: int, depth: np.ndarray | None = None, **sidecar) -> None:
    stem = video.parent / video.name.split(".")[0]
    if sidecar:
        Path(f"{stem}.json").write_text(json.dumps(sidecar))
    if depth is not None:
        np.save(f"{stem}.depth.npy", depth)


def plane_depth(t: int, h: int, w: int, z: float = 1.5) -> np.ndarray:
    return np.full((t, h, w), z, np.float32)
