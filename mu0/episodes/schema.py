"""The on-disk episode layout (DESIGN.md §4): file names, required fields and their checks.

Shape letters: t = frame, h/w = image rows/columns, a = action dim, p = proprio dim.
Every check raises `EpisodeFormatError`, whose message names the file, the field and the problem.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

IMAGES = "images.npy"  # (t,h,w,3) uint8 RGB
DEPTH = "depth.npy"  # (t,h,w) float16 metric depth in metres; 0 = no measurement
CAMERAS = "cameras.npz"  # intrinsics (t,3,3) f32, extrinsics (t,4,4) f32 world-to-camera, height, width
META = "meta.json"
ROBOT = "robot.npz"  # actions (t,a), proprio (t,p), success (t,) — action-labelled episodes only
GT_DIR = "gt"  # simulator ground truth; never read by TraceExtract
GT_BODIES = "gt/bodies.npz"  # names (b,), xpos (t,b,3) f64, xquat (t,b,4) f64 (w,x,y,z), world frame
GT_BODY_IDS = "gt/body_ids.npy"  # (q,h,w) int32 body id per pixel at q frames, -1 = nothing; (h,w): frame 0 only
GT_BODY_ID_FRAMES = "gt/body_id_frames.npy"  # (q,) int32 the frames of GT_BODY_IDS, ascending, from 0

META_REQUIRED = (
    "episode_id",
    "source",
    "task",
    "fps",
    "instructions",
    "embodiment",
    "num_frames",
    "height",
    "width",
    "camera",
    "has_depth",
    "content_hash",
)
# Depth beyond this many metres is taken as a unit error (millimetres stored as metres).
MAX_PLAUSIBLE_DEPTH_M = 1000.0
_RIGID_TOL = 1e-3
# Episode ids are folder names: no dots (staging uses them as separators), no slashes.
EPISODE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class EpisodeFormatError(ValueError):
    """An episode file does not follow the layout. `path` and `field` say exactly where."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path = Path(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: field '{field}': {problem}")


def check_array(
    arr: np.ndarray, path: Path, field: str, dtype: np.dtype | type, shape: tuple[int | None, ...]
) -> None:
    """dtype and shape of `arr` match; None in `shape` accepts any size on that axis."""
    if arr.dtype != np.dtype(dtype):
        raise EpisodeFormatError(path, field, f"dtype is {arr.dtype}, expected {np.dtype(dtype)}")
    want = tuple("*" if s is None else s for s in shape)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
        raise EpisodeFormatError(path, field, f"shape is {arr.shape}, expected {want}")


def check_intrinsics(K: np.ndarray, height: int, width: int, path: Path) -> None:
    """Each K is a pinhole matrix [[fx,0,cx],[0,fy,cy],[0,0,1]] with its principal point in the image."""
    if not np.all(np.isfinite(K)):
        bad = int(np.argwhere(~np.isfinite(K))[0][0])
        raise EpisodeFormatError(path, "intrinsics", f"frame {bad}: K has non-finite entries")
    fx, fy, cx, cy = K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]
    problems = {
        "focal lengths fx, fy must be > 0": (fx <= 0) | (fy <= 0),
        "skew K[0,1] and K[1,0] must be 0": (np.abs(K[:, 0, 1]) > 1e-6) | (np.abs(K[:, 1, 0]) > 1e-6),
        "last row must be [0, 0, 1]": np.any(np.abs(K[:, 2, :] - [0.0, 0.0, 1.0]) > 1e-6, axis=1),
        f"principal point must lie inside the {width}x{height} image": (cx < 0)
        | (cx > width)
        | (cy < 0)
        | (cy > height),
    }
    for problem, mask in problems.items():
        if np.any(mask):
            frame = int(np.argmax(mask))
            raise EpisodeFormatError(path, "intrinsics", f"frame {frame}: {problem}; K = {K[frame].tolist()}")


def check_extrinsics(T: np.ndarray, path: Path) -> None:
    """Each world-to-camera matrix is rigid: rotation block orthonormal with det +1, last row [0,0,0,1]."""
    if not np.all(np.isfinite(T)):
        bad = int(np.argwhere(~np.isfinite(T))[0][0])
        raise EpisodeFormatError(path, "extrinsics", f"frame {bad}: non-finite entries")
    R = T[:, :3, :3].astype(np.float64)
    ortho_err = np.abs(R @ np.swapaxes(R, 1, 2) - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(R)
    last_row_err = np.abs(T[:, 3, :] - [0.0, 0.0, 0.0, 1.0]).max(axis=1)
    bad = (ortho_err > _RIGID_TOL) | (np.abs(det - 1) > _RIGID_TOL) | (last_row_err > 1e-6)
    if np.any(bad):
        frame = int(np.argmax(bad))
        raise EpisodeFormatError(
            path, "extrinsics", f"frame {frame}: not a rigid transform (|RRᵀ−I|={ortho_err[frame]:.2e}, "
            f"det={det[frame]:.4f}, last row {T[frame, 3].tolist()})"
        )


def check_depth_values(depth: np.ndarray, path: Path) -> None:
    """Depth is finite, non-negative and in metres (0 marks a missing measurement)."""
    finite = np.isfinite(depth)
    if not np.all(finite):
        frame = int(np.argwhere(~finite)[0][0])
        count = int((~finite).sum())
        raise EpisodeFormatError(path, "depth", f"{count} NaN/inf values (first in frame {frame})")
    if np.any(depth < 0):
        frame = int(np.argwhere(depth < 0)[0][0])
        raise EpisodeFormatError(path, "depth", f"negative depth (first in frame {frame})")
    top = float(depth.max()) if depth.size else 0.0
    if top > MAX_PLAUSIBLE_DEPTH_M:
        raise EpisodeFormatError(
            path, "depth", f"max depth {top:.0f} > {MAX_PLAUSIBLE_DEPTH_M:.0f} m: depth must be in metres"
        )


def check_episode_id(episode_id: str, path: Path) -> None:
    if not EPISODE_ID_PATTERN.match(episode_id):
        raise EpisodeFormatError(
            path, "episode_id", f"{episode_id!r} must be 1-128 characters of letters, digits, '-' or '_'"
        )


def check_meta(meta: dict, path: Path) -> None:
    missing = [k for k in META_REQUIRED if k not in meta]
    if missing:
        raise EpisodeFormatError(path, missing[0], f"missing from meta.json (all missing: {missing})")
    if not isinstance(meta["instructions"], list) or not all(isinstance(s, str) for s in meta["instructions"]):
        raise EpisodeFormatError(path, "instructions", "must be a list of strings")
    if not (isinstance(meta["fps"], (int, float)) and meta["fps"] > 0):
        raise EpisodeFormatError(path, "fps", f"must be a positive number, got {meta['fps']!r}")
