"""Fine-tuning: what it refuses (unlabelled episodes, an incompatible μ_0 or trace protocol, a wrong action size) and
what it writes."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch

from mu0.config import RolloutConfig, TrackTransformerConfig
from mu0.episodes.writer import write_episode
from mu0.models.baselines.track_transformer import TrackTransformer
from mu0.models.checkpoint import CheckpointError
from mu0.models.world_model import Mu0WorldModel
from mu0.traces.protocol import PROTOCOL_FILE, ProtocolMismatchError, TraceProtocol
from mu0.training.action_data import MissingActionLabelsError, select_demos
from mu0.training.finetune import finetune
from tests.policies import DATA, POLICY, TRAIN, WORLD, save_world_model


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    return save_world_model(tmp_path_factory.mktemp("mu0") / "model")


def test_episodes_without_action_labels_are_named(tmp_path, episode_factory):
    for i, robot in enumerate([True, False, False]):
        ep = episode_factory(f"ep-{i}", robot=robot, seed=i)
        ep.meta["camera"] = "front"
        write_episode(ep, tmp_path)
    with pytest.raises(MissingActionLabelsError, match=r"2 episode\(s\) have no action labels.*ep-1, ep-2"):
        select_demos(tmp_path, DATA)


def test_demos_per_task_takes_the_lowest_seeds_of_the_policy_camera(tmp_path, episode_factory):
    for seed in (5, 3, 9):
        for camera in ("front", "side"):
            ep = episode_factory(f"ep-{seed}-{camera}", seed=seed)
            ep.meta.update(camera=camera, seed=seed)
            write_episode(ep, tmp_path)
    chosen = select_demos(tmp_path, dataclasses.replace(DATA, demos_per_task=2))
    assert [p.name for p in chosen] == ["ep-3-front", "ep-5-front"]


def test_an_incompatible_world_model_is_refused_with_the_file_named(metaworld_episodes, world_dir, tmp_path):
    other = tmp_path / "track"
    TrackTransformer(TrackTransformerConfig.like(WORLD)).save_pretrained(other)
    with pytest.raises(CheckpointError, match="holds a 'track-transformer' model, not a 'mu0' model"):
        finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, TRAIN, world_model=other)
    resized = tmp_path / "resized"
    shutil.copytree(world_dir, resized)
    config = json.loads((resized / "config.json").read_text())
    config["expert"]["width"] = 48  # the config no longer fits the weights
    (resized / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model.safetensors: weights do not fit the config"):
        finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, TRAIN, world_model=resized)
    assert not (tmp_path / "out" / "model").exists()


def test_an_init_policy_built_for_another_world_model_lists_the_differences(metaworld_episodes, world_dir, tmp_path):
    first = finetune(metaworld_episodes, tmp_path / "a", dataclasses.replace(POLICY, chunk=2), DATA, TRAIN,
                     world_model=world_dir)
    with pytest.raises(CheckpointError, match="chunk"):
        finetune(metaworld_episodes, tmp_path / "b", POLICY, DATA, TRAIN, world_model=world_dir,
                 init_from=first.model_dir)


def test_actions_that_do_not_match_the_policy_size_are_refused(metaworld_episodes, world_dir, tmp_path):
    with pytest.raises(ValueError, match=r"robot.npz: actions has shape \(\d+, 4\), the policy expects \(T, 7\)"):
        finetune(metaworld_episodes, tmp_path / "out", dataclasses.replace(POLICY, action_dim=7), DATA, TRAIN,
                 world_model=world_dir)


def test_a_weight_average_asked_of_finetuning_is_refused_not_ignored(metaworld_episodes, world_dir, tmp_path):
    with pytest.raises(ValueError, match="finetune.ema-decay"):
        finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, dataclasses.replace(TRAIN, ema_decay=0.9),
                 world_model=world_dir)
    assert not (tmp_path / "out").exists()


def test_zero3_is_refused_for_a_trace_policy_before_anything_is_written(metaworld_episodes, world_dir, tmp_path):
    with pytest.raises(ValueError, match="finetune.zero-stage 3: a trace policy's frozen μ_0"):
        finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, dataclasses.replace(TRAIN, zero_stage=3),
                 world_model=world_dir)
    assert not (tmp_path / "out").exists()


def test_demonstrations_on_the_validation_seeds_are_refused_before_training(metaworld_episodes, world_dir,
                                                                               tmp_path):
    with pytest.raises(ValueError, match=r"demonstrations with seeds \[0\], which validation rollouts would reuse"):
        finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, TRAIN, world_model=world_dir,
                 reserved_seeds=range(0, 3))
    assert not (tmp_path / "out").exists()


def test_trace_finetuning_keeps_mu0_frozen_and_records_its_demonstrations(metaworld_episodes, world_dir, tmp_path):
    result = finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, TRAIN, world_model=world_dir)
    folder = result.model_dir
    assert {p.name for p in folder.iterdir()} >= {"config.json", "model.safetensors", "train_config.json",
                                                 "delta_stats.json"}
    assert result.steps == 6 and np.isfinite(result.losses).all() and set(result.trace_reading) == {"trace_gate"}
    record = json.loads((folder / "train_config.json").read_text())
    assert record["demos"]["pick-place-v3"]["seeds"] == [0] and record["image_size"] == 64
    from mu0.models.action_expert import ActionExpert

    policy = ActionExpert.from_pretrained(folder)
    source = Mu0WorldModel.from_pretrained(world_dir).state_dict()
    for k, v in policy.world.state_dict().items():
        torch.testing.assert_close(v, source[k])
    assert not torch.allclose(policy.proprio_std, torch.ones(4))  # standardised with the demos' statistics


def test_a_world_model_of_another_trace_protocol_is_refused_for_a_trace_policy(metaworld_episodes, world_dir,
                                                                               tmp_path):
    trained_with = tmp_path / "mu0-a"
    shutil.copytree(world_dir, trained_with)
    TraceProtocol(0.0125, 0.02, WORLD.horizon, WORLD.history).save(trained_with)
    first = finetune(metaworld_episodes, tmp_path / "a", POLICY, DATA, TRAIN, world_model=trained_with)
    assert TraceProtocol.load(first.model_dir) == TraceProtocol.load(trained_with)  # the policy records it
    other = tmp_path / "mu0-b"
    shutil.copytree(world_dir, other)
    TraceProtocol(0.05, 0.02, WORLD.horizon, WORLD.history).save(other)
    with pytest.raises(ProtocolMismatchError, match=rf"{PROTOCOL_FILE}: .*mu0-b.*retarget_interval: 0.0125 != 0.05"):
        finetune(metaworld_episodes, tmp_path / "b", POLICY, DATA, TRAIN, world_model=other, init_from=first.model_dir)
    assert not (tmp_path / "b" / "model").exists()
    again = finetune(metaworld_episodes, tmp_path / "c", POLICY, DATA, TRAIN, world_model=trained_with,
                     init_from=first.model_dir)  # the same protocol goes on
    assert again.steps == TRAIN.steps


def test_a_trace_policy_started_from_another_keeps_that_policys_mu0_and_its_records(metaworld_episodes, world_dir,
                                                                                    tmp_path):
    pretrained = tmp_path / "mu0-a"
    shutil.copytree(world_dir, pretrained)
    TraceProtocol(0.0125, 0.02, WORLD.horizon, WORLD.history).save(pretrained)
    (pretrained / "train_config.json").write_text(json.dumps({"data": {"holdout_tasks": ["window-close-v3"]}}))
    first = finetune(metaworld_episodes, tmp_path / "a", POLICY, DATA, TRAIN, world_model=pretrained)
    second = finetune(metaworld_episodes, tmp_path / "b", POLICY, DATA, TRAIN, init_from=first.model_dir)
    for name in (PROTOCOL_FILE, "delta_stats.json"):
        assert (second.model_dir / name).read_text() == (pretrained / name).read_text(), name
    record = json.loads((second.model_dir / "train_config.json").read_text())
    assert record["world_holdout_tasks"] == ["window-close-v3"]
    other = save_world_model(tmp_path / "mu0-other", seed=1)  # the same shape, other weights
    with pytest.raises(ValueError, match=r"its μ_0 differs from the one in .*mu0-other"):
        finetune(metaworld_episodes, tmp_path / "c", POLICY, DATA, TRAIN, world_model=other, init_from=first.model_dir)


def test_success_vs_steps_rolls_snapshots_out_on_validation_seeds_and_leaves_training_as_it_was(
        metaworld_episodes, world_dir, tmp_path):
    from mu0.stages.finetune import FinetuneArgs, validation_rollouts
    from tests.training.test_pretrain import RecordingTracker

    args = FinetuneArgs(val_episodes_per_task=1, rollout=RolloutConfig(tasks=("pick-place-v3",), max_steps=4,
                                                                       execute=2, workers=1))
    evaluate, seen = validation_rollouts(args), []

    def on_snapshot(folder, step):
        seen.append((step, {p.name for p in folder.iterdir()}))
        return evaluate(folder, step)

    policy, train = dataclasses.replace(POLICY, trace_tokens="both"), dataclasses.replace(TRAIN, val_every=4)
    tracker = RecordingTracker()
    result = finetune(metaworld_episodes, tmp_path / "out", policy, DATA, train, world_model=world_dir,
                      tracker=tracker, on_snapshot=on_snapshot)
    assert [step for step, _ in seen] == [4, 6] and list(result.val_curve) == [4, 6]  # every 4 steps and the end
    assert all({"model.safetensors", "train_config.json"} <= names for _, names in seen)
    assert not any((tmp_path / "out" / "snapshots").iterdir())  # scored, then removed
    for point in result.val_curve.values():
        assert 0.0 <= point["val_success"] <= 1.0 and "val_success_pick-place-v3" in point
        assert {"trace_gate", "waypoint_attention", "waypoint_uniform_share"} <= set(point)
    assert {step for step, m in tracker.metrics if "val_success" in m} == {4, 6}
    plain = finetune(metaworld_episodes, tmp_path / "plain", policy, DATA, train, world_model=world_dir)
    assert plain.losses == result.losses and plain.val_curve == {}
    with pytest.raises(ValueError, match="overlap the final evaluation's seeds"):
        validation_rollouts(dataclasses.replace(args, val_seed=100_005))
    assert validation_rollouts(dataclasses.replace(args, val_episodes_per_task=0)) is None


def test_a_wrist_policy_pairs_each_demo_with_its_wrist_episode_and_rolls_out_with_both_cameras(
        metaworld_episodes, world_dir, tmp_path):
    from mu0.bundle.policy_bundle import PolicyRunner
    from mu0.episodes.reader import read_meta
    from mu0.evaluation.policy_rollout import RolloutJob, run_episode
    from mu0.training.action_data import ActionChunkDataset, wrist_views

    demos = select_demos(metaworld_episodes, DATA)
    views = wrist_views(demos, "gripperPOV")
    seed = read_meta(demos[0])["seed"]
    assert [(read_meta(v)["camera"], read_meta(v)["seed"]) for v in views] == [("gripperPOV", seed)]
    sample = ActionChunkDataset(demos, 4, 4, 4, views)[3]
    np.testing.assert_array_equal(sample["wrist_image"].permute(1, 2, 0).numpy(), np.load(views[0] / "images.npy")[3])
    with pytest.raises(ValueError, match="no 'topdown' episode of the same task and seed for the wrist view"):
        wrist_views(demos, "topdown")
    result = finetune(metaworld_episodes, tmp_path / "out", dataclasses.replace(POLICY, wrist_tokens=2), DATA, TRAIN,
                      world_model=world_dir)
    runner = PolicyRunner(result.model_dir)
    assert runner.processor.wrist_camera == "gripperPOV"
    seen = []
    plan = runner.plan
    runner.plan = lambda frame, proprio, text, wrist=None: seen.append(wrist) or plan(frame, proprio, text, wrist)
    outcome = run_episode(RolloutJob("pick-place-v3", 100_000, 4, 2), runner)
    assert outcome.error is None and outcome.length == 4 and len(seen) == 2
    assert all(w is not None and w.shape == (64, 64, 3) for w in seen)  # the wrist camera, rendered at each plan


def test_finetuning_stopped_at_a_checkpoint_resumes_to_the_same_loss_curve(metaworld_episodes, world_dir, tmp_path):
    train = dataclasses.replace(TRAIN, checkpoint_every=3)
    full = finetune(metaworld_episodes, tmp_path / "full", POLICY, DATA, train, world_model=world_dir)
    first = finetune(metaworld_episodes, tmp_path / "split", POLICY, DATA, train, world_model=world_dir, stop_after=3)
    second = finetune(metaworld_episodes, tmp_path / "split", POLICY, DATA, train, world_model=world_dir)
    assert (first.steps, second.resumed_from, second.steps) == (3, 3, 6)
    np.testing.assert_allclose(first.losses + second.losses, full.losses, rtol=1e-5)


def test_reusing_mu0s_forecasts_across_epochs_leaves_the_loss_curve_as_it_was(metaworld_episodes, world_dir, tmp_path):
    from mu0.training.action_data import ActionChunkDataset

    demos = select_demos(metaworld_episodes, DATA)
    assert {"episode", "frame"} <= set(ActionChunkDataset(demos, 4, 4, 4, sample_ids=True)[5])
    assert not {"episode", "frame"} & set(ActionChunkDataset(demos, 4, 4, 4)[5])
    train = dataclasses.replace(TRAIN, steps=12)  # more draws than samples: later batches reuse forecasts
    cfg = dataclasses.replace(POLICY, trace_tokens="both")
    reused = finetune(metaworld_episodes, tmp_path / "reused", cfg, DATA, train, world_model=world_dir)
    read = finetune(metaworld_episodes, tmp_path / "read", cfg, dataclasses.replace(DATA, reuse_forecasts=False),
                    train, world_model=world_dir)
    assert reused.samples < 12 * train.micro_batch
    np.testing.assert_allclose(reused.losses, read.losses, rtol=1e-5)


def test_a_hand_query_policy_finds_the_hand_in_every_demo_frame_and_rolls_out_through_its_recorded_calibration(
        metaworld_episodes, world_dir, tmp_path):
    from mu0.bundle.policy_bundle import PolicyRunner
    from mu0.evaluation.policy_rollout import RolloutJob, run_episode
    from mu0.sources.metaworld import make_env
    from mu0.sources.metaworld_cameras import make_camera
    from mu0.sources.mujoco_render import RgbdRenderer
    from mu0.training.action_data import ActionChunkDataset, camera_calibration, wrist_views

    demos = select_demos(metaworld_episodes, DATA)
    dataset = ActionChunkDataset(demos, 4, 4, 4, hand_xyz=(0, 1, 2))
    names = list(np.load(demos[0] / "gt/bodies.npz")["names"])
    ids, frames = np.load(demos[0] / "gt/body_ids.npy"), np.load(demos[0] / "gt/body_id_frames.npy")
    for q, t in enumerate(frames):  # the hand's pixel lies between the finger pads the simulator drew there
        x, y = np.round((dataset[int(t)]["hand_uv"].numpy() + 1) * 32 - 0.5).astype(int)
        near = {names[i] for i in ids[q, y - 2:y + 3, x - 2:x + 3].ravel() if i >= 0}
        assert near & {"leftpad", "rightpad"}, (t, near)
    with pytest.raises(ValueError, match="one static, calibrated camera"):
        camera_calibration(wrist_views(demos, "gripperPOV"))  # the wrist camera moves
    cfg = dataclasses.replace(POLICY, trace_tokens="waypoints", waypoints=4, hand_queries=2)
    result = finetune(metaworld_episodes, tmp_path / "out", cfg, DATA, TRAIN, world_model=world_dir)
    runner = PolicyRunner(result.model_dir)
    env, obs = make_env("pick-place-v3", 100_000)
    with RgbdRenderer(env.model, 64, 64) as renderer:  # what rollouts render is the camera the policy recorded
        renderer.render_rgbd(env.data, make_camera("front", env.model))
        K, E = renderer.camera_matrices()
    env.close()
    calibration = json.loads((result.model_dir / "train_config.json").read_text())["camera_calibration"]
    np.testing.assert_allclose(calibration["intrinsics"], K, atol=1e-4)
    np.testing.assert_allclose(calibration["extrinsics"], E, atol=1e-4)
    proprio = np.load(demos[0] / "robot.npz")["proprio"][5]
    np.testing.assert_allclose(runner.processor.hand_uv(proprio, (0, 1, 2)), dataset[5]["hand_uv"].numpy(), atol=1e-5)
    outcome = run_episode(RolloutJob("pick-place-v3", 100_000, 4, 2), runner)
    assert outcome.error is None and outcome.length == 4
    assert "waypoint_attention" in outcome.trace_reading
    _, tracks = runner.plan(np.zeros((64, 64, 3), np.uint8), obs[:4], "pick up the puck")
    assert tracks.shape[0] == POLICY.grid ** 2 + 4  # the grid's tracks, then the hand's


def test_a_policy_rolls_out_with_the_goal_marker_exactly_when_its_demonstrations_showed_it(
        metaworld_episodes, world_dir, tmp_path):
    from mu0.bundle.policy_bundle import PolicyRunner
    from mu0.evaluation.policy_rollout import RolloutJob, run_episode
    from mu0.training.action_data import goal_marker

    demos = select_demos(metaworld_episodes, DATA)
    assert goal_marker(demos) is False  # ingested without it
    marked = tmp_path / "marked" / demos[0].name
    shutil.copytree(demos[0], marked)
    meta = json.loads((marked / "meta.json").read_text())
    (marked / "meta.json").write_text(json.dumps({**meta, "goal_marker": True}))
    with pytest.raises(ValueError, match="goal_marker is True"):
        goal_marker([*demos, marked])
    result = finetune(metaworld_episodes, tmp_path / "out", POLICY, DATA, TRAIN, world_model=world_dir)
    assert json.loads((result.model_dir / "train_config.json").read_text())["goal_marker"] is False
    runner = PolicyRunner(result.model_dir)
    seen, plan = {}, runner.plan

    def remember_first_frame(frame, *args):
        seen.setdefault(runner.processor.goal_marker, frame)
        return plan(frame, *args)

    runner.plan = remember_first_frame
    for shown in (False, True):  # as a policy trained on marked demonstrations records it
        runner.processor = dataclasses.replace(runner.processor, goal_marker=shown)
        assert run_episode(RolloutJob("pick-place-v3", 100_000, 1, 1), runner).error is None
    drawn = np.abs(seen[True].astype(int) - seen[False].astype(int)).sum(-1) > 30
    assert 0 < drawn.sum() < 100  # the blue sphere where pick-place's puck must go, nothing else
