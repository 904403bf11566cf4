"""Where a stage reports: an MLflow run (the embedded SQLite store unless MLFLOW_TRACKING_URI is set), nested
under a parent run when a chain passes one, or nowhere (disabled, mlflow not installed, or a rank other than 0
of a multi-process training: one run per training)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
from collections.abc import Iterator

from mu0.training.ranks import is_main
from mu0.training.tracker import NullTracker


@dataclasses.dataclass(frozen=True)
class Tracking:
    enabled: bool = True
    parent_run_id: str | None = None  # the chain's run, under which this stage's run nests


@contextlib.contextmanager
def stage_run(name: str, tracking: Tracking, tags: dict[str, str] | None = None) -> Iterator:
    """The tracker of one stage run (a NullTracker when tracking is off)."""
    if not tracking.enabled or not is_main() or importlib.util.find_spec("mlflow") is None:
        yield NullTracker()
        return
    from mu0.mlops.tracking import run

    with run(name, parent_run_id=tracking.parent_run_id, tags=tags) as tracker:
        yield tracker
