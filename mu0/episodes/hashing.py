"""Content hash of an episode folder: what the arrays hold, not how the files happen to be packed.

`.npz` archives carry zip timestamps, so hashing their bytes would change on every rewrite of
identical data. The hash covers, per file in sorted order: its relative path, and for arrays their
dtype, shape and raw bytes; other files (JSON sidecars) by bytes. meta.json is excluded because it
stores the hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from mu0.episodes.schema import META

_CHUNK_BYTES = 1 << 24


def _update_array(h: hashlib._Hash, name: str, arr: np.ndarray) -> None:
    h.update(f"{name}|{arr.dtype.str}|{arr.shape}\n".encode())
    flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    for start in range(0, flat.size, _CHUNK_BYTES):
        h.update(flat[start : start + _CHUNK_BYTES])


def content_hash(folder: Path) -> str:
    """`sha256:<hex>` over every file of the episode folder except meta.json."""
    h = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != META)
    for path in files:
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".npy":
            _update_array(h, rel, np.load(path, mmap_mode="r", allow_pickle=False))
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                for key in sorted(archive.files):
                    _update_array(h, f"{rel}:{key}", archive[key])
        else:
            h.update(f"{rel}\n".encode())
            h.update(path.read_bytes())
    return "sha256:" + h.hexdigest()


def episode_seed(episode_id: str) -> int:
    """A random seed fixed by the episode's id: the same keypoints on every run and machine."""
    return int(hashlib.sha256(episode_id.encode()).hexdigest()[:8], 16)
