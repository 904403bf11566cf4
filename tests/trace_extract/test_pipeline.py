"""The whole of TraceExtract on tiny episodes: the released layout, skipping, and every bad input."""

import json
import shutil

import numpy as np
import pytest

from mu0.config import TraceExtractConfig
from mu0.episodes import open_episode, write_episode
from mu0.episodes.quarantine import read_quarantine
from mu0.episodes.trace_layout import read_samples
from mu0.trace_extract.pipeline import extract_episode
from mu0.trace_extract.stage import extract

from .synthetic import sliding_box_scene

CFG = TraceExtractConfig(future_len=16, history_len=8, query_stride=3, max_points_per_frame=64, min_coverage=0.2)


@pytest.fixture
def raw(tmp_path):
    root = tmp_path / "raw"
    write_episode(sliding_box_scene(), root)
    return root


def _run(raw_dir, tmp_path, cfg=CFG):
    return extract(raw_dir, tmp_path / "traces", tmp_path / "q", cfg)


def test_sliding_box_traces_follow_the_box(raw, tmp_path):
    [outcome] = _run(raw, tmp_path)
    assert outcome.status == "written", outcome
    out = tmp_path / "traces" / "synthetic-box"
    ep = open_episode(out, verify_hash=True)  # a trace episode is an episode too
    s = read_samples(out)
    n = s["offsets"][-1]
    assert s["offsets"][0] == 0 and np.all(np.diff(s["offsets"]) > 0)
    assert len(s["frame_indices"]) == len(s["offsets"]) - 1
    assert s["traj"].shape == (n, 16, 3) and s["traj_history"].shape == (n, 8, 3) and s["traj"].dtype == np.float16
    assert s["raw_traj"].shape == (n, 16, 3) and s["valid_steps"].shape == (n, 16)
    # index 0 of every window is the query frame: the keypoint itself, at its depth
    np.testing.assert_allclose(s["traj"][:, 0, :2], s["keypoints"], atol=0.07)
    np.testing.assert_allclose(s["traj_history"][:, 0], s["traj"][:, 0], atol=1e-3)
    assert np.all(s["valid_steps"][:, 0])
    assert np.all(np.isneginf(s["traj"][~s["valid_steps"]])) and np.all(np.isfinite(s["traj"][s["valid_steps"]]))
    # box points move right at 0.6 px per frame at 0.9 m; wall points do not move
    z0 = s["traj"][:, 0, 2].astype(np.float32)
    on_box = np.abs(z0 - 0.9) < 0.01
    assert on_box.sum() > 50 and np.all(on_box | (np.abs(z0 - 1.2) < 0.01))
    moving = s["is_moving"]
    assert moving[on_box].mean() > 0.95 and on_box[moving].mean() > 0.9  # a few wall points at the box edge
    raw_ok = s["raw_valid_steps"][on_box, 5]
    dx = (s["raw_traj"][on_box, 5, 0] - s["raw_traj"][on_box, 0, 0]).astype(np.float32)[raw_ok]
    assert np.median(dx) == pytest.approx(3.0, abs=0.3)
    assert (s["cluster_ids"][on_box] == 1).mean() > 0.95 and np.all(s["cluster_ids"][~moving] == 0)
    captions = json.loads((out / "captions.json").read_text())
    assert captions["chunk_texts"] and all(c["instruction_1"] and c["instruction_3"] for c in captions["chunk_texts"])
    covered = np.zeros(ep.num_frames, bool)
    for c in captions["chunk_texts"]:
        covered[c["start_idx"]: c["end_idx"] + 1] = True
    assert covered.all()
    assert "to the right" in captions["chunk_texts"][0]["instruction_2"]
    assert captions["merged_texts"][-1]["instruction_1"] == "slide the box to the right"


def test_rerun_skips_unchanged_and_redoes_a_changed_config(raw, tmp_path):
    assert _run(raw, tmp_path)[0].status == "written"
    assert _run(raw, tmp_path)[0].status == "unchanged"
    changed = TraceExtractConfig(**{**CFG.__dict__, "future_len": 12})
    assert _run(raw, tmp_path, changed)[0].status == "replaced"
    assert read_samples(tmp_path / "traces" / "synthetic-box")["traj"].shape[1] == 12


