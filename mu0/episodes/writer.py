"""Validate an episode in memory, write it to a staging folder, then publish it with one rename.

A crash at any point leaves either the previous version of the episode or nothing under the
output folder: half-written folders only ever exist in `<out>/../.staging/`, which
`recover_staging` cleans (restoring an old version whose replacement was interrupted).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Literal

import numpy as np

from mu0.episodes import schema
from mu0.episodes.atomic import OLD_SUFFIX, publish_dir
from mu0.episodes.hashing import content_hash

log = logging.getLogger(__name__)

WriteStatus = Literal["written", "replaced", "unchanged"]


@dataclasses.dataclass
class EpisodeData:
    """One episode in memory. `meta` holds the descriptive fields (episode_id, source, task, fps,
    instructions, embodiment, camera, ...); frame counts, sizes and the hash are filled in on write."""

    meta: dict
    images: np.ndarray  # (t,h,w,3) uint8
    intrinsics: np.ndarray  # (t,3,3) float32
    extrinsics: np.ndarray  # (t,4,4) float32, world-to-camera
    depth: np.ndarray | None = None  # (t,h,w) metres, stored float16
    robot: dict[str, np.ndarray] | None = None  # actions (t,a), proprio (t,p), success (t,) + extras
    gt: dict[str, np.ndarray | dict[str, np.ndarray]] | None = None  # file under gt/ -> array(s)

    @property
    def episode_id(self) -> str:
        return str(self.meta["episode_id"])


@dataclasses.dataclass(frozen=True)
class WriteResult:
    path: Path
    status: WriteStatus
    content_hash: str


def validate_episode(ep: EpisodeData, where: Path) -> None:
    """Every check of the layout, on the in-memory arrays, before anything touches the disk."""
    schema.check_episode_id(str(ep.meta.get("episode_id", "")), where / schema.META)
    schema.check_array(ep.images, where / schema.IMAGES, "images", np.uint8, (None, None, None, 3))
    t, h, w, _ = ep.images.shape
    if t == 0:
        raise schema.EpisodeFormatError(where / schema.IMAGES, "images", "episode has no frames")
    cams = where / schema.CAMERAS
    schema.check_array(ep.intrinsics, cams, "intrinsics", np.float32, (t, 3, 3))
    schema.check_array(ep.extrinsics, cams, "extrinsics", np.float32, (t, 4, 4))
    schema.check_intrinsics(ep.intrinsics, h, w, cams)
    schema.check_extrinsics(ep.extrinsics, cams)
    if ep.depth is not None:
        d_path = where / schema.DEPTH
        if ep.depth.shape != (t, h, w):
            raise schema.EpisodeFormatError(d_path, "depth", f"shape is {ep.depth.shape}, expected {(t, h, w)}")
        schema.check_depth_values(ep.depth, d_path)
        schema.check_depth_values(ep.depth.astype(np.float16), d_path)  # overflow in float16 → inf
    if ep.robot is not None:
        r_path = where / schema.ROBOT
        for key in ("actions", "proprio", "success"):
            if key not in ep.robot:
                raise schema.EpisodeFormatError(r_path, key, "missing")
            if len(ep.robot[key]) != t:
                raise schema.EpisodeFormatError(r_path, key, f"has {len(ep.robot[key])} rows for {t} frames")
        for key in ("actions", "proprio"):
            if not np.all(np.isfinite(ep.robot[key])):
                raise schema.EpisodeFormatError(r_path, key, "contains NaN/inf")


def _save_arrays(ep: EpisodeData, folder: Path) -> None:
    np.save(folder / schema.IMAGES, np.ascontiguousarray(ep.images))
    np.savez(
        folder / schema.CAMERAS,
        intrinsics=ep.intrinsics.astype(np.float32),
        extrinsics=ep.extrinsics.astype(np.float32),
        height=np.int32(ep.images.shape[1]),
        width=np.int32(ep.images.shape[2]),
    )
    if ep.depth is not None:
        np.save(folder / schema.DEPTH, ep.depth.astype(np.float16))
    if ep.robot is not None:
        np.savez(folder / schema.ROBOT, **ep.robot)
    for rel, value in (ep.gt or {}).items():
        target = folder / schema.GT_DIR / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, dict):
            np.savez(target, **value)
        else:
            np.save(target, value)


def _full_meta(ep: EpisodeData, digest: str) -> dict:
    t, h, w, _ = ep.images.shape
    meta = dict(ep.meta)
    meta.update(
        num_frames=int(t),
        height=int(h),
        width=int(w),
        has_depth=ep.depth is not None,
        has_robot=ep.robot is not None,
        has_gt=bool(ep.gt),
        content_hash=digest,
    )
    return meta


def _existing_hash(target: Path) -> str | None:
    try:
        return json.loads((target / schema.META).read_text())["content_hash"]
    except (OSError, ValueError, KeyError):
        return None


def staging_dir_for(out_dir: Path) -> Path:
    """Staging lives beside the output folder (same filesystem, so rename is atomic) and outside it
    (so DVC never tracks a half-written episode)."""
    return out_dir.parent / ".staging"


def write_episode(ep: EpisodeData, out_dir: Path) -> WriteResult:
    """Write `ep` to `out_dir/<episode_id>` atomically; identical content is left untouched."""
    target = out_dir / ep.episode_id
    validate_episode(ep, target)
    staging = staging_dir_for(out_dir)
    staging.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{ep.episode_id}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        _save_arrays(ep, tmp)
        digest = content_hash(tmp)
        if target.exists() and _existing_hash(target) == digest:
            shutil.rmtree(tmp)
            return WriteResult(target, "unchanged", digest)
        (tmp / schema.META).write_text(json.dumps(_full_meta(ep, digest), indent=2, sort_keys=True) + "\n")
        return WriteResult(target, publish_dir(tmp, target, staging), digest)  # type: ignore[arg-type]
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def recover_staging(out_dir: Path) -> list[str]:
    """Clean up after crashed writers: drop partial new versions, put back an old version whose
    replacement was interrupted between its two renames. Returns what it did, for the log.
    Call it before starting writers, never while they run."""
    staging = staging_dir_for(out_dir)
    actions: list[str] = []
    if not staging.is_dir():
        return actions
    for leftover in sorted(staging.iterdir()):
        episode_id = leftover.name.split(".")[0]
        target = out_dir / episode_id
        if leftover.name.endswith(OLD_SUFFIX) and not target.exists():
            os.replace(leftover, target)
            actions.append(f"restored {target} from an interrupted replacement")
        else:
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink()
            actions.append(f"removed partial write {leftover.name}")
    for action in actions:
        log.warning("staging recovery: %s", action)
    return actions
