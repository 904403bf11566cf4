"""MLflow tracking: where runs go, and the Tracker training reports to.

Embedded default: a SQLite store `mlflow.db` and artifacts in `mlartifacts/`, both in the working
folder; a real server when MLFLOW_TRACKING_URI is set (its artifacts may live in S3: the server's
--artifacts-destination; credentials come from AWS_* in the environment only). A chain has one parent
run and one child run per stage; a child run records CPU/memory system metrics while it is open.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

EXPERIMENT = "mu0"  # the default; MLFLOW_EXPERIMENT_NAME chooses another, as it does for mlflow itself
MAX_PARAM = 6000  # MLflow's limit on a parameter value's length


def tracking_uri(root: Path = Path(".")) -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded SQLite store under `root`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(Path(root) / 'mlflow.db').resolve()}"


def experiment_name() -> str:
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or EXPERIMENT


def configure(root: Path = Path(".")) -> str:
    """Point mlflow at the tracking store and make sure the experiment exists (with local artifacts for
    the embedded store); returns the experiment id."""
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    uri = tracking_uri(root)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = experiment_name()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None if os.environ.get("MLFLOW_TRACKING_URI") else (Path(root) / "mlartifacts").resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def flatten(params: dict, prefix: str = "") -> dict[str, str]:
    """{"model": {"expert": {"width": 64}}} → {"model.expert.width": "64"}; lists as JSON."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out[name] = text[:MAX_PARAM]
    return out


class MlflowTracker:
    """The training Tracker on one MLflow run (by id, so threads and processes can share it)."""

    def __init__(self, run_id: str) -> None:
        from mlflow import MlflowClient

        self.run_id, self.client = run_id, MlflowClient()

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])

    def log_artifact(self, path: Path) -> None:
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path=path.name)
        else:
            self.client.log_artifact(self.run_id, str(path))

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))


@contextlib.contextmanager
def run(name: str, parent_run_id: str | None = None, tags: dict[str, str] | None = None,
        system_metrics: bool = True, root: Path = Path(".")) -> Iterator[MlflowTracker]:
    """An MLflow run (a child of `parent_run_id` when given) for the duration of the block; it ends
    FAILED if the block raises."""
    from mlflow import MlflowClient

    experiment_id = configure(root)
    client = MlflowClient()
    all_tags = {**(tags or {}), **({"mlflow.parentRunId": parent_run_id} if parent_run_id else {})}
    created = client.create_run(experiment_id, run_name=name, tags=all_tags)
    run_id = created.info.run_id
    monitor = None
    if system_metrics:
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run_id, sampling_interval=5, samples_before_logging=1)
        monitor.start()
    try:
        yield MlflowTracker(run_id)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    else:
        client.set_terminated(run_id, "FINISHED")
    finally:
        if monitor is not None:
            monitor.finish()
