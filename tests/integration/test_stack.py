"""The platform end to end on 127.0.0.1: the local stack (moto S3, MLflow server, Prefect server and a
process worker), deployments from prefect.yaml, chain runs through the worker, the registry's aliases,
a validation failure that stops the chain, the nightly schedule, and every process stopped afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = "mu0-world-model"
pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.removeprefix("export ").split("=", 1) for line in path.read_text().splitlines() if line)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    clone = root / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {**os.environ, "MU0_STACK_DIR": str(root / "state"), "PREFECT_HOME": str(root / "prefect-cli")}
    stack_cmd = [sys.executable, str(clone / "infra" / "stack.py")]
    shm_before = _shm_folders()
    try:
        subprocess.run([*stack_cmd, "up", "--ports", "auto"], env=env, check=True, timeout=300)
        env.update(_env_file(root / "state" / "env"))
        env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        subprocess.run([*stack_cmd, "deploy"], env=env, check=True, timeout=300, capture_output=True)
        yield clone, env, root / "state"
    finally:
        subprocess.run([*stack_cmd, "down"], env=env, timeout=120)
        pids = [int(p.read_text()) for p in (root / "state").glob("*.pid")]
        assert not pids, f"stack down left pid files: {pids}"
        left = [d for d in _shm_folders() - shm_before if any(Path(d).glob("*.mlflow-huey-store"))]
        assert not left, f"the MLflow server left its job store in shared memory: {left}"


def _shm_folders() -> set[str]:
    shm = Path("/dev/shm")
    return {str(p) for p in shm.iterdir() if p.is_dir()} if shm.is_dir() else set()


def _run(stack, *params: str) -> str:
    clone, env, _ = stack
    args = [str(Path(sys.executable).parent / "prefect"), "deployment", "run", "mu0-pretrain/manual", "--watch"]
    for p in params:
        args += ["--param", p]
    proc = subprocess.run(args, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    return proc.stdout + proc.stderr


def _log_tail(stack) -> str:
    return (stack[2] / "worker.log").read_text()[-4000:]


def _client(env):
    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    from mlflow import MlflowClient

    return MlflowClient(env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])


def _versions(env, model: str = MODEL) -> dict[str, dict]:
    return {v.version: v.tags for v in _client(env).search_model_versions(f"name='{model}'")}


def _alias(env, alias, model: str = MODEL):
    return _client(env).get_model_version_by_alias(model, alias).version


def test_a_manual_deployment_run_registers_a_version_with_lineage(stack):
    out = _run(stack)
    assert "Flow run finished successfully" in out, out[-2000:] + _log_tail(stack)
    _, env, _ = stack
    versions = _versions(env)
    assert list(versions) == ["1"]
    tags = versions["1"]
    for key in ("lineage.git_commit", "lineage.data_raw_md5", "lineage.validation", "lineage.config_hash",
                "lineage.parent_run_id", "eval.score"):
        assert tags.get(key), (key, tags)
    assert tags["lineage.validation"] == "passed" and tags["lineage.data_raw_md5"].endswith(".dir")
    assert _alias(env, "champion") == "1" and _alias(env, "challenger") == "1"
    parent = _client(env).get_run(tags["lineage.parent_run_id"])
    children = _client(env).search_runs([parent.info.experiment_id],
                                        f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert {r.data.tags.get("stage") for r in children} >= {"pretrain", "finetune", "evaluate", "evaluate-policy",
                                                             "register"}
    policy = _versions(env, "mu0-policy-metaworld")["1"]  # the action expert on this μ_0, with its own gate
    for key in ("lineage.git_commit", "lineage.data_raw_md5", "lineage.parent_run_id", "eval.mean_success",
                "lineage.world_model"):
        assert policy.get(key), (key, policy)
    assert policy["eval.metric"] == "failure_rate" and 0.0 <= float(policy["eval.score"]) <= 1.0
    assert _alias(env, "champion", "mu0-policy-metaworld") == "1"


def test_a_worse_model_becomes_challenger_but_not_champion(stack):
    # 100× the preset's learning rate for two steps: uv ADE 3–5× the champion's, and far from the edge where the
    # weights overflow (0.05 for 6 steps was at it: μ_0's features turned NaN in the policy after a data change)
    out = _run(stack, 'overrides={"train.lr": 0.2, "train.steps": 2, "train.warmup_steps": 1}')
    assert "Flow run finished successfully" in out, out[-2000:] + _log_tail(stack)
    _, env, _ = stack
    tags = _versions(env)["2"]
    assert _alias(env, "challenger") == "2" and _alias(env, "champion") == "1"
    assert float(tags["eval.score"]) > float(tags["eval.champion_score"])
    assert "worse than the champion" in tags["promotion.refused"]


def test_data_that_fails_validation_stops_the_chain_before_training(stack):
    clone, env, state = stack
    for robot in (clone / "data" / "raw").glob("*/robot.npz"):  # actions far out of bounds, everywhere
        arrays = dict(np.load(robot))
        arrays["actions"] = arrays["actions"] + 50.0
        np.savez(robot, **arrays)
    before = set(_versions(env))
    out = _run(stack, 'source="none"')
    assert "Flow run finished in state 'Failed'" in out, out[-3000:]
    log = (state / "worker.log").read_text()
    last_run = log[log.rindex("mu0 validate --preset debug"):]
    assert "mu0 validate --preset debug exited with 1" in last_run
    assert "mu0 pretrain" not in last_run  # the gate stopped the chain before training
    assert set(_versions(env)) == before
    report = json.loads((clone / "reports" / "validation.json").read_text())
    assert not report["success"]


def test_the_nightly_schedule_creates_scheduled_runs(stack):
    clone, env, _ = stack
    code = (
        "import asyncio\n"
        "from prefect.client.orchestration import get_client\n"
        "from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName\n"
        "async def main():\n"
        "    async with get_client() as c:\n"
        "        d = await c.read_deployment_by_name('mu0-pretrain/nightly')\n"
        "        runs = await c.read_flow_runs(deployment_filter=DeploymentFilter(id={'any_': [d.id]}))\n"
        "        print(len([r for r in runs if r.state and r.state.is_scheduled()]), d.schedules[0].schedule.cron)\n"
        "asyncio.run(main())\n")
    deadline = time.monotonic() + 150
    while True:  # the scheduler service creates upcoming runs on its own loop
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        count, cron = out.split()[0], out.split()[1:]
        if int(count) > 0 or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert int(count) > 0 and " ".join(cron) == "0 2 * * *"
