"""Atomic file and folder writes: write beside the target, fsync, then rename over it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

OLD_SUFFIX = ".old"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` to disk, so a rename after it publishes complete data."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(Path(dirpath) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`; readers see the old file or the new one, never a partial one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: object) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def publish_dir(tmp: Path, target: Path, staging: Path) -> str:
    """Move the complete folder `tmp` (in `staging`, same filesystem) to `target` with renames only.
    An existing target is first renamed into staging as `<name>.<hex>.old`, so a crash between the
    two renames leaves a recoverable old version (see writer.recover_staging). Returns "written" or
    "replaced"."""
    fsync_tree(tmp)
    status = "written"
    if target.exists():
        old = staging / f"{target.name}.{uuid.uuid4().hex[:8]}{OLD_SUFFIX}"
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old)
        status = "replaced"
    else:
        os.replace(tmp, target)
    fsync_dir(target.parent)
    return status
