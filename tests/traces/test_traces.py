import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from mu0.config import TraceDataConfig
from mu0.traces.build import build_datasets
from mu0.traces.dataset import DEFAULT_INSTRUCTION, pick_instruction
from mu0.traces.normalize import compute_delta_stats, to_unit_uv, unit_deltas
from mu0.traces.split import UnknownHoldoutTaskError, split_episodes
from tests.trace_extract.synthetic import box_trace_dataset

CFG = TraceDataConfig(num_points=16, horizon=8, history=4, train_fraction=0.6, val_fraction=0.2)


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    return box_trace_dataset(tmp_path_factory.mktemp("traces"), 6, speed0=0.5, speed_step=0.1)


def test_split_is_deterministic_stable_and_keeps_rollouts_together():
    eps = {f"e{i}-{cam}": {"rollout_id": f"r{i}", "task": "a" if i % 5 else "b"} for i in range(200)
           for cam in ("front", "wrist")}
    s1 = split_episodes(eps, 0.8, 0.1, seed=1)
    assert s1 == split_episodes(dict(reversed(list(eps.items()))), 0.8, 0.1, seed=1)
    assert 0.7 < len(s1["train"]) / len(eps) < 0.9
    for name, ids in s1.items():  # both cameras of a rollout in the same split
        assert {e.replace("front", "wrist") for e in ids if "front" in e} <= set(ids), name
    more = dict(eps, **{f"new{i}": {} for i in range(50)})
    s2 = split_episodes(more, 0.8, 0.1, seed=1)
    assert all(set(s1[k]) <= set(s2[k]) for k in s1)  # new data never moves old episodes
    held = split_episodes(eps, 0.8, 0.1, seed=1, holdout_tasks=("b",))
    assert not any(eps[e]["task"] == "b" for e in held["train"] + held["val"])
    assert all(e in held["test"] for e in eps if eps[e]["task"] == "b")
    with pytest.raises(UnknownHoldoutTaskError, match=r"'window-close' \(did you mean 'window-close-v3'\?\)"):
        split_episodes(dict(eps, w={"task": "window-close-v3"}), 0.8, 0.1, holdout_tasks=("b", "window-close"))


def test_unit_coordinates_and_delta_statistics():
    np.testing.assert_allclose(to_unit_uv(np.array([[-0.5, -0.5], [63.5, 31.5]]), (32, 64)), [[-1, -1], [1, 1]])
    traj = np.zeros((100, 5, 3), np.float32)
    traj[:, :, 0] = np.arange(5)[None] * np.linspace(0, 1, 100)[:, None]  # x moves up to 4 px
    traj[:, :, 2] = 1.0
    valid = np.ones((100, 5), bool)
    d, ok = unit_deltas(traj.astype(np.float16), valid, (10, 20), horizon=4)
    assert ok.all() and np.allclose(d[-1, :, 0], np.arange(1, 5) * 2 / 20, atol=1e-3)
    stats = compute_delta_stats([(traj, valid, (10, 20))], horizon=4, percentile=95)
    assert stats.scale[0] == pytest.approx(np.percentile(np.abs(d[..., 0]), 95), rel=1e-3)
    assert stats.scale[2] == 1.0  # z never moves: scale by 1 rather than divide by ~0


def _held_out(datasets):
    return datasets["val"] if len(datasets["val"]) else datasets["test"]


def test_samples_have_fixed_shapes_masks_and_prefer_moving_points(traces):
    datasets, stats, splits = build_datasets(traces, CFG)
    assert sum(len(v) for v in splits.values()) == 6 and len(datasets["train"]) > 0
    item = _held_out(datasets)[0]
    assert item["image"].shape == (3, 64, 80) and item["image"].dtype == torch.uint8
    assert item["future"].shape == (16, 8, 3) and item["future_valid"].shape == (16, 8)
    assert item["history"].shape == (16, 4, 3) and item["points_uv"].shape == (16, 2)
    mask = item["point_mask"]
    assert mask.sum() == 16 and item["is_moving"][mask].float().mean() > 0.5  # the box comes first
    assert torch.all(item["future"][~item["future_valid"]] == 0)
    assert torch.equal(_held_out(datasets)[0]["future"], item["future"])  # evaluation samples are reproducible
    moving_future = item["future"][item["is_moving"] & mask][..., 0][item["future_valid"][item["is_moving"] & mask]]
    assert moving_future.mean() > 0  # the box moves right: positive normalised u deltas
    assert isinstance(item["instruction"], str) and item["instruction"]


def test_history_dropout_only_in_training(traces):
    cfg = TraceDataConfig(num_points=16, horizon=8, history=4, history_drop_all=1.0, train_fraction=0.6,
                          val_fraction=0.2)
    datasets, _, _ = build_datasets(traces, cfg)
    train = datasets["train"]
    assert not any(train[i]["history_valid"].any() for i in range(len(train)))
    held = _held_out(datasets)
    assert held[len(held) - 1]["history_valid"].any()  # a late frame has a past


def test_dataloader_with_workers(traces):
    datasets, _, _ = build_datasets(traces, CFG)
    loader = torch.utils.data.DataLoader(datasets["train"], batch_size=4, num_workers=2)
    batch = next(iter(loader))
    assert batch["future"].shape == (4, 16, 8, 3) and len(batch["instruction"]) == 4


