"""Closed-loop policy evaluation: Wilson intervals, failures that do not stop the run, refusals up front, and a
real parallel Meta-World rollout with its report and videos."""

import dataclasses

import numpy as np
import pytest
import torch

from mu0.bundle.policy_bundle import PolicyRunner
from mu0.config import RolloutConfig, TrainConfig
from mu0.evaluation.policy_eval import check_policies, evaluate_policies, markdown_table, wilson_interval
from mu0.evaluation.policy_rollout import RolloutJob, run_episode
from mu0.training.finetune import finetune
from tests.policies import DATA, POLICY, save_world_model

TRAIN = TrainConfig(steps=4, micro_batch=4, warmup_steps=1, log_every=2, lr=1e-3)


@pytest.fixture(scope="module")
def policy_dir(metaworld_episodes, tmp_path_factory):
    root = tmp_path_factory.mktemp("policy")
    world = save_world_model(root / "mu0")
    return finetune(metaworld_episodes, root / "trace", POLICY, DATA, TRAIN, world_model=world).model_dir


def test_wilson_interval_matches_known_values():
    np.testing.assert_allclose(wilson_interval(5, 10), (0.2366, 0.7634), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(0, 10), (0.0, 0.2775), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(10, 10), (0.7225, 1.0), atol=1e-4)
    assert np.isnan(wilson_interval(0, 0)[0])


# wilson_interval's outputs before it moved onto scipy's binomtest (hand-written formula, z = 1.959964)
WILSON_PINS = {(0, 1): (0.0, 0.7934506882081973), (1, 1): (0.2065493117918027, 1.0),
               (0, 10): (0.0, 0.2775328030260577), (3, 10): (0.10779126655639398, 0.6032218546540291),
               (10, 10): (0.7224671969739421, 0.9999999999999999), (1, 20): (0.008881448702335523, 0.23613119546428119),
               (13, 20): (0.4328542750684442, 0.818808176876017), (37, 50): (0.6044684262151608, 0.8412847256991044),
               (0, 100): (0.0, 0.03699349876899627), (99, 100): (0.9455138032509935, 0.9982325679553905)}


@pytest.mark.parametrize(("k", "n"), list(WILSON_PINS))
def test_wilson_interval_keeps_its_pinned_values(k, n):
    np.testing.assert_allclose(wilson_interval(k, n), WILSON_PINS[k, n], rtol=0, atol=1e-8)


class _FailingEnv:
    """A real Meta-World environment whose simulator raises at step `fail_at`."""

    def __init__(self, env, fail_at: int) -> None:
        self.env, self.fail_at, self.steps = env, fail_at, 0

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, action):
        self.steps += 1
        if self.steps == self.fail_at:
            raise RuntimeError("MuJoCo Warning: simulation is unstable")
        return self.env.step(action)


def test_an_environment_that_raises_mid_rollout_is_a_recorded_failure(policy_dir):
    from mu0.sources.metaworld import make_env

    def failing(task, seed):
        env, obs = make_env(task, seed)
        return _FailingEnv(env, 3), obs

    runner = PolicyRunner(policy_dir)
    broken = run_episode(RolloutJob("reach-v3", 100_000, 10, 2), runner, make_env=failing)
    assert not broken.success and broken.length == 2 and "RuntimeError: MuJoCo Warning" in broken.error
    fine = run_episode(RolloutJob("reach-v3", 100_000, 10, 2), runner)  # the next episode runs normally
    assert fine.error is None and fine.length == 10 and fine.plans == 5


