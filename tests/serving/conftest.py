"""One tiny pretrained μ_0 and one SQLite MLflow store for every serving test."""

from __future__ import annotations

import os

import pytest

from mu0.config import TrainConfig
from mu0.training.pretrain import pretrain
from tests.serving.fixtures import DATA, MODEL
from tests.trace_extract.synthetic import box_trace_dataset


@pytest.fixture(scope="package")
def registry(tmp_path_factory):
    """(root, μ_0's model folder) with MLFLOW_TRACKING_URI pointing at root/mlflow.db while the tests run."""
    root = tmp_path_factory.mktemp("registry")
    traces = box_trace_dataset(root, 4)
    model_dir = pretrain(traces, root / "mu0", DATA, MODEL,
                         TrainConfig(steps=2, micro_batch=4, warmup_steps=1, checkpoint_every=0)).model_dir
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    import mlflow

    from mu0.mlops.tracking import configure, experiment_name

    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])  # artifacts under root, not ./mlruns
    mlflow.create_experiment(experiment_name(), artifact_location=(root / "mlartifacts").as_uri())
    configure(root)
    yield root, model_dir
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI")
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old