def test_official_layout_without_meta_reads_too(traces, tmp_path):
    official = tmp_path / "official"
    for p in sorted(traces.iterdir())[:2]:
        if not (p / "samples").is_dir():
            continue
        shutil.copytree(p, official / p.name)
        (official / p.name / "meta.json").unlink()
        (official / p.name / "captions.json").rename(official / p.name / "curated_training_texts.json")
    datasets, stats, _ = build_datasets(official, CFG)
    item = next(iter(d for d in datasets.values() if len(d)))[0]
    assert item["future"].shape == (16, 8, 3) and item["instruction"]


def test_instruction_is_drawn_from_captions_covering_the_frame():
    captions = {"chunk_texts": [{"start_idx": 0, "end_idx": 4, "instruction_1": "a1", "instruction_2": "a2",
                                 "instruction_3": "a3"},
                                {"start_idx": 5, "end_idx": 9, "instruction_1": "b1", "instruction_2": "",
                                 "instruction_3": "b3"}], "merged_texts": []}
    rng = np.random.default_rng(0)
    assert {pick_instruction(captions, 7, [], rng) for _ in range(50)} == {"b1", "b3"}
    assert pick_instruction(captions, 20, ["episode goal"], rng) == "episode goal"
    assert pick_instruction({}, 3, [], rng) == DEFAULT_INSTRUCTION


def test_no_traces_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no trace episodes"):
        build_datasets(tmp_path, CFG)
    assert json.dumps(CFG.__dict__, default=str)


def test_delta_scale_can_be_the_scale_of_the_moving_rows():
    traj = np.zeros((100, 5, 3), np.float32)
    traj[:10, :, 0] = np.arange(5)[None] * 4.0  # ten rows move 4 px a step, ninety stand still
    valid, moving = np.ones((100, 5), bool), np.arange(100) < 10
    everything = compute_delta_stats([(traj, valid, (10, 20), moving)], horizon=4, percentile=50, rows="all")
    only_moving = compute_delta_stats([(traj, valid, (10, 20), moving)], horizon=4, percentile=50, rows="moving")
    assert everything.scale[0] == 1.0  # the median |Δu| over all rows is 0: no scale at all
    assert only_moving.scale[0] == pytest.approx(np.median(np.arange(1, 5) * 4.0 * 2 / 20), rel=1e-3)
    assert only_moving.samples == 10 * 4 and only_moving.rows == "moving"


def test_views_keep_moving_points_and_chosen_frames_and_the_gate_counts_valid_steps(traces):
    from mu0.traces.dataset import TraceDataset

    datasets, stats, _ = build_datasets(traces, dataclasses.replace(CFG, min_valid_steps=8))
    held = _held_out(datasets)
    moving = TraceDataset(held.paths, CFG, stats, train=False, moving_only=True, frames=(4, 8))
    assert 0 < len(moving) <= 2 * len(held.paths)
    for i in range(len(moving)):
        item = moving[i]
        assert int(item["frame"]) in (4, 8) and item["is_moving"][item["point_mask"]].all()
    item = held[0]
    assert torch.equal(item["trainable"], item["point_mask"] & (item["future_valid"].sum(-1) >= 8))


def test_history_is_scaled_like_the_future_when_asked(traces):
    plain, stats_plain, _ = build_datasets(traces, dataclasses.replace(CFG, scale_history=False))
    scaled, stats, _ = build_datasets(traces, CFG)
    assert stats.history_scaled and not stats_plain.history_scaled
    a, b = _held_out(plain)[len(_held_out(plain)) - 1], _held_out(scaled)[len(_held_out(scaled)) - 1]
    np.testing.assert_allclose(b["history"].numpy() * np.asarray(stats.scale, np.float32), a["history"].numpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_train_limit_takes_nested_subsets_of_whole_rollouts():
    from mu0.traces.split import limit_train

    eps = {f"r{i}-{cam}": {"rollout_id": f"r{i}"} for i in range(40) for cam in ("front", "wrist")}
    train = sorted(eps)
    small, large = limit_train(train, eps, 20), limit_train(train, eps, 40)
    assert len(small) == 20 and len(large) == 40 and set(small) <= set(large)
    assert {e.replace("front", "wrist") for e in small if "front" in e} <= set(small)  # cameras together
    assert limit_train(train, eps, 0) == train


def test_color_jitter_changes_training_images_only_reproducibly_and_keeps_the_targets(traces):
    cfg = dataclasses.replace(CFG, color_jitter=0.3)
    plain, _, _ = build_datasets(traces, CFG)
    jittered, _, _ = build_datasets(traces, cfg)
    a, b = plain["train"][(0, 0)], jittered["train"][(0, 0)]
    assert not torch.equal(a["image"], b["image"])
    assert (a["image"].float() - b["image"].float()).abs().mean() > 1  # a visible change, not rounding
    for key in ("points_uv", "future", "future_valid", "is_moving"):
        assert torch.equal(a[key], b[key]), key  # pixels do not move: the targets stay exact
    assert torch.equal(jittered["train"][(0, 0)]["image"], b["image"])  # the same draw for (index, epoch)
    held_plain, held_jittered = _held_out(plain), _held_out(jittered)
    assert torch.equal(held_plain[0]["image"], held_jittered[0]["image"])  # evaluation images are untouched


def test_color_jitter_keeps_a_grey_image_grey_and_zero_strength_is_the_identity():
    from mu0.traces.color_jitter import color_jitter

    grey = np.full((4, 5, 3), 100, np.uint8)
    out = color_jitter(grey, 0.3, np.random.default_rng(0))
    assert np.all(out == out[..., :1]) and out.dtype == np.uint8  # saturation has nothing to change
    image = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert color_jitter(image, 0.0, np.random.default_rng(0)) is image
