import dataclasses

import numpy as np
import pytest

from mu0.config import MetaWorldSourceConfig
from mu0.episodes import list_episodes, open_episode
from mu0.episodes.quarantine import read_quarantine
from mu0.sources.metaworld import MetaWorldRollout, all_tasks, resolve_tasks, rollout_jobs
from mu0.sources.metaworld_instructions import INSTRUCTIONS
from mu0.sources.stages import ingest_metaworld


def test_rollout_writes_one_complete_episode_per_camera(metaworld_episodes):
    paths = list_episodes(metaworld_episodes)
    assert [p.name for p in paths] == ["mw-pick-place-v3-s00000-front", "mw-pick-place-v3-s00000-gripperPOV"]
    front, wrist = (open_episode(p, verify_hash=True) for p in paths)
    assert front.num_frames == wrist.num_frames > 1
    assert front.images.shape[1:] == (64, 64, 3)
    assert front.meta["fps"] == pytest.approx(80.0)  # 5 substeps of 2.5 ms
    assert front.meta["instructions"] == list(INSTRUCTIONS["pick-place-v3"])
    assert front.robot["actions"].shape == (front.num_frames, 4)
    assert front.robot["proprio"].shape == (front.num_frames, 4)
    np.testing.assert_array_equal(front.robot["actions"], wrist.robot["actions"])
    # a static camera keeps its pose; the wrist camera moves with the hand
    assert np.ptp(front.extrinsics, axis=0).max() < 1e-6
    assert np.ptp(wrist.extrinsics[:, :3, 3], axis=0).max() > 0.01
    assert wrist.meta["camera_moving"] and not front.meta["camera_moving"]
    depth = np.asarray(front.depth, np.float32)
    assert np.all(np.isfinite(depth)) and 0.3 < np.median(depth[depth > 0]) < 3.0
    frames, body_ids = front.body_ids  # a map every 10 frames (MetaWorldSourceConfig.body_ids_every)
    assert frames.tolist() == list(range(0, front.num_frames, 10)) and body_ids.shape == (len(frames), 64, 64)
    assert (body_ids >= 0).mean() > 0.5 and (body_ids[0] != body_ids[-1]).any()  # the arm moved


def test_rendered_depth_matches_mujoco_renderer(monkeypatch):
    """Our single-pass RGB-D must give the depth MuJoCo's own Renderer gives for the same camera."""
    import mujoco

    from mu0.sources.metaworld import SKY_DEPTH_M, _make_env_and_policy
    from mu0.sources.metaworld_cameras import make_camera
    from mu0.sources.mujoco_render import RgbdRenderer

    env, _, _ = _make_env_and_policy("push-v3", 3)
    cam = make_camera("front", env.model)
    with RgbdRenderer(env.model, 64, 64) as ours:
        _, depth = ours.render_rgbd(env.data, cam, max_depth_m=SKY_DEPTH_M)
        K, _ = ours.camera_matrices()
    ref = mujoco.Renderer(env.model, 64, 64)
    opt = mujoco.MjvOption()
    opt.sitegroup[:] = 0
    ref.enable_depth_rendering()
    ref.update_scene(env.data, camera=cam, scene_option=opt)
    ref_depth = ref.render()
    ref.close()
    scene = ref_depth < SKY_DEPTH_M
    np.testing.assert_allclose(depth[scene], ref_depth[scene], rtol=1e-4, atol=1e-4)
    assert np.all(depth[~scene] == 0)
    fovy = env.model.vis.global_.fovy
    assert K[0, 0] == pytest.approx(0.5 * 64 / np.tan(np.radians(fovy) / 2))
    env.close()


def test_same_seed_gives_identical_episodes_and_reingest_is_idempotent(tmp_path):
    cfg = MetaWorldSourceConfig(tasks=("reach-v3",), episodes_per_task=1, cameras=("side",), size=32, max_steps=8)
    first = ingest_metaworld(cfg, tmp_path / "raw", tmp_path / "q")
    second = ingest_metaworld(cfg, tmp_path / "raw", tmp_path / "q")
    assert first.ids("written") == ["mw-reach-v3-s00000-side"]
    assert second.ids("unchanged") == ["mw-reach-v3-s00000-side"]
    other_seed = MetaWorldRollout("reach-v3", 1, ("side",), 32, 8, 0, 0.0).build()[0]
    same_seed = MetaWorldRollout("reach-v3", 0, ("side",), 32, 8, 0, 0.0).build()[0]
    assert not np.array_equal(other_seed.robot["observations"][0], same_seed.robot["observations"][0])


def test_failed_expert_is_recorded_not_dropped(tmp_path):
    # Three steps are far too few to finish the task: the rollout must still be written, as a failure.
    cfg = MetaWorldSourceConfig(tasks=("door-open-v3",), episodes_per_task=1, cameras=("front",), size=32,
                                max_steps=3)
    report = ingest_metaworld(cfg, tmp_path / "raw", tmp_path / "q")
    ep = open_episode(tmp_path / "raw" / report.ids("written")[0])
    assert ep.meta["success"] is False and ep.meta["first_success_step"] is None
    assert not ep.robot["success"].any() and ep.num_frames == 3


def test_noisy_actions_change_the_rollout_and_are_what_was_executed():
    clean = MetaWorldRollout("reach-v3", 0, ("front",), 32, 6, 0, 0.0).build()[0]
    noisy = MetaWorldRollout("reach-v3", 0, ("front",), 32, 6, 0, 0.5).build()[0]
    assert not np.allclose(clean.robot["actions"], noisy.robot["actions"])
    assert np.abs(noisy.robot["actions"]).max() <= 1.0


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown Meta-World task 'pick-plcae-v3'") as err:
        resolve_tasks(["reach-v3", "pick-plcae-v3"])
    assert "pick-place-v3" in str(err.value) and "window-close-v3" in str(err.value)


