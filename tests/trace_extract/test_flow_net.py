"""The learned flow (flow/): camera flow, ground-truth pairs, weights on disk, and a tiny network trained on
sliding boxes that then tracks a box of another speed, whose true motion is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from mu0.config import ConfigError, FlowTrainConfig, TraceExtractConfig
from mu0.episodes import open_episode, write_episode
from mu0.trace_extract.alignment import DepthPoseGeometry
from mu0.trace_extract.flow.camera_flow import camera_flow
from mu0.trace_extract.flow.network import FlowNet, FlowNetConfig, load_flow_net, save_flow_net
from mu0.trace_extract.flow.pairs import episode_pairs
from tests.trace_extract.synthetic import F, sliding_box_with_truth

TINY = FlowNetConfig(widths=(8, 12, 16))


def test_camera_flow_is_zero_for_a_still_camera_and_f_dx_over_z_for_a_sliding_one():
    t, h, w = 3, 16, 20
    depth = np.full((t, h, w), 2.0, np.float32)
    depth[:, :, :5] = 0.0  # no depth: no camera flow
    K = np.repeat(np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])[None], t, 0)
    T_wc = np.repeat(np.eye(4)[None], t, 0)
    T_wc[2, 0, 3] = 0.1  # frame 2's camera stands 10 cm to the right
    geometry = DepthPoseGeometry(depth, K, T_wc, 0, 0.02)
    still, slid = camera_flow(geometry, 0, 1, h, w), camera_flow(geometry, 0, 2, h, w)
    assert np.isnan(still[:, :5]).all() and np.isnan(slid[:, :5]).all()
    np.testing.assert_allclose(still[:, 5:], 0.0, atol=1e-4)
    np.testing.assert_allclose(slid[:, 5:, 0], -F * 0.1 / 2.0, atol=1e-3)  # the world slides left
    np.testing.assert_allclose(slid[:, 5:, 1], 0.0, atol=1e-3)


def test_pairs_hold_the_box_motion_and_the_uncovered_wall(tmp_path):
    write_episode(sliding_box_with_truth(t=10, speed_px=1.0), tmp_path)
    ep = open_episode(tmp_path / "synthetic-box-gt")
    pairs = episode_pairs(ep, 0, (2,), 4, 1, 0.02)
    assert [(p.a, p.b) for p in pairs] == [(0, 2), (4, 6), (4, 2), (8, 6)]
    p = pairs[0]
    flow = p.true_flow.astype(np.float32)
    np.testing.assert_allclose(flow[25, 20], [2.0, 0.0], atol=0.01)  # on the box
    np.testing.assert_allclose(flow[5, 5], [0.0, 0.0], atol=0.01)  # the wall
    assert p.seen[25, 20] and p.seen[5, 5] and not p.seen[25, 35]  # the box covers the wall right of it
    np.testing.assert_allclose(p.cam_flow.astype(np.float32)[5:30, 5:30], 0.0, atol=1e-3)  # a still camera


def test_weights_round_trip_and_foreign_files_are_refused_by_name(tmp_path):
    import torch

    net = FlowNet(TINY)
    for prm in net.parameters():
        torch.nn.init.normal_(prm, std=0.1)
    save_flow_net(net, tmp_path / "net.safetensors", {"tasks": ["slide-box"]})
    loaded, info = load_flow_net(tmp_path / "net.safetensors")
    x = torch.randn(1, 13, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(x)[0], loaded(x)[0])
    assert info == {"tasks": ["slide-box"]} and loaded.cfg == TINY
    (tmp_path / "pickled.safetensors").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(ValueError, match="pickled.safetensors: not a flow network"):
        load_flow_net(tmp_path / "pickled.safetensors")
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_flow_net(tmp_path / "missing.safetensors")
    with pytest.raises(ConfigError, match="flow_weights"):
        TraceExtractConfig(motion="learned")


def test_training_refuses_held_out_tasks_by_file(tmp_path):
    from mu0.trace_extract.flow.training import load_pairs

    write_episode(sliding_box_with_truth(t=6, task="bin-picking-v3", source="metaworld"), tmp_path)
    with pytest.raises(ValueError, match="synthetic-box-gt: task bin-picking-v3 is reserved"):
        load_pairs([tmp_path / "synthetic-box-gt"], FlowTrainConfig())


@pytest.fixture(scope="module")
def box_flow_net(tmp_path_factory):
    """A tiny network trained on boxes sliding at 0.5, 1.0 and 2.0 px per frame."""
    import torch

    from mu0.episodes import list_episodes
    from mu0.trace_extract.flow.training import fit_flow_net, load_pairs

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("boxes")
    for i, speed in enumerate((0.5, 1.0, 2.0)):
        write_episode(sliding_box_with_truth(t=12, speed_px=speed, episode_id=f"box-{i}"), root)
    cfg = FlowTrainConfig(steps=1000, batch=4, lr=3e-3, gaps=(1, 2), source_every=1)
    frames, depths, pairs, _ = load_pairs(list_episodes(root), cfg, log=lambda m: None)
    net = fit_flow_net(frames, depths, pairs, cfg, TINY, log=lambda m: None)
    path = root / "net.safetensors"
    save_flow_net(net, path, {})
    return path


def test_a_tracker_on_the_trained_flow_follows_a_box_of_an_unseen_speed(box_flow_net):
    """1.5 px per frame was never shown; the box travels 28.5 px in 20 frames, the wall stays."""
    from mu0.trace_extract.flow.tracker import LearnedFlowTracker
    from mu0.trace_extract.keypoints import CornerGridSelector

    t, speed = 20, 1.5
    scene = sliding_box_with_truth(t=t, speed_px=speed)
    geometry = DepthPoseGeometry(scene.depth, scene.intrinsics.astype(np.float64), np.repeat(np.eye(4)[None], t, 0))
    box = np.array([[0, c, r] for c in (18.0, 22.0, 26.0) for r in (24.0, 30.0, 36.0)])
    wall = np.array([[0, 60.0, 10.0], [0, 70.0, 50.0], [0, 5.0, 5.0]])
    tracker = LearnedFlowTracker(CornerGridSelector(4, 0.002), 4, 400, 9, 2, 0.75, 100, 1.0,
                                 weights=box_flow_net, departure_window_px=3, confirm=2, leave_when_uncovered=True)
    tracks = tracker.track_queries(scene.images, np.concatenate([box, wall]), geometry)
    truth = box[:, 1:] + [(t - 1) * speed, 0.0]
    err_box = np.linalg.norm(tracks.uv_px[: len(box), -1] - truth, axis=1)
    assert tracks.visible[:, -1].all()
    assert np.median(err_box) < 1.5 and err_box.max() < 4.0, err_box  # 5% and 14% of the way
    np.testing.assert_allclose(tracks.uv_px[len(box):, -1], wall[:, 1:], atol=0.5)


def test_a_tracker_without_depth_and_poses_is_refused(box_flow_net):
    from mu0.trace_extract.flow.tracker import LearnedFlowTracker
    from mu0.trace_extract.keypoints import CornerGridSelector

    scene = sliding_box_with_truth(t=4)
    tracker = LearnedFlowTracker(CornerGridSelector(4, 0.002), 4, 400, 9, 2, 0.75, 100, weights=box_flow_net)
    with pytest.raises(ValueError, match="needs the episode's depth and camera poses"):
        tracker.track(scene.images, None)
