"""A registered μ_0 answers typed trace requests over HTTP from `mlflow models serve` (127.0.0.1), loaded
by alias; registration carries lineage and a model card; the promotion gate refuses a worse challenger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.servers import free_port
from tests.serving.fixtures import tiny_policy

WORLD = "mu0-world-model"


def _report(path: Path, mu0: float, champion: float | None) -> Path:
    methods = {"mu0": {"8": {"ade_uv": mu0, "fde_uv": 2 * mu0}}, "static": {"8": {"ade_uv": 0.2, "fde_uv": 0.4}},
               "constant_velocity": {"8": {"ade_uv": 0.3, "fde_uv": 0.6}}}
    if champion is not None:
        methods["champion"] = {"8": {"ade_uv": champion}}
    path.write_text(json.dumps({"split": "test", "episodes": 2, "truth": "simulator", "methods": methods}))
    return path


@pytest.mark.slow
def test_register_promote_and_refuse_a_worse_challenger(registry):
    from mlflow import MlflowClient

    from mu0.mlops.tracking import run
    from mu0.serving.publish import promote_version, publish_world_model

    root, model_dir = registry
    with run("register", system_metrics=False) as t:
        first = publish_world_model(model_dir, _report(root / "r1.json", 0.05, None), None, t.run_id, "parent-1")
    assert promote_version(None).promoted
    with run("register", system_metrics=False) as t:
        second = publish_world_model(model_dir, _report(root / "r2.json", 0.07, 0.05), None, t.run_id, "parent-2")
    refused = promote_version(None)
    assert not refused.promoted and "worse than the champion's 0.05000" in refused.reason
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(WORLD, "champion").version) == first["version"]
    assert str(client.get_model_version_by_alias(WORLD, "challenger").version) == second["version"]
    tags = client.get_model_version(WORLD, second["version"]).tags
    assert tags["lineage.parent_run_id"] == "parent-2" and tags["lineage.config_hash"]
    assert "promotion.refused" in tags
    forced = promote_version(None, force=True, who="tester: new camera setup")
    assert forced.promoted and "manual override by tester" in forced.reason
    assert "promotion.override" in client.get_model_version(WORLD, second["version"]).tags


@pytest.mark.slow
def test_each_registered_version_carries_its_model_card(registry):
    from mlflow import MlflowClient

    from mu0.mlops.tracking import run
    from mu0.serving.model_cards import WORLD_ABOUT
    from mu0.serving.publish import publish_world_model

    root, model_dir = registry
    client = MlflowClient()
    with run("register", system_metrics=False) as t:
        version = publish_world_model(model_dir, _report(root / "r3.json", 0.06, 0.05), None, t.run_id, "p")["version"]
    card = client.get_model_version(WORLD, version).description
    data_hash = client.get_model_version(WORLD, version).tags["lineage.data_raw_md5"]
    assert "| method | horizon | ade_uv | fde_uv |" in card and "| static | 8 | 0.2000 | 0.4000 |" in card
    assert f"DVC hash of data/raw `{data_hash}`" in card and data_hash
    assert "Trace source: TraceExtract (`lk` tracker): " in card and "| `model.horizon` | `8` |" in card
    assert client.get_registered_model(WORLD).description == WORLD_ABOUT
    client.update_registered_model(WORLD, description="edited in the UI")  # registration never overwrites it
    with run("register", system_metrics=False) as t:
        publish_world_model(model_dir, _report(root / "r4.json", 0.06, 0.05), None, t.run_id, "p")
    assert client.get_registered_model(WORLD).description == "edited in the UI"


def _post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _wait_until_up(proc: subprocess.Popen, port: int, within_s: float = 180) -> None:
    deadline = time.monotonic() + within_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
            return
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, f"the model server did not come up in {within_s:.0f} s"
            time.sleep(1)


@pytest.mark.slow
def test_served_champion_answers_typed_trace_requests_over_http_from_a_clean_environment(registry):
    """`--env-manager virtualenv`: a new venv with only the model's pinned requirements (MLflow keeps it under
    ~/.mlflow/envs for the next run); mu0 itself comes from the model's own code folder."""
    root, _ = registry
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow execs uvicorn from PATH
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")
    mlflow = str(Path(bin_dir) / "mlflow")
    proc = subprocess.Popen([mlflow, "models", "serve", "-m", f"models:/{WORLD}@champion", "--env-manager",
                             "virtualenv", "-h", "127.0.0.1", "-p", str(port)], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _wait_until_up(proc, port, within_s=900)
        image = (np.random.default_rng(0).random((1, 48, 64, 3)) * 255).astype(np.uint8)
        inputs = {"image": image.tolist(), "instruction": ["slide the box"], "points_px": [[[10, 20], [40, 30]]]}
        status, answer = _post(port, {"inputs": inputs})
        assert status == 200, answer
        trace = np.array(answer["predictions"]["traces"])
        assert trace.shape == (1, 2, 8, 3) and np.isfinite(trace).all()
        status, answer = _post(port, {"inputs": {**inputs, "points_px": [[[10, 20, 1], [40, 30, 1]]]}})
        assert status == 400
        assert "Shape of input (1, 2, 3) does not match expected shape (-1, -1, 2)" in answer["message"]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def _policy_report(path: Path, success: float, champion: float | None) -> Path:
    policies = {"trace": {"mean_success": success}, "scratch": {"mean_success": 0.1}}
    if champion is not None:
        policies["champion"] = {"mean_success": champion}
    path.write_text(json.dumps({"tasks": ["reach-v3"], "seeds": [100_000, 100_009], "policies": policies}))
    return path


@pytest.mark.slow
def test_a_policy_registers_with_its_own_gate_and_loads_by_alias(registry, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    from mu0.mlops.tracking import run
    from mu0.serving.publish import POLICY_MODEL, promote_version, publish_policy
    from mu0.serving.signatures import policy_example

    folder = tiny_policy(tmp_path / "policy")
    with run("register-policy", system_metrics=False) as t:
        first = publish_policy(folder, _policy_report(tmp_path / "p1.json", 0.4, None), None, t.run_id, "p", "trace")
    assert first["model"] == POLICY_MODEL and first["score"] == pytest.approx(0.6)
    card = MlflowClient().get_model_version(POLICY_MODEL, first["version"]).description
    assert "| **trace** (this version) | 40.0% | 0.6000 | – |" in card and "| scratch | 10.0% |" in card
    assert promote_version(None, model=POLICY_MODEL).promoted
    with run("register-policy", system_metrics=False) as t:
        publish_policy(folder, _policy_report(tmp_path / "p2.json", 0.2, 0.4), None, t.run_id, "p", "trace")
    refused = promote_version(None, model=POLICY_MODEL)
    assert not refused.promoted and "failure_rate 0.80000 is worse than the champion's 0.60000" in refused.reason
    (tmp_path / "dl").mkdir()
    served = mlflow.pyfunc.load_model(f"models:/{POLICY_MODEL}@champion", dst_path=str(tmp_path / "dl"))
    out = served.predict(policy_example((32, 32)))
    assert out["actions"].shape == (1, 4, 4) and np.abs(out["actions"]).max() <= 1.0
    assert out["trace_px"].shape[:2] == (1, 16)  # the 4×4 grid's μ_0 tracks it was conditioned on
    with pytest.raises(mlflow.exceptions.MlflowException,
                       match=r"Shape of input \(1, 2\) does not match expected shape \(-1, 4\)"):
        served.predict({**policy_example((32, 32)), "proprio": np.zeros((1, 2), np.float32)})


def test_a_served_wrist_policy_needs_the_wrist_frame_and_plans_with_it(tmp_path):
    import types

    from mu0.serving.policy_pyfunc import PolicyPyfunc
    from mu0.serving.signatures import policy_example

    served = PolicyPyfunc()
    served.load_context(types.SimpleNamespace(artifacts={"model": str(tiny_policy(tmp_path / "p", wrist=True))}))
    with pytest.raises(ValueError, match=r"input lacks \['wrist_image'\]"):
        served.predict(None, policy_example((32, 32)))
    assert served.predict(None, policy_example((32, 32), wrist=True))["actions"].shape == (1, 4, 4)