def test_unknown_camera_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown camera.*gripperPOV"):
        rollout_jobs(MetaWorldSourceConfig(tasks=("reach-v3",), cameras=("frnt",)))


def test_benchmark_names_expand():
    assert len(resolve_tasks(["MT10"])) == 10
    assert len(resolve_tasks(["MT50"])) == 50
    trainable = resolve_tasks(["TRAINABLE"])  # DESIGN.md §8: MT10 + 27; the other 13 are never trained on
    assert len(trainable) == 37 and set(resolve_tasks(["MT10"])) < set(trainable)
    assert "bin-picking-v3" not in trainable and "hammer-v3" not in trainable
    assert resolve_tasks(["reach-v3", "MT10"])[0] == "reach-v3"


def test_every_task_has_three_instructions():
    assert set(INSTRUCTIONS) == set(all_tasks())
    assert all(len(set(p)) == 3 and all(s.strip() for s in p) for p in INSTRUCTIONS.values())


def test_a_rollout_that_crashes_is_quarantined_and_the_rest_written(tmp_path, monkeypatch):
    from mu0.sources import metaworld

    real = metaworld._make_env_and_policy

    def flaky(task, seed):
        if task == "push-v3":
            raise RuntimeError("MuJoCo warning: simulation unstable (QACC)")
        return real(task, seed)

    monkeypatch.setattr(metaworld, "_make_env_and_policy", flaky)
    cfg = MetaWorldSourceConfig(tasks=("reach-v3", "push-v3"), episodes_per_task=1, cameras=("front",), size=32,
                                max_steps=3)
    report = ingest_metaworld(cfg, tmp_path / "raw", tmp_path / "q")
    assert report.ids("written") == ["mw-reach-v3-s00000-front"]
    notes = read_quarantine(tmp_path / "q")
    assert [n["episode_id"] for n in notes] == ["mw-push-v3-s00000-front"]
    assert "QACC" in notes[0]["reason"] and "push-v3" in notes[0]["source"]


def test_parallel_workers_write_the_same_episodes_as_one_process(tmp_path):
    cfg = MetaWorldSourceConfig(tasks=("reach-v3", "push-v3"), episodes_per_task=1, cameras=("front",), size=32,
                                max_steps=5, workers=2)
    parallel = ingest_metaworld(cfg, tmp_path / "par", tmp_path / "q")
    serial = ingest_metaworld(dataclasses.replace(cfg, workers=1), tmp_path / "ser", tmp_path / "q")
    assert parallel.ids("written") == serial.ids("written") == ["mw-push-v3-s00000-front", "mw-reach-v3-s00000-front"]
    for eid in parallel.ids("written"):
        assert (open_episode(tmp_path / "par" / eid).meta["content_hash"]
                == open_episode(tmp_path / "ser" / eid).meta["content_hash"])


@pytest.mark.parametrize("camera", ["front", "gripperPOV"])
def test_camera_matrices_project_a_point_where_the_render_draws_it(camera):
    """The goal marker, a sphere, is drawn centred on the projection of its centre: the matrices are those of
    the camera the render used (a mono render's average of the two eyes, not the left eye 3.4 cm aside)."""
    from mu0.episodes.cameras import world_to_pixels
    from mu0.sources.metaworld import _make_env_and_policy, marker_sites
    from mu0.sources.metaworld_cameras import make_camera
    from mu0.sources.mujoco_render import RgbdRenderer

    env, _, _ = _make_env_and_policy("push-v3", 3)
    cam = make_camera(camera, env.model)
    with RgbdRenderer(env.model, 128, 128) as plain:
        without, _ = plain.render_rgbd(env.data, cam)
    with RgbdRenderer(env.model, 128, 128, marker_sites(True, env.model)) as marked:
        with_goal, _ = marked.render_rgbd(env.data, cam)
        K, E = marked.camera_matrices()
    drawn = np.abs(with_goal.astype(int) - without.astype(int)).sum(-1) > 30
    centre = world_to_pixels(env.data.site("goal").xpos, K, E)
    env.close()
    ys, xs = np.nonzero(drawn)
    assert 10 < len(xs) < 400  # the marker and nothing else (no other site is drawn)
    assert np.hypot(xs - centre[0], ys - centre[1]).max() < 8
    np.testing.assert_allclose([xs.mean(), ys.mean()], centre, atol=0.75)


def test_the_goal_marker_is_drawn_only_when_asked_and_recorded():
    hidden = MetaWorldRollout("push-v3", 0, ("front",), 32, 3, 0, 0.0).build()[0]
    shown = MetaWorldRollout("push-v3", 0, ("front",), 32, 3, 0, 0.0, goal_marker=True).build()[0]
    assert hidden.meta["goal_marker"] is False and shown.meta["goal_marker"] is True
    assert not np.array_equal(hidden.images[0], shown.images[0])
    np.testing.assert_array_equal(hidden.robot["actions"], shown.robot["actions"])  # the same rollout
    # a task without a goal site (button-press-topdown: its goal is the button) ingests with nothing to draw
    hidden = MetaWorldRollout("button-press-topdown-v3", 0, ("front",), 32, 3, 0, 0.0).build()[0]
    shown = MetaWorldRollout("button-press-topdown-v3", 0, ("front",), 32, 3, 0, 0.0, goal_marker=True).build()[0]
    assert shown.meta["goal_marker"] is True
    np.testing.assert_array_equal(hidden.images, shown.images)
