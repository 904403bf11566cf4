"""Motion segmentation: split an episode into chunks where the set of moving entities is constant.

Per frame each entity (a group of tracks, see motion.group_entities) is active when its median speed
exceeds `speed_threshold`. A change in the active set (the arm starts pushing an object, lets go,
stops) starts a new chunk; pauses are chunks with nothing active. Chunks shorter than the minimum are
merged into their neighbour, longer ones split, and the shortest neighbours merged until at most
`max_chunks` remain. Shapes: k tracks, t frames, e entities.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mu0.trace_extract.tracks import Tracks3D


@dataclasses.dataclass
class Chunk:
    start: int  # first frame
    end: int  # last frame (inclusive)
    active: frozenset[int]  # entity ids moving in most of the chunk


def entity_speeds(t3: Tracks3D, cluster_ids: np.ndarray, fps: float, use_depth: bool) -> dict[int, np.ndarray]:
    """Per moving entity, its (t,) median speed (m/s, or px/s for 2D-only); NaN where unseen."""
    if use_depth:
        pos, ok = t3.xyz_world, t3.has_depth
    else:
        pos, ok = t3.tracks.uv_px.astype(np.float64), t3.tracks.visible
    step = np.linalg.norm(np.diff(pos, axis=1), axis=2) * fps  # (k,t-1)
    step = np.where(ok[:, 1:] & ok[:, :-1], step, np.nan)
    speeds = {}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for e in np.unique(cluster_ids[cluster_ids > 0]):
            s = np.nanmedian(step[cluster_ids == e], axis=0)
            speeds[int(e)] = np.concatenate([s, s[-1:]])
    return speeds


def agent_entities(speeds: dict[int, np.ndarray], threshold: float, lead_frames: int = 5) -> list[int]:
    """The agent (the entity active in most frames: the arm or hand) and the entities that start moving
    with it (its other links). Objects start later, when the agent reaches them. Agent first."""
    first = {e: int(np.argmax(np.nan_to_num(s) > threshold)) for e, s in speeds.items()
             if np.any(np.nan_to_num(s) > threshold)}
    if not first:
        return []
    agent = max(first, key=lambda e: int((np.nan_to_num(speeds[e]) > threshold).sum()))
    return [agent] + [e for e, f in first.items() if e != agent and f <= first[agent] + lead_frames]


def _smooth(active: np.ndarray, width: int) -> np.ndarray:
    """Majority vote over a sliding window: one-frame flickers do not start chunks."""
    if width <= 1 or len(active) < width:
        return active
    kernel = np.ones(width) / width
    return np.convolve(active.astype(float), kernel, mode="same") > 0.5


def _raw_chunks(active_sets: list[frozenset[int]]) -> list[Chunk]:
    chunks = [Chunk(0, 0, active_sets[0])]
    for f, act in enumerate(active_sets[1:], start=1):
        if act == chunks[-1].active:
            chunks[-1].end = f
        else:
            chunks.append(Chunk(f, f, act))
    return chunks


def _merge(a: Chunk, b: Chunk) -> Chunk:
    longer = a if a.end - a.start >= b.end - b.start else b
    return Chunk(a.start, b.end, longer.active)


def segment(speeds: dict[int, np.ndarray], num_frames: int, speed_threshold: float, min_len: int, max_len: int,
            max_chunks: int) -> list[Chunk]:
    smooth = {e: _smooth(np.nan_to_num(s, nan=0.0) > speed_threshold, 5) for e, s in speeds.items()}
    sets = [frozenset(e for e, act in smooth.items() if act[f]) for f in range(num_frames)]
    chunks = _raw_chunks(sets) if num_frames else []
    while len(chunks) > 1 and min(c.end - c.start + 1 for c in chunks) < min_len:
        i = min(range(len(chunks)), key=lambda j: chunks[j].end - chunks[j].start)
        j = i - 1 if i == len(chunks) - 1 or (i > 0 and _len(chunks[i - 1]) <= _len(chunks[i + 1])) else i + 1
        lo, hi = min(i, j), max(i, j)
        chunks[lo:hi + 1] = [_merge(chunks[lo], chunks[hi])]
    split: list[Chunk] = []
    for c in chunks:
        pieces = -(-_len(c) // max_len)
        bounds = np.linspace(c.start, c.end + 1, pieces + 1).round().astype(int)
        split.extend(Chunk(int(a), int(b) - 1, c.active) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    while len(split) > max_chunks:
        i = min(range(len(split) - 1), key=lambda j: _len(split[j]) + _len(split[j + 1]))
        split[i:i + 2] = [_merge(split[i], split[i + 1])]
    return split


def _len(c: Chunk) -> int:
    return c.end - c.start + 1
