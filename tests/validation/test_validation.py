"""Each expectation fails on its own corruption, names the right episode, and touches nothing else."""

import json
import shutil

import numpy as np
import pytest

from mu0.config import ValidationConfig
from mu0.episodes.hashing import content_hash
from mu0.episodes.quarantine import read_quarantine
from mu0.validation import report as report_io
from mu0.validation.gate import validate
from tests.validation.box_dataset import EPISODES, write_box_dataset

CFG = ValidationConfig()


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return write_box_dataset(tmp_path_factory.mktemp("clean"))


@pytest.fixture
def data(clean, tmp_path):
    shutil.copytree(clean / "raw", tmp_path / "raw")
    shutil.copytree(clean / "traces", tmp_path / "traces")
    return tmp_path


def _validate(data, accept=False):
    return validate(data / "raw", data / "traces", CFG, data / "quarantine", accept=accept)


def _restamp(folder):
    """Re-hash a raw episode after editing it, as a (buggy) writer would have: only the edit is wrong."""
    meta = json.loads((folder / "meta.json").read_text())
    meta["content_hash"] = content_hash(folder)
    (folder / "meta.json").write_text(json.dumps(meta))


def _edit_npz(path, key, fn):
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    data[key] = fn(data[key])
    np.savez(path, **data)


def _edit_npy(path, fn):
    arr = np.load(path)
    np.save(path, fn(arr))


def test_clean_dataset_passes_and_becomes_the_baseline(data):
    report = _validate(data, accept=True)
    assert report["success"] and not report["failing_episodes"], report["failing_episodes"]
    assert report["accepted_episodes"] == EPISODES
    assert (data / "traces" / "_validation" / "accepted_stats.json").exists()
    again = _validate(data)
    assert again["success"] and any(c["name"] == "drift.depth" and c["success"] for c in again["checks"])


def _set(arr, index, value):
    arr = arr.copy()
    arr[index] = value
    return arr


def _corrupt(data, case):
    raw, tr = data / "raw" / "box-b", data / "traces" / "box-b"
    if case == "NaN in traj":
        s = np.load(tr / "samples/valid_steps.npy")
        r, k = np.argwhere(s)[5]
        _edit_npy(tr / "samples/traj.npy", lambda a: _set(a, (r, k, 0), np.nan))
        return "trace_rows.finite_where_valid"
    if case == "mask disagrees with padding":
        s = np.load(tr / "samples/valid_steps.npy")
        r, k = np.argwhere(s)[5]
        _edit_npy(tr / "samples/valid_steps.npy", lambda a: _set(a, (r, k), False))
        return "trace_rows.neginf_where_invalid"
    if case == "keypoint outside the image":
        _edit_npy(tr / "samples/keypoints.npy", lambda a: _set(a, (3, 0), 500.0))
        return "trace_rows.keypoint_inside_image"
    if case == "depth negative":
        _edit_npy(raw / "depth.npy", lambda a: _set(a, (2, 3, 4), -1.0))
        _restamp(raw)
        return "raw.depth_nonnegative"
    if case == "K singular":
        _edit_npz(raw / "cameras.npz", "intrinsics", lambda a: _set(a, 4, 0.0))
        _restamp(raw)
        return "raw.K_valid"
    if case == "missing caption":
        c = json.loads((tr / "captions.json").read_text())
        c["chunk_texts"] = c["chunk_texts"][:1]
        c["chunk_texts"][0]["end_idx"] = 2
        (tr / "captions.json").write_text(json.dumps(c))
        return "trace_frames.caption_covered"
    if case == "empty caption":
        c = json.loads((tr / "captions.json").read_text())
        c["chunk_texts"][0]["instruction_2"] = " "
        (tr / "captions.json").write_text(json.dumps(c))
        return "trace_episodes.captions_nonempty"
    if case == "changed bytes":
        _edit_npy(raw / "images.npy", lambda a: _set(a, (0, 0, 0, 0), a[0, 0, 0, 0] ^ 1))
        return "raw.hash_ok"
    if case == "actions out of bounds":
        _edit_npz(raw / "robot.npz", "actions", lambda a: _set(a, (1, 0), 3.0))
        _restamp(raw)
        return "raw.actions_in_bounds"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["NaN in traj", "mask disagrees with padding", "keypoint outside the image",
                                  "depth negative", "K singular", "missing caption", "empty caption",
                                  "changed bytes", "actions out of bounds"])
def test_each_corruption_fails_its_expectation_for_that_episode_only(data, case):
    before = {e: content_hash(data / "raw" / e) for e in EPISODES if e != "box-b"}
    expected = _corrupt(data, case)
    report = _validate(data)
    failed = {c["name"]: c for c in report["checks"] if not c["success"]}
    assert set(failed) == {expected}, sorted(failed)
    assert failed[expected]["episodes"] == ["box-b"] and failed[expected]["unexpected_count"] >= 1
    assert report["success"] and list(report["quarantined"]) == ["box-b"]
    assert "box-b" not in report["accepted_episodes"] and len(report["accepted_episodes"]) == 4
    [note] = read_quarantine(data / "quarantine")
    assert note["episode_id"] == "box-b" and expected in note["reason"]
    assert {e: content_hash(data / "raw" / e) for e in before} == before  # nothing else touched
    md = report_io.markdown(report)
    assert expected in md and "box-b" in md and "rows failed" in md


def test_depth_scale_shift_is_drift_and_fails_the_gate(data):
    assert _validate(data, accept=True)["success"]
    for e in EPISODES:  # every trace now claims 1.5× the depth: a unit or calibration change upstream
        _edit_npy(data / "traces" / e / "samples/traj.npy", lambda a: np.where(
            np.isfinite(a[..., 2:3]), a * np.array([1, 1, 1.5], np.float16), a).astype(np.float16))
    report = _validate(data)
    assert not report["success"]
    assert any(c.startswith("drift.depth") for c in report["critical_failures"])
    assert report["quarantined"] == {} and report["accepted_episodes"] == []
    assert not (data / "quarantine").exists() or not read_quarantine(data / "quarantine")


def test_systemic_failure_fails_the_gate_instead_of_quarantining_everything(data):
    for e in EPISODES:
        _edit_npz(data / "raw" / e / "cameras.npz", "intrinsics", lambda a: _set(a, 0, 0.0))
    report = _validate(data)
    assert not report["success"] and any("systemic" in c for c in report["critical_failures"])
    assert report["quarantined"] == {}


def test_no_data_is_critical(tmp_path):
    (tmp_path / "raw").mkdir()
    report = validate(tmp_path / "raw", None, CFG, tmp_path / "q")
    assert not report["success"] and any("episodes_present" in c for c in report["critical_failures"])