def test_episode_without_depth_gives_2d_traces_with_z_invalid(tmp_path):
    write_episode(sliding_box_scene(depth=False, episode_id="flat"), tmp_path / "raw")
    [o] = _run(tmp_path / "raw", tmp_path)
    assert o.status == "written" and o.stats["z_valid"] is False
    s = read_samples(tmp_path / "traces" / "flat")
    assert np.all(np.isneginf(s["traj"][..., 2])) and np.isfinite(s["traj"][s["valid_steps"]][:, :2]).all()


def test_depth_holes_are_tolerated(tmp_path):
    ep = sliding_box_scene(episode_id="holes")
    rng = np.random.default_rng(0)
    ep.depth[rng.random(ep.depth.shape) < 0.1] = 0.0  # 10% of depth readings missing
    write_episode(ep, tmp_path / "raw")
    [o] = _run(tmp_path / "raw", tmp_path)
    assert o.status == "written"
    s = read_samples(tmp_path / "traces" / "holes")
    assert np.isfinite(s["traj"][:, 0, 2].astype(np.float32)).all()


@pytest.mark.parametrize("case", ["no motion", "textureless", "too short", "camera jump", "NaN intrinsics"])
def test_bad_episodes_are_quarantined_with_a_reason_and_the_rest_go_on(tmp_path, case):
    root = tmp_path / "raw"
    write_episode(sliding_box_scene(episode_id="good"), root)
    if case == "no motion":
        write_episode(sliding_box_scene(episode_id="bad", moving=False), root)
        reason = "no motion"
    elif case == "textureless":  # one flat grey everywhere, depth intact: nothing to track, said so
        flat = sliding_box_scene(episode_id="bad")
        flat.images[:] = 128
        write_episode(flat, root)
        reason = "too little trackable texture"
    elif case == "too short":
        write_episode(sliding_box_scene(t=4, episode_id="bad"), root)
        reason = "4 frames is too short"
    elif case == "camera jump":
        a, b = sliding_box_scene(t=20, episode_id="bad"), sliding_box_scene(t=20, episode_id="b")
        a.images[10:] = np.roll(b.images[10:], (17, 23), axis=(1, 2))[:, ::-1]  # a cut to another view
        write_episode(a, root)
        reason = "camera jumps"
    else:
        write_episode(sliding_box_scene(episode_id="bad"), root)
        path = root / "bad" / "cameras.npz"
        with np.load(path) as cams:
            data = {k: cams[k] for k in cams.files}
        data["intrinsics"][3, 0, 0] = np.nan
        np.savez(path, **data)
        reason = "intrinsics"
    outcomes = {o.episode_id: o for o in _run(root, tmp_path)}
    assert outcomes["good"].status == "written"
    assert outcomes["bad"].status == "quarantined"
    [note] = read_quarantine(tmp_path / "q")
    assert note["episode_id"] == "bad" and reason in note["reason"], note["reason"]
    assert not (tmp_path / "traces" / "bad").exists()


def test_metaworld_episodes_trace_in_both_cameras(metaworld_episodes, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(metaworld_episodes, raw)
    outcomes = _run(raw, tmp_path, TraceExtractConfig(future_len=32, history_len=8, min_coverage=0.2))
    assert [o.status for o in outcomes] == ["written", "written"], outcomes
    for o in outcomes:
        assert o.stats["moving_tracks"] > 0 and o.stats["poses"] == "given"


def test_estimated_poses_are_written_when_the_episode_has_none(tmp_path):
    ep = sliding_box_scene(episode_id="nopose")
    ep.meta["camera_poses"] = "unknown"
    write_episode(ep, tmp_path / "raw")
    o = extract_episode(tmp_path / "raw" / "nopose", tmp_path / "traces", tmp_path / "q", CFG)
    assert o.status == "written" and o.stats["poses"] == "estimated"
    trace = open_episode(tmp_path / "traces" / "nopose")
    np.testing.assert_allclose(trace.extrinsics, np.eye(4)[None].repeat(trace.num_frames, 0), atol=5e-3)
