"""Write a trace episode: the raw episode's files, samples/, captions.json, tracks.npz and meta.json,
staged and published with renames (a crash leaves the old version or nothing).

Raw arrays are hard-linked when the filesystem allows (they are never modified in place: every
write replaces whole files), so a trace dataset costs little more than its samples. When camera
poses were estimated, cameras.npz holds the estimated extrinsics and meta.json says so.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from mu0.episodes import Episode
from mu0.episodes.atomic import publish_dir
from mu0.episodes.hashing import content_hash
from mu0.episodes.schema import CAMERAS, DEPTH, IMAGES, META, ROBOT
from mu0.episodes.trace_layout import CAPTIONS_FILE, SAMPLES_DIR, TRACKS_FILE, sample_file
from mu0.episodes.writer import staging_dir_for


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_trace_episode(ep: Episode, out_dir: Path, samples: dict[str, np.ndarray], captions: dict,
                        tracks: dict[str, np.ndarray], extrinsics: np.ndarray | None, extract_meta: dict) -> str:
    """Publish `out_dir/<episode_id>`; returns "written" or "replaced"."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = staging_dir_for(out_dir)
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{ep.episode_id}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name in (IMAGES, DEPTH, ROBOT):
            if (ep.path / name).exists():
                _link_or_copy(ep.path / name, tmp / name)
        if extrinsics is None:
            _link_or_copy(ep.path / CAMERAS, tmp / CAMERAS)
        else:
            np.savez(tmp / CAMERAS, intrinsics=ep.intrinsics, extrinsics=extrinsics.astype(np.float32),
                     height=np.int32(ep.images.shape[1]), width=np.int32(ep.images.shape[2]))
        (tmp / SAMPLES_DIR).mkdir()
        for key, arr in samples.items():
            np.save(sample_file(tmp, key), arr)
        (tmp / CAPTIONS_FILE).write_text(json.dumps(captions, indent=2) + "\n")
        np.savez(tmp / TRACKS_FILE, **tracks)
        source = extract_meta.get("stats", {}).get("trace_source", "lk")
        meta = {**ep.meta, "extract": extract_meta, "trace_source": source, "content_hash": content_hash(tmp),
                "has_gt": False}
        (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return publish_dir(tmp, out_dir / ep.episode_id, staging)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_extract_meta(target: Path) -> dict | None:
    try:
        return json.loads((target / META).read_text()).get("extract")
    except (OSError, ValueError):
        return None
