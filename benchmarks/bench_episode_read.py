"""Reading one frame from a written episode (memory-mapped) versus loading the frame array whole.

Writes a 300-frame 128×128 RGB-D episode to a temporary folder, then times random single-frame
reads through `open_episode` (RGB + depth of frame t), and the reference: `np.load` of images.npy
without memory mapping, then indexing. Prints mean/p99 per read and the ratio reference / mu0.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from mu0.episodes import EpisodeData, open_episode, write_episode


def make_episode(t: int = 300, size: int = 128) -> EpisodeData:
    rng = np.random.default_rng(0)
    K = np.array([[100.0, 0, (size - 1) / 2], [0, 100.0, (size - 1) / 2], [0, 0, 1]], np.float32)
    return EpisodeData(
        meta={"episode_id": "bench", "source": "synthetic", "task": "bench", "fps": 30.0, "instructions": ["x"],
              "embodiment": "none", "camera": "static"},
        images=rng.integers(0, 255, (t, size, size, 3), dtype=np.uint8),
        depth=(0.5 + rng.random((t, size, size))).astype(np.float32),
        intrinsics=np.repeat(K[None], t, 0), extrinsics=np.repeat(np.eye(4, dtype=np.float32)[None], t, 0),
    )


def time_reads(read, frames: np.ndarray) -> np.ndarray:
    times = np.empty(len(frames))
    for i, t in enumerate(frames):
        start = time.perf_counter()
        read(int(t))
        times[i] = time.perf_counter() - start
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_episode(make_episode(), Path(tmp) / "raw").path
        frames = np.random.default_rng(1).integers(0, 300, 2000)
        open_start = time.perf_counter()
        ep = open_episode(path)
        open_s = time.perf_counter() - open_start
        mmap = time_reads(lambda t: (ep.frame(t), np.array(ep.depth[t])), frames)
        full = time_reads(lambda t: np.load(path / "images.npy")[t].copy(), frames[:50])
    res = {
        "open_episode_ms": open_s * 1e3,
        "mmap_read_rgbd_mean_us": mmap.mean() * 1e6, "mmap_read_rgbd_p99_us": float(np.percentile(mmap, 99)) * 1e6,
        "reference_full_load_mean_us": full.mean() * 1e6, "ratio_reference_over_mmap": full.mean() / mmap.mean(),
    }
    print("300-frame 128x128 RGB-D episode")
    print(f"  open_episode (validate + map)          {res['open_episode_ms']:8.2f} ms")
    print(f"  one frame RGB + depth, memory-mapped   {res['mmap_read_rgbd_mean_us']:8.1f} µs mean, "
          f"{res['mmap_read_rgbd_p99_us']:.1f} µs p99")
    print(f"  reference: np.load whole images.npy    {res['reference_full_load_mean_us']:8.1f} µs per frame")
    print(f"  ratio reference / memory-mapped        {res['ratio_reference_over_mmap']:8.1f}x")
    out = Path(__file__).parent / "results" / "episode_read.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
