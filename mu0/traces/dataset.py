"""The μ_0 training dataset: one sample per query frame of a trace episode.

A sample holds the frame's image (and optionally depth), N query keypoints (moving ones first,
padded with a mask), their normalised future deltas over the horizon with validity, their
anchor-relative history (with dropout when training), and an instruction drawn from the captions that
cover the frame. Reads our trace episodes and the official TraceExtract output alike (captions in
`captions.json` or `curated_training_texts.json`; meta.json optional). Arrays are memory-mapped and
opened lazily in each DataLoader worker. Shapes: n points, h horizon, p history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mu0.batch import (
    CLUSTER_IDS,
    DEPTH,
    EPISODE,
    FRAME,
    FUTURE,
    FUTURE_VALID,
    HISTORY,
    HISTORY_VALID,
    IMAGE,
    INSTRUCTION,
    INTRINSICS,
    IS_MOVING,
    POINT_MASK,
    POINTS_UV,
    POINTS_Z,
    TRAINABLE,
    Z_VALID,
)
from mu0.config import TraceDataConfig
from mu0.episodes import trace_layout as layout
from mu0.traces.color_jitter import color_jitter
from mu0.traces.normalize import DeltaStats, to_unit_uv, unit_deltas
from mu0.traces.random_shift import draw_shift, shift_image, shift_intrinsics

DEFAULT_INSTRUCTION = "predict future trajectory"


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


def check_finite_where_valid(path: Path) -> None:
    """Refuse an episode whose valid trace steps hold NaN or inf (u, v always; depth when the episode has
    metric depth): they would become zero targets or silently invalid steps. This holds whether or not the
    validation gate ran."""
    axes = 3 if layout.z_valid(layout.read_trace_meta(path), path) else 2
    pairs = ((layout.TRAJ, layout.VALID_STEPS), (layout.TRAJ_HISTORY, layout.VALID_STEPS_HISTORY))
    for traj_name, valid_name in pairs:
        traj = np.asarray(layout.load_sample(path, traj_name)[..., :axes], np.float32)
        bad = np.asarray(layout.load_sample(path, valid_name), bool) & ~np.isfinite(traj).all(-1)
        if bad.any():
            row, step = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{layout.sample_file(path, traj_name)}: {int(bad.sum())} steps marked valid in "
                             f"{valid_name}.npy hold NaN or inf (first: row {row}, step {step}); episode {path.name} "
                             "is corrupt: re-extract it, or run `mu0 validate` to quarantine it")


class TraceDataset(torch.utils.data.Dataset):
    def __init__(self, episode_paths: list[Path], cfg: TraceDataConfig, stats: DeltaStats, train: bool,
                 with_depth: bool = False, moving_only: bool = False, frames: tuple[int, ...] | None = None) -> None:
        """`moving_only` keeps only keypoints labelled moving (and query frames that have one); `frames`
        keeps only those query frames (an evaluation protocol's query slots)."""
        self.paths, self.cfg, self.stats = list(episode_paths), cfg, stats
        self.train, self.with_depth, self.moving_only = train, with_depth, moving_only
        self.index: list[tuple[int, int]] = []
        for e, path in enumerate(self.paths):
            frame_indices = layout.load_sample(path, layout.FRAME_INDICES)
            keep = np.ones(len(frame_indices), bool) if frames is None else np.isin(frame_indices, frames)
            if moving_only:
                offsets = layout.load_sample(path, layout.OFFSETS)
                moving = np.concatenate([[0], np.cumsum(layout.load_sample(path, layout.IS_MOVING))])
                keep &= moving[offsets[1:]] > moving[offsets[:-1]]
            for name, need in ((layout.TRAJ, cfg.horizon + 1), (layout.TRAJ_HISTORY, cfg.history + 1)):
                have = layout.load_sample(path, name).shape[1]
                if have < need:
                    raise ValueError(f"{layout.sample_file(path, name)}: {have} steps, but horizon/history "
                                     f"{cfg.horizon}/{cfg.history} need {need} (re-extract with longer horizons)")
            check_finite_where_valid(path)
            self.index.extend((e, int(i)) for i in np.flatnonzero(keep))
        self._open: dict[int, layout.TraceEpisode] = {}
        self.scale = np.asarray(stats.scale, np.float32)
        self.history_unit = stats.history_unit()

    def __len__(self) -> int:
        return len(self.index)

    def _episode(self, e: int) -> layout.TraceEpisode:
        if e not in self._open:  # opened in the worker that first needs it (memory maps do not pickle well)
            self._open[e] = layout.open_trace_episode(self.paths[e])
        return self._open[e]

    def _rng(self, idx: int, epoch: int | None) -> np.random.Generator:
        """Evaluation draws depend on the index only; training draws on (index, epoch) when the sampler
        says which epoch it is (exactly resumable), and are fresh otherwise."""
        if not self.train:
            return np.random.default_rng((self.cfg.seed, idx))
        return np.random.default_rng((self.cfg.seed, epoch, idx)) if epoch is not None else np.random.default_rng()

    def _rows(self, ep: layout.TraceEpisode, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
        rows = np.arange(a, b)
        moving = np.asarray(ep.sample(layout.IS_MOVING)[a:b], bool)
        still = rows[~moving] if not self.moving_only else rows[:0]
        order = np.concatenate([rng.permutation(rows[moving]), rng.permutation(still)])
        return np.sort(order[: self.cfg.num_points])

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        """`key` is an index, or (index, epoch) from a sampler that makes training draws reproducible."""
        idx, epoch = (key, None) if isinstance(key, (int, np.integer)) else key
        e, i = self.index[idx]
        ep, cfg, rng = self._episode(e), self.cfg, self._rng(idx, epoch)
        a, b = int(ep.sample(layout.OFFSETS)[i]), int(ep.sample(layout.OFFSETS)[i + 1])
        t = int(ep.sample(layout.FRAME_INDICES)[i])
        rows = self._rows(ep, a, b, rng)
        n = len(rows)
        fut, fut_ok = unit_deltas(ep.sample(layout.TRAJ)[rows], ep.sample(layout.VALID_STEPS)[rows], ep.hw,
                                  cfg.horizon)
        hist, hist_ok = unit_deltas(ep.sample(layout.TRAJ_HISTORY)[rows], ep.sample(layout.VALID_STEPS_HISTORY)[rows],
                                    ep.hw, cfg.history)
        image = np.array(ep.images[t])
        keypoints = np.asarray(ep.sample(layout.KEYPOINTS)[rows], np.float32)
        dx, dy = 0, 0
        if self.train:
            hist_ok &= rng.random() >= cfg.history_drop_all
            hist_ok &= (rng.random(n) >= cfg.history_drop_point)[:, None]
            image = color_jitter(image, cfg.color_jitter, rng)
            dx, dy = draw_shift(cfg.random_shift_px, rng)
            image, keypoints = shift_image(image, dx, dy), keypoints + np.float32([dx, dy])
        item = {
            IMAGE: torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1),
            POINTS_UV: _pad(to_unit_uv(keypoints, ep.hw), cfg.num_points),
            POINTS_Z: _pad(np.nan_to_num(np.asarray(ep.sample(layout.TRAJ)[rows, 0, 2], np.float32), neginf=0.0),
                             cfg.num_points),
            POINT_MASK: _pad(np.ones(n, bool), cfg.num_points),
            FUTURE: _pad(np.nan_to_num(fut / self.scale, nan=0.0, posinf=0.0, neginf=0.0), cfg.num_points),
            FUTURE_VALID: _pad(fut_ok, cfg.num_points),
            TRAINABLE: _pad(fut_ok.sum(-1) >= cfg.min_valid_steps, cfg.num_points),
            HISTORY: _pad(np.nan_to_num(hist / self.history_unit, nan=0.0, posinf=0.0, neginf=0.0), cfg.num_points),
            HISTORY_VALID: _pad(hist_ok, cfg.num_points),
            IS_MOVING: _pad(np.asarray(ep.sample(layout.IS_MOVING)[rows], bool), cfg.num_points),
            CLUSTER_IDS: _pad(np.asarray(ep.sample(layout.CLUSTER_IDS)[rows], np.int64), cfg.num_points),
            Z_VALID: torch.tensor(ep.z_valid),
            INSTRUCTION: pick_instruction(ep.captions, t, ep.instructions, rng),
            FRAME: torch.tensor(t),
            EPISODE: torch.tensor(e),
            INTRINSICS: torch.from_numpy(shift_intrinsics(_intrinsics(ep, t), dx, dy)),
        }
        if self.with_depth:  # a 2D-only episode's depth is all NaN, so a batch can mix both kinds
            depth = np.full(ep.hw, np.nan, np.float32) if ep.depth is None else np.asarray(ep.depth[t], np.float32)
            item[DEPTH] = torch.from_numpy(np.ascontiguousarray(shift_image(depth, dx, dy)))[None]
        return item


def _intrinsics(ep: layout.TraceEpisode, t: int) -> np.ndarray:
    if ep.intrinsics is None:
        return np.full((3, 3), np.nan, np.float32)
    return np.array(ep.intrinsics[min(t, len(ep.intrinsics) - 1)])


def _pad(x: np.ndarray, n: int) -> torch.Tensor:
    out = np.zeros((n, *x.shape[1:]), x.dtype)
    out[: len(x)] = x
    return torch.from_numpy(out)
