"""Data-parallel pretraining across processes, launched the way the README says (`deepspeed --num_gpus 2`, and
the multi-host hostfile command with both "hosts" on 127.0.0.1), checked against one process with the same
global batch: the same loss curve, one model folder, one MLflow run, exact resume across world sizes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mu0.training.ds_ops import SHM_DIR, allreduce_buffer_name
from tests.servers import free_port
from tests.trace_extract.synthetic import box_trace_dataset

pytestmark = pytest.mark.slow

DEEPSPEED = str(Path(sys.executable).parent / "deepspeed")
SHAPE = ["--preset", "debug", "--validation-report", "/nonexistent", "--model.horizon", "8", "--model.history", "4",
         "--data.horizon", "8", "--data.history", "4", "--data.train-fraction", "0.75", "--data.val-fraction", "0.25",
         "--train.steps", "6", "--train.micro-batch", "2", "--train.warmup-steps", "2", "--train.log-every", "1",
         "--train.checkpoint-every", "3", "--train.lr", "2e-3"]


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    return box_trace_dataset(tmp_path_factory.mktemp("dp"), 4)


def _env() -> dict[str, str]:
    # one thread per rank: two ranks share this machine's cores
    return {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_EXPERIMENT_NAME": "dp"}


def pretrain(cwd: Path, traces: Path, out: str, ranks: int, *extra: str, check: bool = True):
    """`mu0 pretrain` in `cwd` (its own MLflow store) on one process, or on `ranks` through deepspeed."""
    cwd.mkdir(parents=True, exist_ok=True)
    args = ["pretrain", *SHAPE, "--traces", str(traces), "--out", out, *extra]
    port = str(free_port())
    if ranks == 1:
        cmd = [sys.executable, "-m", "mu0.cli", *args]
    else:
        cmd = [DEEPSPEED, "--num_gpus", str(ranks), "--master_addr", "127.0.0.1", "--master_port", port,
               "--module", "mu0.cli", *args]
    done = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not _leftover_buffers(port)
    return done


def _leftover_buffers(port: str) -> list[Path]:
    """DeepSpeed's CPU all-reduce buffers of the run on `port` still in /dev/shm (ds_ops.unlink_allreduce_buffer)."""
    return sorted(SHM_DIR.glob(allreduce_buffer_name(os.getuid(), "127.0.0.1", port, 0)[:-1] + "*"))


def losses(cwd: Path) -> list[list[float]]:
    """The loss curve of every MLflow run in `cwd`'s store, oldest run first."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{cwd / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("dp").experiment_id], order_by=["start_time ASC"])
    return [[m.value for m in sorted(client.get_metric_history(r.info.run_id, "loss"), key=lambda m: m.step)]
            for r in runs]


@pytest.fixture(scope="module")
def reference(traces, tmp_path_factory) -> list[float]:
    """The loss curve of one process with the global batch of two ranks (micro 2 × accumulation 2)."""
    cwd = tmp_path_factory.mktemp("one")
    pretrain(cwd, traces, "run", 1, "--train.grad-accumulation", "2")
    [curve] = losses(cwd)
    assert len(curve) == 6
    return curve


def test_two_ranks_train_like_one_and_resume_across_world_sizes(traces, reference, tmp_path):
    pretrain(tmp_path / "two", traces, "run", 2)
    assert losses(tmp_path / "two") == [pytest.approx(reference, rel=1e-5)]  # one run, the one-rank curve
    run = tmp_path / "two" / "run"
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".mu0-run")) == ["checkpoints", "model"]
    assert (run / "checkpoints" / "step6" / "run_state.json").read_text().count('"world_size": 2')

    pretrain(tmp_path / "stop", traces, "run", 2, "--stop-after", "3")
    shutil.copytree(tmp_path / "stop", tmp_path / "stop-1")
    pretrain(tmp_path / "stop-1", traces, "run", 1, "--train.grad-accumulation", "2")  # 2 ranks → 1
    pretrain(tmp_path / "stop", traces, "run", 2)  # 2 ranks → 2
    for cwd in ("stop", "stop-1"):
        first, second = losses(tmp_path / cwd)
        np.testing.assert_allclose(first + second, reference, rtol=1e-5)


def test_another_global_batch_cannot_resume(traces, tmp_path):
    pretrain(tmp_path, traces, "run", 2, "--stop-after", "3", "--no-mlflow")
    done = pretrain(tmp_path, traces, "run", 1, "--no-mlflow", check=False)  # accumulation 1: half the batch
    assert done.returncode != 0
    assert "global batch 4 (micro 2 × accumulation 1 × 2 ranks) != this run's 2" in done.stderr + done.stdout


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_zero_stages_train_across_two_ranks(traces, reference, tmp_path, stage):
    zero = ["--train.zero-stage", str(stage)]
    pretrain(tmp_path / "two", traces, "run", 2, *zero, "--stop-after", "3")
    if stage == 1:  # partitions written by 2 ranks: refused at 1, resumed at 2
        refused = pretrain(tmp_path / "two", traces, "run", 1, *zero, "--train.grad-accumulation", "2",
                           "--no-mlflow", check=False)
        assert refused.returncode != 0
        assert "ZeRO stage 1 partitions were written by 2 ranks, this run has 1" in refused.stderr + refused.stdout
    pretrain(tmp_path / "two", traces, "run", 2, *zero)
    first, second = losses(tmp_path / "two")
    np.testing.assert_allclose(first + second, reference, rtol=1e-4)
    assert (tmp_path / "two" / "run" / "model" / "model.safetensors").exists()


def test_the_multi_host_command_runs_with_both_hosts_on_this_machine(traces, tmp_path):
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("node-a slots=1\nnode-b slots=1\n")
    port = str(free_port())
    cmds = [[DEEPSPEED, "--hostfile", str(hostfile), "--no_ssh", "--node_rank", str(rank), "--master_addr",
             "127.0.0.1", "--master_port", port, "--module", "mu0.cli", "pretrain", *SHAPE, "--traces", str(traces),
             "--out", "run"] for rank in (0, 1)]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for cmd in cmds]
    try:
        outputs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert not _leftover_buffers(port)
    assert all("dist_world_size=2" in out for out in outputs)
    [curve] = losses(tmp_path)
    assert len(curve) == 6 and (tmp_path / "run" / "model" / "model.safetensors").exists()
