"""A registered μ_0 answers trace predictions over HTTP from `mlflow models serve` (127.0.0.1), loaded
by alias; registration carries lineage; the promotion gate refuses a worse challenger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mu0.config import BackboneConfig, TraceDataConfig, TraceExpertConfig, TrainConfig, WorldModelConfig
from mu0.training.pretrain import pretrain
from tests.servers import free_port
from tests.trace_extract.synthetic import box_trace_dataset

MODEL = WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=1),
                         horizon=8, history=4)
DATA = TraceDataConfig(num_points=8, horizon=8, history=4, train_fraction=0.5, val_fraction=0.2)


def _report(path: Path, mu0: float, champion: float | None) -> Path:
    methods = {"mu0": {"8": {"ade_uv": mu0}}}
    if champion is not None:
        methods["champion"] = {"8": {"ade_uv": champion}}
    path.write_text(json.dumps({"split": "test", "episodes": 2, "methods": methods}))
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    traces = box_trace_dataset(root, 4)
    model_dir = pretrain(traces, root / "mu0", DATA, MODEL,
                         TrainConfig(steps=2, micro_batch=4, warmup_steps=1, checkpoint_every=0)).model_dir
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    from mu0.mlops.tracking import configure

    configure(root)
    yield root, model_dir
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI")
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


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
    assert str(client.get_model_version_by_alias("mu0-world-model", "champion").version) == first["version"]
    assert str(client.get_model_version_by_alias("mu0-world-model", "challenger").version) == second["version"]
    tags = client.get_model_version("mu0-world-model", second["version"]).tags
    assert tags["lineage.parent_run_id"] == "parent-2" and tags["lineage.config_hash"]
    assert "promotion.refused" in tags
    forced = promote_version(None, force=True, who="tester: new camera setup")
    assert forced.promoted and "manual override by tester" in forced.reason
    assert "promotion.override" in client.get_model_version("mu0-world-model", second["version"]).tags


@pytest.mark.slow
def test_served_champion_answers_trace_predictions_over_http(registry):
    from mu0.serving.trace_pyfunc import encode_png

    root, _ = registry
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow execs uvicorn from PATH
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    mlflow = str(Path(bin_dir) / "mlflow")
    proc = subprocess.Popen([mlflow, "models", "serve", "-m", "models:/mu0-world-model@champion", "--env-manager",
                             "local", "-h", "127.0.0.1", "-p", str(port)], env=env, cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the model server did not come up in 180 s"
                time.sleep(1)
        image = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
        body = {"dataframe_split": {"columns": ["image_png_b64", "instruction", "points_px"],
                                    "data": [[encode_png(image), "slide the box", json.dumps([[10, 20], [40, 30]])]]}}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        row = answer["predictions"][0]
        trace = np.array(json.loads(row["trace_px"]))
        assert trace.shape == (2, 8, 2) and np.isfinite(trace).all()
        assert np.array(json.loads(row["depth_delta_m"])).shape == (2, 8)
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def _policy_report(path: Path, success: float, champion: float | None) -> Path:
    policies = {"trace": {"mean_success": success}}
    if champion is not None:
        policies["champion"] = {"mean_success": champion}
    path.write_text(json.dumps({"tasks": ["reach-v3"], "seeds": [100_000, 100_009], "policies": policies}))
    return path


@pytest.mark.slow
def test_a_policy_registers_with_its_own_gate_and_loads_by_alias(registry, tmp_path):
    import mlflow
    import torch

    from mu0.config import ActionExpertConfig
    from mu0.mlops.tracking import run
    from mu0.models.action_expert import ActionExpert
    from mu0.serving.log_model import example_policy_input
    from mu0.serving.publish import POLICY_MODEL, promote_version, publish_policy

    root, _ = registry
    torch.manual_seed(0)
    folder = ActionExpert(ActionExpertConfig(world=MODEL, grid=4, width=32, layers=1, chunk=4)).save_pretrained(
        tmp_path / "policy")
    (folder / "train_config.json").write_text(json.dumps({"image_size": 32, "world_model": "mu0/model",
                                                          "policy_data": {"camera": "front"}, "demos": {}}))
    (folder / "delta_stats.json").write_text(json.dumps({"scale": [0.1, 0.1, 0.05], "percentile": 95,
                                                        "horizon": 16, "samples": 1}))
    with run("register-policy", system_metrics=False) as t:
        first = publish_policy(folder, _policy_report(tmp_path / "p1.json", 0.4, None), None, t.run_id, "p", "trace")
    assert first["model"] == POLICY_MODEL and first["score"] == pytest.approx(0.6)
    assert promote_version(None, model=POLICY_MODEL).promoted
    with run("register-policy", system_metrics=False) as t:
        publish_policy(folder, _policy_report(tmp_path / "p2.json", 0.2, 0.4), None, t.run_id, "p", "trace")
    refused = promote_version(None, model=POLICY_MODEL)
    assert not refused.promoted and "failure_rate 0.80000 is worse than the champion's 0.60000" in refused.reason
    (tmp_path / "dl").mkdir()
    served = mlflow.pyfunc.load_model(f"models:/{POLICY_MODEL}@champion", dst_path=str(tmp_path / "dl"))
    out = served.predict(example_policy_input((32, 32)))
    actions = np.asarray(json.loads(out["actions"][0]))
    assert actions.shape == (4, 4) and np.abs(actions).max() <= 1.0
    assert len(json.loads(out["trace_px"][0])) == 16  # the 4×4 grid's μ_0 tracks it was conditioned on
    bad = example_policy_input((32, 32)).assign(proprio=["[0.0, 1.0]"])
    with pytest.raises(Exception, match="proprio has 2 values, the policy expects 4"):
        served.predict(bad)


def test_a_served_wrist_policy_needs_the_wrist_frame_and_plans_with_it(tmp_path):
    import types

    import torch

    from mu0.config import ActionExpertConfig
    from mu0.models.action_expert import ActionExpert
    from mu0.serving.log_model import example_policy_input
    from mu0.serving.policy_pyfunc import PolicyPyfunc

    torch.manual_seed(0)
    cfg = ActionExpertConfig(world=MODEL, grid=4, width=32, layers=1, chunk=4, wrist_tokens=2)
    folder = ActionExpert(cfg).save_pretrained(tmp_path / "policy")
    (folder / "train_config.json").write_text(json.dumps({"image_size": 32, "demos": {}, "policy_data": {
        "camera": "front", "wrist_camera": "gripperPOV"}}))
    served = PolicyPyfunc()
    served.load_context(types.SimpleNamespace(artifacts={"model": str(folder)}))
    with pytest.raises(ValueError, match=r"input lacks columns \['wrist_png_b64'\]"):
        served.predict(None, example_policy_input((32, 32)))
    out = served.predict(None, example_policy_input((32, 32), wrist=True))
    assert np.asarray(json.loads(out["actions"][0])).shape == (4, 4)
