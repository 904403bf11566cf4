"""The tracker a CLI stage reports to: an MLflow run (embedded SQLite store unless MLFLOW_TRACKING_URI
is set), or nothing with --no-mlflow or when mlflow is not installed."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator

from mu0.training.tracker import NullTracker

PARENT_ENV = "MU0_PARENT_RUN_ID"  # a chain driver sets it so stage runs nest under the chain's run


@contextlib.contextmanager
def stage_tracker(name: str, enabled: bool, tags: dict[str, str] | None = None) -> Iterator:
    if not enabled or importlib.util.find_spec("mlflow") is None:
        yield NullTracker()
        return
    from mu0.mlops.tracking import run

    with run(name, parent_run_id=os.environ.get(PARENT_ENV) or None, tags=tags) as tracker:
        yield tracker
