"""The groundtruth tracker: simulator-exact traces in the TraceExtract layout."""

import json

import numpy as np
import pytest

from mu0.config import TraceExtractConfig
from mu0.episodes import open_episode, write_episode
from mu0.trace_extract.groundtruth import track_query_pixels
from mu0.trace_extract.stage import extract
from tests.trace_extract.synthetic import sliding_box_scene

CFG = TraceExtractConfig(tracker="groundtruth", future_len=24, history_len=8, max_points_per_frame=64,
                         min_coverage=0.0)


@pytest.fixture(scope="module")
def gt_traces(metaworld_episodes, tmp_path_factory):
    out = tmp_path_factory.mktemp("gt") / "traces"
    outcomes = extract(metaworld_episodes, out, out.parent / "q", CFG)
    assert all(o.status == "written" for o in outcomes), outcomes
    return out


@pytest.mark.parametrize("camera", ["front", "gripperPOV"])
def test_raw_windows_are_the_simulator_truth_in_the_query_camera(metaworld_episodes, gt_traces, camera):
    name = f"mw-pick-place-v3-s00000-{camera}"
    raw, trace = open_episode(metaworld_episodes / name), gt_traces / name
    meta = json.loads((trace / "meta.json").read_text())
    assert meta["trace_source"] == "groundtruth" and meta["extract"]["stats"]["trace_source"] == "groundtruth"
    s = {k: np.load(trace / "samples" / f"{k}.npy") for k in ("frame_indices", "offsets", "keypoints", "raw_traj",
                                                              "raw_valid_steps", "visibs", "is_moving", "track_ids")}
    with np.load(trace / "tracks.npz") as tracks:
        seeds = np.rint(tracks["uv_px"][:, 0]).astype(np.int64)
    truth = track_query_pixels(raw, seeds)
    i = len(s["frame_indices"]) // 2
    t, a, b = int(s["frame_indices"][i]), int(s["offsets"][i]), int(s["offsets"][i + 1])
    rows = s["track_ids"][a:b]
    np.testing.assert_allclose(s["keypoints"][a:b], truth.uv_px[rows, t], atol=1e-3)
    E, K = raw.extrinsics[t].astype(np.float64), raw.intrinsics[t].astype(np.float64)  # frame t's camera
    steps = min(s["raw_traj"].shape[1], raw.num_frames - t)
    xyz_cam = truth.xyz_world[rows, t:t + steps] @ E[:3, :3].T + E[:3, 3]
    uv = (xyz_cam @ K.T)[..., :2] / xyz_cam[..., 2:3]
    ok = s["raw_valid_steps"][a:b, :steps]
    assert ok.mean() > 0.5  # positions are known through occlusions, not only where seen
    np.testing.assert_allclose(s["raw_traj"][a:b, :steps, :2].astype(np.float64)[ok], uv[ok], atol=0.1)
    np.testing.assert_allclose(s["raw_traj"][a:b, :steps, 2].astype(np.float64)[ok], xyz_cam[..., 2][ok], atol=2e-3)
    np.testing.assert_array_equal(s["visibs"][a:b, :steps], truth.visible[rows, t:t + steps])


def test_motion_labels_and_entities_are_the_true_moving_bodies(metaworld_episodes, gt_traces):
    name = "mw-pick-place-v3-s00000-front"
    with np.load(gt_traces / name / "tracks.npz") as tracks:
        moving, clusters, xyz = tracks["is_moving"], tracks["cluster_ids"], tracks["xyz_world"]
    span = np.linalg.norm(np.nanmax(xyz, axis=1) - np.nanmin(xyz, axis=1), axis=1)
    np.testing.assert_array_equal(moving, span > CFG.moving_threshold_m)
    assert moving.any() and (~moving).any()
    assert (clusters[~moving] == 0).all() and (clusters[moving] > 0).all()
    raw = open_episode(metaworld_episodes / name)
    body_ids = raw.body_ids[1][0]  # frame 0, where the tracks are seeded
    with np.load(gt_traces / name / "tracks.npz") as tracks:
        seeds = np.rint(tracks["uv_px"][:, 0]).astype(np.int64)
    bodies = body_ids[seeds[:, 1], seeds[:, 0]]
    for entity in np.unique(clusters[moving]):  # one entity is one body
        assert len(np.unique(bodies[clusters == entity])) == 1
    seen = np.unique(body_ids[(body_ids >= 0) & (np.asarray(raw.depth[0]) > 0)])
    assert set(seen) <= set(bodies)  # every body seen in frame 0 gets points, however small


def test_an_episode_without_ground_truth_is_refused_by_name_or_falls_back_when_asked(tmp_path):
    write_episode(sliding_box_scene(episode_id="video-like"), tmp_path / "raw")
    outcomes = extract(tmp_path / "raw", tmp_path / "traces", tmp_path / "q", CFG)
    assert outcomes[0].status == "quarantined"
    reason = outcomes[0].stats["reason"]
    assert "video-like" in reason and "gt/" in reason and "--tracker auto" in reason
    import dataclasses

    auto = dataclasses.replace(CFG, tracker="auto", min_coverage=0.2)
    outcomes = extract(tmp_path / "raw", tmp_path / "traces", tmp_path / "q", auto)
    assert outcomes[0].status == "written"
    meta = json.loads((tmp_path / "traces" / "video-like" / "meta.json").read_text())
    assert meta["trace_source"] == "lk"
