"""The trace episode layout (DESIGN.md §4): what TraceExtract adds to a raw episode, and the one reader of it.

A trace episode is a raw episode's files plus `samples/` (one .npy per array; the rows of query frame i are
offsets[i]:offsets[i+1]), the hierarchical captions and the extractor's per-frame tracks, with the
extractor's record (config, stats) under meta.json's "extract". The official TraceExtract output has the
same `samples/` but may lack meta.json, cluster_ids and our captions' file name; the reader covers both.
"""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from mu0.episodes.schema import CAMERAS, DEPTH, IMAGES, META

SAMPLES_DIR = "samples"
CAPTIONS_FILE = "captions.json"
CAPTION_FILES = (CAPTIONS_FILE, "curated_training_texts.json")  # ours, then the official tool's name
TRACKS_FILE = "tracks.npz"  # the extractor's per-frame tracks of its own keypoints (extract-eval reads them)

# samples/ arrays: (F,) query frames, (F+1,) row offsets, then one row per keypoint of a query frame
FRAME_INDICES, OFFSETS = "frame_indices", "offsets"
KEYPOINTS, TRACK_IDS, CLUSTER_IDS = "keypoints", "track_ids", "cluster_ids"  # (N,2) px; (N,) the track; its entity
IS_MOVING, VISIBS = "is_moving", "visibs"  # (N,) bool; (N,Tf) seen at each frame-aligned future step
TRAJ, VALID_STEPS = "traj", "valid_steps"  # (N,Tf,3) arc-length retargeted future, from the query frame on
TRAJ_HISTORY, VALID_STEPS_HISTORY = "traj_history", "valid_steps_history"  # (N,Th,3), the query frame first
RAW_PREFIX = "raw_"  # raw_traj, raw_valid_steps, ...: the frame-aligned twins

# tracks.npz: the extractor's M tracks over T frames, plus IS_MOVING (M,) and CLUSTER_IDS (M,) as in samples/
TRACK_UV_PX, TRACK_VISIBLE, TRACK_START = "uv_px", "visible", "start"  # (M,T,2) px; (M,T) bool; (M,) seed frame
TRACK_XYZ_WORLD, TRACK_HAS_DEPTH = "xyz_world", "has_depth"  # (M,T,3) world metres; (M,T) bool

STAT_Z_VALID = "z_valid"  # in meta.json's extract.stats: the third axis of the traces is metric depth


def is_trace_episode(path: Path) -> bool:
    return (Path(path) / SAMPLES_DIR).is_dir()


def sample_file(path: Path, name: str) -> Path:
    return Path(path) / SAMPLES_DIR / f"{name}.npy"


# np.load parses each .npy header with ast.literal_eval, which CPython 3.11 cannot run in two threads at once
# (a spurious "SystemError: AST constructor recursion depth mismatch", CPython gh-106905); validation reads
# episodes in threads. Opening a memory map is cheap, so opening them one at a time costs nothing.
_OPEN_LOCK = threading.Lock()


def _open_npy(path: Path) -> np.ndarray:
    with _OPEN_LOCK:
        return np.load(path, mmap_mode="r", allow_pickle=False)


def load_sample(path: Path, name: str) -> np.ndarray:
    """One `samples/` array, memory-mapped (never unpickled)."""
    return _open_npy(sample_file(path, name))


def read_samples(path: Path) -> dict[str, np.ndarray]:
    """Every array of `samples/` (memory-mapped), ours or the official tool's."""
    return {p.stem: _open_npy(p) for p in sorted((Path(path) / SAMPLES_DIR).glob("*.npy"))}


def read_trace_meta(path: Path) -> dict:
    """A trace episode's meta.json ({} when it has none, as in the official tool's output)."""
    meta = Path(path) / META
    return json.loads(meta.read_text()) if meta.exists() else {}


def extract_record(meta: dict) -> dict:
    """What the extractor recorded in meta.json: {"config": ..., "stats": ...} ({} when unknown)."""
    return meta.get("extract") or {}


def retargeting(meta: dict) -> tuple[float | None, float | None]:
    """(retarget interval, robust-length top fraction) the traces were cut with; (None, None) when unknown."""
    config = extract_record(meta).get("config", {})
    return config.get("retarget_interval"), config.get("retarget_top_fraction")


def z_valid(meta: dict, path: Path) -> bool:
    """Whether the traces' third axis is metric depth: as the extractor recorded, else as the episode says."""
    recorded = extract_record(meta).get("stats", {}).get(STAT_Z_VALID)
    if recorded is not None:
        return bool(recorded)
    return bool(meta.get("has_depth", (Path(path) / DEPTH).exists()))


def read_captions(path: Path) -> dict:
    """The hierarchical captions (chunk_texts / merged_texts), from whichever caption file the episode has."""
    for name in CAPTION_FILES:
        if (Path(path) / name).exists():
            return json.loads((Path(path) / name).read_text())
    return {}


class TraceEpisode:
    """A trace episode opened lazily: arrays are memory-mapped on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._samples: dict[str, np.ndarray] = {}

    def sample(self, name: str) -> np.ndarray:
        if name not in self._samples:
            if name == CLUSTER_IDS and not sample_file(self.path, name).exists():
                # absent in some official datasets: the moving points are one entity
                self._samples[name] = np.asarray(self.sample(IS_MOVING), np.int64)
            else:
                self._samples[name] = load_sample(self.path, name)
        return self._samples[name]

    @cached_property
    def meta(self) -> dict:
        return read_trace_meta(self.path)

    @cached_property
    def images(self) -> np.ndarray:
        return np.load(self.path / IMAGES, mmap_mode="r")

    @cached_property
    def depth(self) -> np.ndarray | None:
        return np.load(self.path / DEPTH, mmap_mode="r") if (self.path / DEPTH).exists() else None

    @cached_property
    def intrinsics(self) -> np.ndarray | None:
        """(T,3,3) per-frame pinhole intrinsics (None without cameras.npz)."""
        cameras = self.path / CAMERAS
        return np.load(cameras)["intrinsics"].astype(np.float32) if cameras.exists() else None

    @property
    def hw(self) -> tuple[int, int]:
        return tuple(self.images.shape[1:3])  # type: ignore[return-value]

    @cached_property
    def captions(self) -> dict:
        return read_captions(self.path)

    @property
    def instructions(self) -> list[str]:
        return list(self.meta.get("instructions", []))

    @property
    def z_valid(self) -> bool:
        return z_valid(self.meta, self.path)


def open_trace_episode(path: Path) -> TraceEpisode:
    if not is_trace_episode(path):
        raise FileNotFoundError(f"{Path(path) / SAMPLES_DIR}: missing (not a trace episode)")
    return TraceEpisode(path)
