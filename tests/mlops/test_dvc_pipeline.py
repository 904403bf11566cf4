"""`dvc repro` of dvc.yaml: one clone pushes data and outputs to S3 (a moto server), a second clone pulls them
with plain DVC and reproduces metrics/traces.json; `dvc metrics show` / `dvc params diff` read the headline
figures and parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _sh(cwd: Path, env: dict, *args: str) -> str:
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(args)} in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _numbers(report: dict) -> dict:
    return {(m, h, k): v for m, per_h in report["methods"].items() for h, ms in per_h.items() for k, v in ms.items()
            if isinstance(v, float)}


def _leaves(tree) -> int:
    return sum(_leaves(v) for v in tree.values()) if isinstance(tree, dict) else 1


@pytest.mark.timeout(1500)  # two whole debug pipelines, a push and a pull
def test_a_clone_pulls_data_and_outputs_from_s3_and_reproduces_the_metrics(tmp_path, s3):
    s3.create_bucket(Bucket="mu0")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MU0_DVC_REMOTE": "s3",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/m.db",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "DVC_NO_ANALYTICS": "1", "MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
    first, second = tmp_path / "first", tmp_path / "second"
    _sh(tmp_path, env, "git", "clone", "-q", str(REPO), str(first))
    params = yaml.safe_load((first / "params.yaml").read_text())
    (first / "params.yaml").write_text(yaml.safe_dump({**params, "preset": "debug", "pretrain": {"steps": 10,
                                                                                                   "lr": 0.002},
                                                       "finetune": {"steps": 10, "lr": 0.001}}))
    _sh(first, env, "mu0", "ingest", "metaworld", "--preset", "debug")  # dvc commit + push of data/raw to S3
    _sh(first, env, "dvc", "repro")
    _sh(first, env, "dvc", "push")  # the stages' outputs too (the default remote: s3, chosen by MU0_DVC_REMOTE)
    metrics = json.loads((first / "metrics" / "traces.json").read_text())
    policies = json.loads((first / "metrics" / "policies.json").read_text())["policies"]
    _sh(first, env, "git", "add", "data.dvc", "dvc.lock", "params.yaml", "metrics")  # the small, uncached reports
    _sh(first, env, "git", "commit", "-qm", "debug data and pipeline")

    # the second clone is a plain DVC user's: the committed remote, credentials and endpoint from the environment
    plain = {k: v for k, v in env.items() if not k.startswith("MU0_")}
    plain["AWS_ENDPOINT_URL"] = os.environ["MU0_S3_ENDPOINT_URL"]
    _sh(tmp_path, env, "git", "clone", "-q", str(first), str(second))
    assert "deleted" in _sh(second, plain, "dvc", "status")  # the lock says what is missing here
    assert "didn't change" in _sh(second, plain, "dvc", "repro", "--dry", "--allow-missing")
    _sh(second, plain, "dvc", "pull", "-r", "s3")
    assert "up to date" in _sh(second, plain, "dvc", "status")
    _sh(second, plain, "dvc", "repro", "--force")
    again = json.loads((second / "metrics" / "traces.json").read_text())
    policies_again = json.loads((second / "metrics" / "policies.json").read_text())["policies"]
    for name in ("trace", "scratch"):  # same weights, same seeds, same per-episode noise: the same rollouts
        assert [(e["success"], e["length"]) for e in policies[name]["episodes"]] == \
            [(e["success"], e["length"]) for e in policies_again[name]["episodes"]]
    a, b = _numbers(metrics), _numbers(again)
    assert a.keys() == b.keys() and len(a) > 50
    assert all(abs(a[k] - b[k]) <= 1e-6 * max(1.0, abs(a[k])) or (a[k] != a[k] and b[k] != b[k]) for k in a), \
        [(k, a[k], b[k]) for k in a if abs(a[k] - b[k]) > 1e-6][:5]

    shown = json.loads(_sh(second, plain, "dvc", "metrics", "show", "--json"))
    files = json.dumps(shown)
    assert "metrics/traces_headline.json" in files and "metrics/policies.json" not in files
    assert _leaves(shown) < 100  # the headline figures, not every number of the reports
    params = yaml.safe_load((second / "params.yaml").read_text())
    (second / "params.yaml").write_text(yaml.safe_dump({**params, "pretrain": {**params["pretrain"], "steps": 20}}))
    diff = _sh(second, plain, "dvc", "params", "diff")
    assert "pretrain.steps" in diff and "10" in diff and "20" in diff