def test_a_mu0_call_that_fails_mid_rollout_is_a_recorded_failure(policy_dir, monkeypatch):
    runner = PolicyRunner(policy_dir)
    calls = []

    def failing_trace_features(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("μ_0 forward failed")

    with monkeypatch.context() as patch:
        patch.setattr(runner.policy.world, "trace_features", failing_trace_features)
        broken = run_episode(RolloutJob("reach-v3", 100_000, 10, 2), runner)
    assert calls and not broken.success and broken.length == 0 and "RuntimeError: μ_0 forward failed" in broken.error
    fine = run_episode(RolloutJob("reach-v3", 100_001, 10, 2), runner)  # the evaluation goes on
    assert fine.error is None and fine.length == 10


def test_a_policy_whose_action_size_does_not_fit_the_environment_is_refused(policy_dir, tmp_path):
    from mu0.models.action_expert import ActionExpert

    policy = ActionExpert.from_pretrained(policy_dir)
    wrong = ActionExpert(dataclasses.replace(policy.cfg, action_dim=6))
    wrong.save_pretrained(tmp_path / "wrong")
    with pytest.raises(ValueError, match=r"wrong/config.json: the policy outputs 6-D actions but reach-v3's action "
                                         r"space is 4-D"):
        check_policies({"wrong": PolicyRunner(tmp_path / "wrong")}, ["reach-v3"], RolloutConfig())


def test_a_camera_the_scene_lacks_is_refused_before_any_rollout(policy_dir):
    runner = PolicyRunner(policy_dir)
    runner.processor = dataclasses.replace(runner.processor, wrist_camera="no-such-camera")
    with pytest.raises(ValueError, match=r"renders camera 'no-such-camera': unknown camera"):
        check_policies({"trace": runner}, ["reach-v3"], RolloutConfig())


def test_evaluation_seeds_must_differ_from_the_training_seeds(policy_dir):
    with pytest.raises(ValueError, match=r"trained on seeds \[0\]"):
        check_policies({"trace": PolicyRunner(policy_dir)}, ["pick-place-v3"], RolloutConfig(seed=0))


@pytest.mark.slow
def test_parallel_rollouts_report_success_with_intervals_and_save_trace_videos(policy_dir, tmp_path):
    cfg = RolloutConfig(tasks=("reach-v3", "pick-place-v3"), episodes_per_task=2, max_steps=12, execute=3,
                        workers=2, videos_per_task=1)
    report = evaluate_policies({"trace": policy_dir}, cfg, tmp_path / "videos")
    entry = report["policies"]["trace"]
    assert report["seeds"] == [100_000, 100_001] and len(entry["episodes"]) == 4
    assert [(e["task"], e["seed"]) for e in entry["episodes"]] == [
        ("reach-v3", 100_000), ("reach-v3", 100_001), ("pick-place-v3", 100_000), ("pick-place-v3", 100_001)]
    for task in cfg.tasks:
        s = entry["per_task"][task]
        assert s["episodes"] == 2 and 0.0 <= s["ci95"][0] <= s["success"] <= s["ci95"][1] <= 1.0
        assert s["errors"] == 0
    assert entry["control_ms_per_step"] > 0
    lo, hi = entry["mean_success_ci95"]
    assert 0.0 <= lo <= entry["mean_success"] <= hi <= 1.0 and entry["mean_success_ci95"] == entry["overall"]["ci95"]
    gate = float(np.tanh(PolicyRunner(policy_dir).policy.trace_gate.gate.detach().numpy()[0]))
    assert entry["trace_reading"] == {"trace_gate": pytest.approx(gate)}  # measured on the evaluated weights
    assert set(entry["trace_reading_at_training"]) == {"trace_gate"}  # and fine-tuning's record beside it
    videos = sorted(p.name for p in (tmp_path / "videos" / "trace").iterdir())
    assert videos == ["pick-place-v3-s100000.gif", "reach-v3-s100000.gif"]
    from PIL import Image

    with Image.open(tmp_path / "videos" / "trace" / "reach-v3-s100000.gif") as gif:
        assert gif.n_frames == next(e["length"] for e in entry["episodes"] if e["video"] and "reach" in e["video"])
    table = markdown_table(report)
    assert "| reach-v3 |" in table and "| how much the decoder reads μ_0 | trace_gate" in table


def test_an_episode_reads_mu0_from_the_weights_it_runs_not_from_the_training_record(policy_dir):
    runner = PolicyRunner(policy_dir)
    with torch.no_grad():
        runner.policy.trace_gate.gate.fill_(0.0)  # the gate closed after training: the record still says otherwise
    outcome = run_episode(RolloutJob("reach-v3", 100_000, 4, 2), runner)
    assert outcome.trace_reading == {"trace_gate": 0.0}
    assert runner.processor.trace_reading["trace_gate"] != 0.0


def test_tasks_held_out_of_mu0s_pretraining_are_reported_on_their_own_line(metaworld_episodes, tmp_path):
    import json

    world = save_world_model(tmp_path / "mu0")
    (world / "train_config.json").write_text(json.dumps({"data": {"holdout_tasks": ["pick-place-v3"]}}))
    folder = finetune(metaworld_episodes, tmp_path / "trace", POLICY, DATA, TRAIN, world_model=world).model_dir
    assert json.loads((folder / "train_config.json").read_text())["world_holdout_tasks"] == ["pick-place-v3"]
    cfg = RolloutConfig(tasks=("reach-v3", "pick-place-v3"), episodes_per_task=1, max_steps=3, execute=2, workers=1,
                        videos_per_task=0)
    report = evaluate_policies({"trace": folder}, cfg)
    assert report["heldout_tasks"] == ["pick-place-v3"]
    held = report["policies"]["trace"]["heldout"]
    assert held["episodes"] == 1 and held["success"] == report["policies"]["trace"]["per_task"]["pick-place-v3"][
        "success"]
    table = markdown_table(report)
    assert "| pick-place-v3 (held out of μ_0) |" in table and "| **held out of μ_0's pretraining** (pick-place-v3) |" \
        in table
