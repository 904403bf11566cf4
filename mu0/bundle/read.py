"""Reading a model folder's JSON files without loading its weights (registry tags, lineage, splits)."""

from __future__ import annotations

import json
from pathlib import Path

from mu0.bundle.files import CONFIG_FILE, TRAIN_CONFIG_FILE, WEIGHTS_FILE


def read_config(folder: Path) -> dict:
    """The model's config.json as a dict ("kind" included)."""
    return json.loads((Path(folder) / CONFIG_FILE).read_text())


def read_record(folder: Path) -> dict:
    """How the model was trained: its train_config.json ({} for a folder without one)."""
    path = Path(folder) / TRAIN_CONFIG_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def find_model_folders(root: Path) -> list[Path]:
    """Every folder under `root` that holds a model (its config and its weights)."""
    return [p.parent for p in Path(root).rglob(CONFIG_FILE) if (p.parent / WEIGHTS_FILE).exists()]
