"""Writing a model folder atomically: everything goes into a hidden sibling, then one rename publishes it,
so a reader (or a crash) never sees a folder with weights but no statistics."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from mu0.bundle.files import TRAIN_CONFIG_FILE
from mu0.episodes.atomic import publish_dir, write_json_atomic


def save_folder(folder: Path, fill: Callable[[Path], None], record: dict) -> Path:
    """`fill(staging)` writes the model's files; `record` becomes its train_config.json. Replaces `folder`."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        staging.mkdir()
        fill(staging)
        write_json_atomic(staging / TRAIN_CONFIG_FILE, record)
        publish_dir(staging, folder, folder.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
