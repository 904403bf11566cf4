"""The μ_0 training dataset: one sample per query frame of a trace episode.

A sample holds the frame's image (and optionally depth), N query keypoints (moving ones first,
padded with a mask), their normalised future deltas over the horizon with validity, their
anchor-relative history (with dropout when training), and an instruction drawn from the captions that
cover the frame. Reads our trace episodes and the official TraceExtract output alike (captions in
`captions.json` or `curated_training_texts.json`; meta.json optional). Arrays are memory-mapped and
opened lazily in each DataLoader worker. Shapes: n points, h horizon, p history.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mu0.config import TraceDataConfig
from mu0.traces.color_jitter import color_jitter
from mu0.traces.normalize import DeltaStats, to_unit_uv, unit_deltas

DEFAULT_INSTRUCTION = "predict future trajectory"
CAPTION_FILES = ("captions.json", "curated_training_texts.json")


def _captions(path: Path) -> dict:
    for name in CAPTION_FILES:
        if (path / name).exists():
            return json.loads((path / name).read_text())
    return {}


def pick_instruction(captions: dict, frame: int, fallback: list[str], rng: np.random.Generator) -> str:
    """Uniformly one caption entry covering `frame` (chunk or merged), then one of its paraphrases."""
    entries = [c for key in ("chunk_texts", "merged_texts") for c in captions.get(key, [])
               if c.get("start_idx", 0) <= frame <= c.get("end_idx", -1)]
    texts = []
    if entries:
        entry = entries[int(rng.integers(len(entries)))]
        texts = [entry.get(f"instruction_{i}", "") for i in (1, 2, 3)]
    texts = [t for t in texts if isinstance(t, str) and t.strip()] or [t for t in fallback if t.strip()]
    return texts[int(rng.integers(len(texts)))] if texts else DEFAULT_INSTRUCTION


class _Episode:
    def __init__(self, path: Path) -> None:
        self.path = path
        load = lambda name: np.load(path / "samples" / f"{name}.npy", mmap_mode="r")  # noqa: E731
        self.s = {k: load(k) for k in ("offsets", "frame_indices", "keypoints", "is_moving", "traj", "valid_steps",
                                       "traj_history", "valid_steps_history")}
        cluster_path = path / "samples" / "cluster_ids.npy"  # absent in some official datasets: moving = one entity
        self.s["cluster_ids"] = np.load(cluster_path, mmap_mode="r") if cluster_path.exists() else \
            np.asarray(self.s["is_moving"], np.int64)
        self.images = np.load(path / "images.npy", mmap_mode="r")
        self.depth = np.load(path / "depth.npy", mmap_mode="r") if (path / "depth.npy").exists() else None
        self.hw = tuple(self.images.shape[1:3])
        cameras = path / "cameras.npz"  # intrinsics per frame turn (u, v, z) into camera-frame 3D for metrics
        self.intrinsics = np.load(cameras)["intrinsics"].astype(np.float32) if cameras.exists() else None
        meta = json.loads((path / "meta.json").read_text()) if (path / "meta.json").exists() else {}
        self.instructions = list(meta.get("instructions", []))
        self.z_valid = bool(meta.get("extract", {}).get("stats", {}).get("z_valid", self.depth is not None))
        self.captions = _captions(path)


class TraceDataset(torch.utils.data.Dataset):
    def __init__(self, episode_paths: list[Path], cfg: TraceDataConfig, stats: DeltaStats, train: bool,
                 with_depth: bool = False, moving_only: bool = False, frames: tuple[int, ...] | None = None) -> None:
        """`moving_only` keeps only keypoints labelled moving (and query frames that have one); `frames`
        keeps only those query frames (an evaluation protocol's query slots)."""
        self.paths, self.cfg, self.stats = list(episode_paths), cfg, stats
        self.train, self.with_depth, self.moving_only = train, with_depth, moving_only
        self.index: list[tuple[int, int]] = []
        for e, path in enumerate(self.paths):
            frame_indices = np.load(path / "samples" / "frame_indices.npy", mmap_mode="r")
            keep = np.ones(len(frame_indices), bool) if frames is None else np.isin(frame_indices, frames)
            if moving_only:
                offsets = np.load(path / "samples" / "offsets.npy", mmap_mode="r")
                moving = np.concatenate([[0], np.cumsum(np.load(path / "samples" / "is_moving.npy", mmap_mode="r"))])
                keep &= moving[offsets[1:]] > moving[offsets[:-1]]
            for name, need in (("traj", cfg.horizon + 1), ("traj_history", cfg.history + 1)):
                have = np.load(path / "samples" / f"{name}.npy", mmap_mode="r").shape[1]
                if have < need:
                    raise ValueError(f"{path / 'samples' / name}.npy: {have} steps, but horizon/history "
                                     f"{cfg.horizon}/{cfg.history} need {need} (re-extract with longer horizons)")
            self.index.extend((e, int(i)) for i in np.flatnonzero(keep))
        self._open: dict[int, _Episode] = {}
        self.scale = np.asarray(stats.scale, np.float32)
        self.history_unit = stats.history_unit()

    def __len__(self) -> int:
        return len(self.index)

    def _episode(self, e: int) -> _Episode:
        if e not in self._open:  # opened in the worker that first needs it (memory maps do not pickle well)
            self._open[e] = _Episode(self.paths[e])
        return self._open[e]

    def _rng(self, idx: int, epoch: int | None) -> np.random.Generator:
        """Evaluation draws depend on the index only; training draws on (index, epoch) when the sampler
        says which epoch it is (exactly resumable), and are fresh otherwise."""
        if not self.train:
            return np.random.default_rng((self.cfg.seed, idx))
        return np.random.default_rng((self.cfg.seed, epoch, idx)) if epoch is not None else np.random.default_rng()

    def _rows(self, ep: _Episode, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
        rows = np.arange(a, b)
        moving = np.asarray(ep.s["is_moving"][a:b], bool)
        still = rows[~moving] if not self.moving_only else rows[:0]
        order = np.concatenate([rng.permutation(rows[moving]), rng.permutation(still)])
        return np.sort(order[: self.cfg.num_points])

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """`key` is an index, or (index, epoch) from a sampler that makes training draws reproducible."""
        idx, epoch = (key, None) if isinstance(key, (int, np.integer)) else key
        e, i = self.index[idx]
        ep, cfg, rng = self._episode(e), self.cfg, self._rng(idx, epoch)
        a, b = int(ep.s["offsets"][i]), int(ep.s["offsets"][i + 1])
        t = int(ep.s["frame_indices"][i])
        rows = self._rows(ep, a, b, rng)
        n = len(rows)
        fut, fut_ok = unit_deltas(ep.s["traj"][rows], ep.s["valid_steps"][rows], ep.hw, cfg.horizon)
        hist, hist_ok = unit_deltas(ep.s["traj_history"][rows], ep.s["valid_steps_history"][rows], ep.hw, cfg.history)
        image = np.array(ep.images[t])
        if self.train:
            hist_ok &= rng.random() >= cfg.history_drop_all
            hist_ok &= (rng.random(n) >= cfg.history_drop_point)[:, None]
            image = color_jitter(image, cfg.color_jitter, rng)
        item = {
            "image": torch.from_numpy(image).permute(2, 0, 1),
            "points_uv": _pad(to_unit_uv(np.asarray(ep.s["keypoints"][rows], np.float32), ep.hw), cfg.num_points),
            "points_z": _pad(np.nan_to_num(np.asarray(ep.s["traj"][rows, 0, 2], np.float32), neginf=0.0),
                             cfg.num_points),
            "point_mask": _pad(np.ones(n, bool), cfg.num_points),
            "future": _pad(np.nan_to_num(fut / self.scale, nan=0.0, posinf=0.0, neginf=0.0), cfg.num_points),
            "future_valid": _pad(fut_ok, cfg.num_points),
            "trainable": _pad(fut_ok.sum(-1) >= cfg.min_valid_steps, cfg.num_points),
            "history": _pad(np.nan_to_num(hist / self.history_unit, nan=0.0, posinf=0.0, neginf=0.0), cfg.num_points),
            "history_valid": _pad(hist_ok, cfg.num_points),
            "is_moving": _pad(np.asarray(ep.s["is_moving"][rows], bool), cfg.num_points),
            "cluster_ids": _pad(np.asarray(ep.s["cluster_ids"][rows], np.int64), cfg.num_points),
            "z_valid": torch.tensor(ep.z_valid),
            "instruction": pick_instruction(ep.captions, t, ep.instructions, rng),
            "frame": torch.tensor(t),
            "episode": torch.tensor(e),
            "intrinsics": torch.from_numpy(_intrinsics(ep, t)),
        }
        if self.with_depth:  # a 2D-only episode's depth is all NaN, so a batch can mix both kinds
            depth = np.full(ep.hw, np.nan, np.float32) if ep.depth is None else np.asarray(ep.depth[t], np.float32)
            item["depth"] = torch.from_numpy(depth)[None]
        return item


def _intrinsics(ep: _Episode, t: int) -> np.ndarray:
    if ep.intrinsics is None:
        return np.full((3, 3), np.nan, np.float32)
    return np.array(ep.intrinsics[min(t, len(ep.intrinsics) - 1)])


def _pad(x: np.ndarray, n: int) -> torch.Tensor:
    out = np.zeros((n, *x.shape[1:]), x.dtype)
    out[: len(x)] = x
    return torch.from_numpy(out)
