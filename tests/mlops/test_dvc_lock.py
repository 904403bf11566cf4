"""The committed dvc.lock records this pipeline: every stage of dvc.yaml with its command, and the values of
params.yaml it ran with. (Its data and code hashes go stale with every change; `dvc status` says which.)"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_dvc_lock_records_every_stage_of_dvc_yaml_with_its_command_and_params():
    from dvc.repo import Repo

    lock = yaml.safe_load((REPO / "dvc.lock").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    with Repo(str(REPO)) as repo:
        stages = {stage.name: stage for stage in repo.index.stages if stage.path_in_repo == "dvc.yaml"}
    assert set(lock) == set(stages), "run `make pipeline` and commit dvc.lock"
    for name, stage in stages.items():
        assert lock[name]["cmd"] == stage.cmd, f"{name}: dvc.yaml's command changed since dvc.lock; run `make pipeline`"
        for key, value in lock[name].get("params", {}).get("params.yaml", {}).items():
            assert params[key] == value, f"{name}: params.yaml's {key} changed since dvc.lock; run `make pipeline`"
