"""Open an episode folder: memory-map the big arrays, load the small ones, check the layout.

Opening is cheap (frames stay on disk until indexed) but strict: shapes, dtypes, camera matrices
and the depth unit are checked up front, so a bad file fails here with its name, not deep inside
training. `verify_hash=True` also re-hashes the content against meta.json.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from mu0.episodes import schema
from mu0.episodes.hashing import content_hash


def _load_npy(path: Path, field: str) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise schema.EpisodeFormatError(path, field, "file is missing") from None
    except (ValueError, OSError) as exc:
        raise schema.EpisodeFormatError(path, field, f"not a readable .npy file ({exc})") from None


def _load_npz(path: Path, field: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise schema.EpisodeFormatError(path, field, "file is missing") from None
    except (ValueError, OSError) as exc:
        raise schema.EpisodeFormatError(path, field, f"not a readable .npz file ({exc})") from None


class Episode:
    """A validated, memory-mapped episode. Index `images[t]` / `depth[t]` to read one frame."""

    def __init__(self, path: Path, meta: dict, images: np.ndarray, cameras: dict[str, np.ndarray],
                 depth: np.ndarray | None) -> None:
        self.path = path
        self.meta = meta
        self.images = images  # (t,h,w,3) uint8, memory-mapped
        self.depth = depth  # (t,h,w) float16 metres, memory-mapped, or None for 2D-only episodes
        self.intrinsics = cameras["intrinsics"]  # (t,3,3) float32
        self.extrinsics = cameras["extrinsics"]  # (t,4,4) float32 world-to-camera

    @property
    def episode_id(self) -> str:
        return str(self.meta["episode_id"])

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[0])

    def frame(self, t: int) -> np.ndarray:
        """RGB frame t as an in-memory (h,w,3) uint8 array."""
        return np.array(self.images[t])

    @functools.cached_property
    def robot(self) -> dict[str, np.ndarray] | None:
        """actions (t,a), proprio (t,p), success (t,) and extras; None if the episode has no labels."""
        path = self.path / schema.ROBOT
        if not path.exists():
            return None
        robot = _load_npz(path, "robot")
        for key in ("actions", "proprio", "success"):
            if key not in robot:
                raise schema.EpisodeFormatError(path, key, "missing")
            if len(robot[key]) != self.num_frames:
                raise schema.EpisodeFormatError(path, key, f"{len(robot[key])} rows for {self.num_frames} frames")
        return robot

    @property
    def gt_dir(self) -> Path | None:
        path = self.path / schema.GT_DIR
        return path if path.is_dir() else None

    @functools.cached_property
    def body_ids(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Simulator ground truth: the frames (q,) with per-pixel body ids, and the ids (q,h,w) int32
        (-1 = no body); None without gt/. An older episode's single (h,w) map is frame 0's."""
        if self.gt_dir is None:
            return None
        ids_path, frames_path = self.path / schema.GT_BODY_IDS, self.path / schema.GT_BODY_ID_FRAMES
        ids = _load_npy(ids_path, "body_ids")
        t, h, w = self.images.shape[:3]
        if ids.ndim == 2:
            ids = ids[None]
            frames = np.zeros(1, np.int64)
        else:
            frames = np.asarray(_load_npy(frames_path, "body_id_frames"), np.int64)
        if ids.ndim != 3 or ids.shape[1:] != (h, w) or not len(ids):
            raise schema.EpisodeFormatError(ids_path, "body_ids", f"shape {ids.shape}: need (maps, {h}, {w})")
        if frames.shape != (len(ids),) or frames[0] != 0 or np.any(np.diff(frames) <= 0) or frames[-1] >= t:
            raise schema.EpisodeFormatError(frames_path, "body_id_frames",
                                            f"{len(frames)} frames {frames.tolist()[:8]} for {len(ids)} body-id "
                                            f"maps: need one per map, ascending from 0, below {t}")
        return frames, np.asarray(ids)

    def __repr__(self) -> str:
        t, h, w, _ = self.images.shape
        return f"Episode({self.episode_id!r}, t={t}, {w}x{h}, depth={self.depth is not None})"


def read_meta(path: Path) -> dict:
    meta_path = path / schema.META
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise schema.EpisodeFormatError(meta_path, "meta", "file is missing") from None
    except ValueError as exc:
        raise schema.EpisodeFormatError(meta_path, "meta", f"not valid JSON ({exc})") from None
    schema.check_meta(meta, meta_path)
    return meta


def open_episode(path: Path | str, verify_hash: bool = False) -> Episode:
    path = Path(path)
    meta = read_meta(path)
    images = _load_npy(path / schema.IMAGES, "images")
    schema.check_array(images, path / schema.IMAGES, "images", np.uint8, (meta["num_frames"], meta["height"],
                                                                          meta["width"], 3))
    t, h, w = images.shape[:3]
    cams_path = path / schema.CAMERAS
    cameras = _load_npz(cams_path, "cameras")
    for key in ("intrinsics", "extrinsics", "height", "width"):
        if key not in cameras:
            raise schema.EpisodeFormatError(cams_path, key, "missing")
    if (int(cameras["height"]), int(cameras["width"])) != (h, w):
        raise schema.EpisodeFormatError(
            cams_path, "height/width", f"{int(cameras['width'])}x{int(cameras['height'])} != images {w}x{h}")
    schema.check_array(cameras["intrinsics"], cams_path, "intrinsics", np.float32, (t, 3, 3))
    schema.check_array(cameras["extrinsics"], cams_path, "extrinsics", np.float32, (t, 4, 4))
    schema.check_intrinsics(cameras["intrinsics"], h, w, cams_path)
    schema.check_extrinsics(cameras["extrinsics"], cams_path)
    depth = None
    if meta["has_depth"]:
        depth = _load_npy(path / schema.DEPTH, "depth")
        schema.check_array(depth, path / schema.DEPTH, "depth", np.float16, (t, h, w))
        schema.check_depth_values(np.asarray(depth[0]), path / schema.DEPTH)  # unit check, one frame
    if verify_hash:
        actual = content_hash(path)
        if actual != meta["content_hash"]:
            raise schema.EpisodeFormatError(
                path / schema.META, "content_hash", f"files hash to {actual}, meta.json says {meta['content_hash']}")
    return Episode(path, meta, images, cameras, depth)


def list_episodes(root: Path | str) -> list[Path]:
    """Episode folders under `root` (those with a meta.json), sorted; hidden folders are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
                  and (p / schema.META).exists())
