"""The split a model was trained on, so that evaluation scores it on episodes it never saw.

`mu0 pretrain` records its split in the model folder's `train_config.json` (the data config and the
episode names per split). Evaluation takes the held-out tasks from there when none are given (without
them the split is recomputed differently and the held-out task's episodes move into train/val), and the
training subset of a data-scaling point, and refuses to score an episode any model trained on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.bundle.files import TRAIN_CONFIG_FILE
from mu0.bundle.read import read_record
from mu0.config import TraceDataConfig


class TrainedOnTestError(ValueError):
    """An episode to be scored is in a model's training split."""


def _train_config(folder: Path) -> dict | None:
    return read_record(folder) or None


def with_trained_split(model_dirs: dict[str, Path], data_cfg: TraceDataConfig) -> tuple[TraceDataConfig, str]:
    """`data_cfg` with the first model's held-out tasks and training subset (`max_train_episodes`, so that the
    retrieval baseline's bank holds what the model trained on) where it sets none itself, and a line saying so."""
    trained = (_train_config(next(iter(model_dirs.values()))) or {}).get("data", {})
    taken = {}
    if not data_cfg.holdout_tasks and trained.get("holdout_tasks"):
        taken["holdout_tasks"] = tuple(trained["holdout_tasks"])
    if not data_cfg.max_train_episodes and trained.get("max_train_episodes"):
        taken["max_train_episodes"] = int(trained["max_train_episodes"])
    if not taken:
        return data_cfg, ""
    said = [f"held-out tasks {', '.join(taken['holdout_tasks'])}"] if "holdout_tasks" in taken else []
    said += [f"training subset of {taken['max_train_episodes']} episodes"] if "max_train_episodes" in taken else []
    return dataclasses.replace(data_cfg, **taken), f"{' and '.join(said)} taken from the model's {TRAIN_CONFIG_FILE}"


def refuse_trained_on(model_dirs: dict[str, Path], scored: list[str]) -> None:
    """Raise when any model's training split holds one of the `scored` episodes (models without a
    recorded split, such as a registry download, are not checked)."""
    scored_set = set(scored)
    for name, folder in model_dirs.items():
        trained = set(((_train_config(folder) or {}).get("splits") or {}).get("train", ()))
        leaked = sorted(scored_set & trained)
        if leaked:
            shown = ", ".join(leaked[:5]) + (f" and {len(leaked) - 5} more" if len(leaked) > 5 else "")
            raise TrainedOnTestError(
                f"{Path(folder) / TRAIN_CONFIG_FILE}: {name} was trained on {len(leaked)} of the {len(scored_set)} "
                f"episodes to be scored ({shown}); evaluate on the split it was trained with (the same held-out "
                "tasks, split seed and split fractions)")
