"""A training run cannot be made to run code, to share its folder, or to train on corrupt traces."""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mu0.cli import strip_launcher_args
from mu0.episodes import trace_layout as layout
from mu0.training.checkpoints import UnsafeCheckpointError
from mu0.training.engine import DeepSpeedConfigError
from mu0.training.pretrain import pretrain
from mu0.training.run_lock import FolderBusyError
from tests.trace_extract.synthetic import box_trace_dataset
from tests.training.test_pretrain import DATA, MODEL, TRAIN


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    return box_trace_dataset(tmp_path_factory.mktemp("safe"), 4)


class Planted:
    """Unpickling this touches a marker file: the proof that a checkpoint ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_a_planted_pickle_in_a_checkpoint_is_refused_by_name_and_never_runs(traces, tmp_path):
    pretrain(traces, tmp_path / "run", DATA, MODEL, TRAIN, stop_after=4)
    weights = (tmp_path / "run" / "model" / "model.safetensors").read_bytes()
    target = tmp_path / "run" / "checkpoints" / "step4" / "mp_rank_00_model_states.pt"
    assert target.exists()
    marker = tmp_path / "code-ran"
    target.write_bytes(pickle.dumps({"module": Planted(marker)}))
    with pytest.raises(UnsafeCheckpointError, match=r"mp_rank_00_model_states\.pt: refused to load"):
        pretrain(traces, tmp_path / "run", DATA, MODEL, TRAIN)
    assert not marker.exists()
    assert (tmp_path / "run" / "model" / "model.safetensors").read_bytes() == weights  # nothing overwritten


def test_a_second_run_into_a_busy_folder_is_refused_naming_the_holder_then_a_dead_holder_is_stale(traces, tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from mu0.training.run_lock import "
         "one_writer; lock = one_writer(Path(sys.argv[1])); lock.__enter__(); print('held', flush=True); "
         "time.sleep(600)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError, match=rf"another training run is writing here \(pid {holder.pid} on "):
            pretrain(traces, out, DATA, MODEL, TRAIN)
        assert not (out / "checkpoints").exists()
    finally:
        holder.kill()  # SIGKILL: no clean-up, the holder record stays behind
        holder.wait()
    result = pretrain(traces, out, DATA, MODEL, dataclasses.replace(TRAIN, steps=2))
    assert result.model_dir == out / "model" and result.resumed_from == 0


def test_nan_in_a_valid_trace_step_is_refused_by_the_dataset_without_the_gate(traces, tmp_path):
    copy = tmp_path / "traces"
    shutil.copytree(traces, copy)
    episode = sorted(p for p in copy.iterdir() if p.is_dir())[1]
    traj = np.load(layout.sample_file(episode, layout.TRAJ))
    valid = np.load(layout.sample_file(episode, layout.VALID_STEPS))
    row, step = np.argwhere(valid)[5]
    traj[row, step, 0] = np.nan
    np.save(layout.sample_file(episode, layout.TRAJ), traj)
    with pytest.raises(ValueError, match=rf"{episode.name}/samples/traj\.npy: 1 steps marked valid in valid_steps\.npy "
                                         rf"hold NaN or inf \(first: row {row}, step {step}\); episode {episode.name}"):
        pretrain(copy, tmp_path / "run", DATA, MODEL, TRAIN)  # no validation report: the gate was bypassed


def test_an_empty_validation_split_is_said_plainly(traces, tmp_path, caplog):
    data = dataclasses.replace(DATA, train_fraction=1.0, val_fraction=0.0)
    with caplog.at_level(logging.WARNING, logger="mu0.training.pretrain"):
        result = pretrain(traces, tmp_path / "run", data, MODEL, dataclasses.replace(TRAIN, steps=2))
    assert "the val split is empty" in caplog.text and np.isnan(result.val_loss)


def test_a_users_deepspeed_json_is_used_and_one_that_sets_what_mu0_owns_is_refused(traces, tmp_path):
    own = tmp_path / "ds.json"
    own.write_text(json.dumps({"zero_optimization": {"stage": 1}, "gradient_clipping": TRAIN.grad_clip}))
    pretrain(traces, tmp_path / "run", DATA, MODEL, dataclasses.replace(TRAIN, steps=2, deepspeed_config=str(own)))
    state = json.loads((tmp_path / "run" / "checkpoints" / "step2" / "run_state.json").read_text())
    assert state["zero_stage"] == 1 and state["world_size"] == 1
    own.write_text(json.dumps({"optimizer": {"type": "Adam"}, "train_micro_batch_size_per_gpu": 99}))
    with pytest.raises(DeepSpeedConfigError, match=r"ds\.json: remove optimizer"):
        pretrain(traces, tmp_path / "other", DATA, MODEL, dataclasses.replace(TRAIN, deepspeed_config=str(own)))


def test_the_launchers_local_rank_argument_is_dropped_wherever_it_stands(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert strip_launcher_args(["--local_rank=1", "pretrain", "--preset", "tiny"]) == ["pretrain", "--preset", "tiny"]
    assert strip_launcher_args(["pretrain", "--local_rank", "0", "--out", "x"]) == ["pretrain", "--out", "x"]
