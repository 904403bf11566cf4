"""Where runs go: the embedded store under the working folder, in the experiment MLFLOW_EXPERIMENT_NAME names."""

from __future__ import annotations

from mu0.mlops.tracking import EXPERIMENT, run


def _experiment_of(run_id: str) -> str:
    from mlflow import MlflowClient

    client = MlflowClient()
    return client.get_experiment(client.get_run(run_id).info.experiment_id).name


def test_runs_go_to_the_experiment_the_environment_names(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    with run("plain", system_metrics=False, root=tmp_path) as tracker:
        tracker.log_metrics({"loss": 1.0}, step=0)
    assert _experiment_of(tracker.run_id) == EXPERIMENT
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mu0-compare")
    with run("named", system_metrics=False, root=tmp_path) as named:
        named.log_metrics({"loss": 0.5}, step=0)
    assert _experiment_of(named.run_id) == "mu0-compare"
    assert (tmp_path / "mlflow.db").exists()
