"""Deterministic train/val/test split by episode.

Each group of episodes (a rollout's cameras share one group, so no rollout leaks across splits) lands
in a split by a hash of its id and the seed: adding episodes never moves existing ones, which keeps
a nightly-growing dataset's test set stable. Held-out tasks go to test whole.
"""

from __future__ import annotations

import difflib
import hashlib


class UnknownHoldoutTaskError(ValueError):
    """A held-out task names no episode: nothing would be held out, silently."""


def _unit(key: str, seed: int) -> float:
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:12], 16) / float(16 ** 12)


def split_episodes(episodes: dict[str, dict], train: float, val: float, seed: int = 0,
                   holdout_tasks: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """`episodes` maps id → meta (uses "rollout_id" and "task" when present). Every held-out task must name
    the task of at least one episode (UnknownHoldoutTaskError otherwise, with the closest names)."""
    present = {str(meta.get("task")) for meta in episodes.values() if meta.get("task")}
    unknown = [t for t in holdout_tasks if t not in present]
    if unknown and episodes:
        hints = {t: difflib.get_close_matches(t, present, n=1, cutoff=0.5) for t in unknown}
        raise UnknownHoldoutTaskError(
            "held-out task(s) with no episode, so nothing would be held out: " + ", ".join(
                f"'{t}'" + (f" (did you mean '{hints[t][0]}'?)" if hints[t] else "") for t in unknown)
            + f"; tasks present: {', '.join(sorted(present)) or 'none'}")
    out: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for eid, meta in sorted(episodes.items()):
        if meta.get("task") in holdout_tasks:
            out["test"].append(eid)
            continue
        u = _unit(str(meta.get("rollout_id", eid)), seed)
        out["train" if u < train else "val" if u < train + val else "test"].append(eid)
    return out


def limit_train(train: list[str], episodes: dict[str, dict], count: int, seed: int = 0) -> list[str]:
    """The first `count` training episodes in a fixed order (whole rollouts, by the hash of their id), so a
    larger limit always adds to a smaller one's episodes: the points of a data-scaling curve are nested."""
    if count <= 0 or count >= len(train):
        return train
    order = sorted(train, key=lambda e: (_unit("limit:" + str(episodes[e].get("rollout_id", e)), seed), e))
    return sorted(order[:count])
