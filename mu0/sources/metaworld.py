"""Meta-World v3 source: scripted-expert rollouts rendered offscreen as RGB-D episodes with ground truth.

One rollout is one job; it yields one episode per camera, all sharing actions, proprio, success
and the simulator ground truth (every body's pose per frame, plus the per-pixel body ids of each
camera's first frame). Frame t shows the state in which action t was chosen; success[t] is the
simulator's success flag after action t.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from mu0.config import MT10_TASKS, VARIETY_TASKS, MetaWorldSourceConfig
from mu0.episodes import EpisodeData
from mu0.episodes.schema import GT_BODIES, GT_BODY_ID_FRAMES, GT_BODY_IDS, GT_DIR
from mu0.sources.base import SourceError
from mu0.sources.metaworld_cameras import MOVING_CAMERAS, make_camera, valid_camera_names
from mu0.sources.metaworld_instructions import INSTRUCTIONS
from mu0.sources.mujoco_render import RgbdRenderer, ensure_gl_backend

# Anything farther than this is the skybox, not the table-top scene; stored as depth 0 (no reading).
SKY_DEPTH_M = 10.0
BENCHMARKS = {"MT10": MT10_TASKS, "TRAINABLE": MT10_TASKS + VARIETY_TASKS}


def all_tasks() -> list[str]:
    ensure_gl_backend()
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    return list(ALL_V3_ENVIRONMENTS)


def resolve_tasks(names: tuple[str, ...] | list[str]) -> list[str]:
    """Expand MT10/MT50/TRAINABLE and check every name; an unknown one fails with the list of valid tasks."""
    valid = all_tasks()
    tasks: list[str] = []
    for name in names:
        expanded = valid if name == "MT50" else list(BENCHMARKS.get(name, [name]))
        for task in expanded:
            if task not in valid:
                raise ValueError(f"unknown Meta-World task '{task}'; valid tasks (or MT10, MT50, TRAINABLE): "
                                 f"{', '.join(valid)}")
            if task not in tasks:
                tasks.append(task)
    return tasks


def check_cameras(cameras: tuple[str, ...]) -> None:
    unknown = [c for c in cameras if c not in valid_camera_names()]
    if unknown:
        raise ValueError(f"unknown camera(s) {unknown}; valid: {', '.join(valid_camera_names())}")


def episode_id(task: str, seed: int, camera: str) -> str:
    return f"mw-{task}-s{seed:05d}-{camera}"


@dataclasses.dataclass(frozen=True)
class MetaWorldRollout:
    """One scripted-expert rollout of `task` with `seed`, recorded from every camera."""

    task: str
    seed: int
    cameras: tuple[str, ...]
    size: int
    max_steps: int
    steps_after_success: int
    action_noise: float
    body_ids_every: int = 0
    goal_marker: bool = False

    @property
    def label(self) -> str:
        return f"metaworld:{self.task}:seed={self.seed}"

    @property
    def episode_ids(self) -> list[str]:
        return [episode_id(self.task, self.seed, cam) for cam in self.cameras]

    def build(self) -> list[EpisodeData]:
        return record_rollout(self)


def rollout_jobs(cfg: MetaWorldSourceConfig) -> list[MetaWorldRollout]:
    tasks = resolve_tasks(cfg.tasks)
    check_cameras(cfg.cameras)
    return [
        MetaWorldRollout(task, cfg.seed + i, cfg.cameras, cfg.size, cfg.max_steps, cfg.steps_after_success,
                         cfg.action_noise, cfg.body_ids_every, cfg.goal_marker)
        for task in tasks
        for i in range(cfg.episodes_per_task)
    ]


def make_env(task: str, seed: int):
    """(env, first observation) of `task`; the seed fixes the object and goal layout. KeyError if unknown."""
    ensure_gl_backend()
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

    env = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{task}-goal-observable"](seed=seed)
    obs, _ = env.reset()
    return env, obs


def marker_sites(goal_marker: bool, model) -> tuple[str, ...]:
    """The sites a camera draws of the MuJoCo `model`: the goal's, when the goal marker is shown and the task
    has one (button-press-topdown has none: its goal is the button, which the image shows anyway)."""
    import mujoco

    has_goal = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "goal") >= 0
    return ("goal",) if goal_marker and has_goal else ()


def proprio(obs: np.ndarray) -> np.ndarray:
    """The robot's own state in an observation: hand xyz (m) and gripper opening."""
    return np.asarray(obs, np.float32)[:4]


def _make_env_and_policy(task: str, seed: int):
    from metaworld.policies import ENV_POLICY_MAP

    env, obs = make_env(task, seed)
    return env, ENV_POLICY_MAP[task](), obs


@dataclasses.dataclass
class _Recording:
    rgb: dict[str, list[np.ndarray]]
    depth: dict[str, list[np.ndarray]]
    K: dict[str, list[np.ndarray]]
    T_cam_world: dict[str, list[np.ndarray]]
    body_ids: dict[str, list[np.ndarray]]
    body_id_frames: list[int] = dataclasses.field(default_factory=list)
    xpos: list[np.ndarray] = dataclasses.field(default_factory=list)
    xquat: list[np.ndarray] = dataclasses.field(default_factory=list)
    obs: list[np.ndarray] = dataclasses.field(default_factory=list)
    actions: list[np.ndarray] = dataclasses.field(default_factory=list)
    rewards: list[float] = dataclasses.field(default_factory=list)
    success: list[bool] = dataclasses.field(default_factory=list)


def _in_gt(name: str) -> str:
    return name.removeprefix(f"{GT_DIR}/")


def _record(job: MetaWorldRollout, env, policy, obs) -> _Recording:
    cams = {name: make_camera(name, env.model) for name in job.cameras}
    rec = _Recording(*({n: [] for n in cams} for _ in range(5)))
    rng = np.random.default_rng(job.seed)
    first_success: int | None = None
    with RgbdRenderer(env.model, job.size, job.size, marker_sites(job.goal_marker, env.model)) as renderer, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the expert policies warn about their own gains
        for t in range(job.max_steps):
            for name, cam in cams.items():
                rgb, depth = renderer.render_rgbd(env.data, cam, max_depth_m=SKY_DEPTH_M)
                K, T = renderer.camera_matrices()
                rec.rgb[name].append(rgb), rec.depth[name].append(depth)
                rec.K[name].append(K), rec.T_cam_world[name].append(T)
                if t == 0 or (job.body_ids_every and t % job.body_ids_every == 0):
                    rec.body_ids[name].append(renderer.render_body_ids(env.data, cam))
            if t == 0 or (job.body_ids_every and t % job.body_ids_every == 0):
                rec.body_id_frames.append(t)
            rec.xpos.append(env.data.xpos.copy())
            rec.xquat.append(env.data.xquat.copy())
            rec.obs.append(np.asarray(obs, np.float32))
            action = np.asarray(policy.get_action(obs), np.float64)
            if job.action_noise > 0:
                action = action + rng.normal(0.0, job.action_noise, action.shape)
            action = np.clip(action, -1.0, 1.0)
            obs, reward, terminated, truncated, info = env.step(action)
            rec.actions.append(action.astype(np.float32))
            rec.rewards.append(float(reward))
            rec.success.append(bool(info["success"]))
            if rec.success[-1] and first_success is None:
                first_success = t
            if terminated or truncated or (first_success is not None and t - first_success >= job.steps_after_success):
                break
    return rec


def record_rollout(job: MetaWorldRollout) -> list[EpisodeData]:
    """Roll out the scripted expert and return one episode per camera. A failed expert is recorded
    (success all false) rather than dropped; a simulator or renderer error raises SourceError."""
    try:
        env, policy, obs = _make_env_and_policy(job.task, job.seed)
    except KeyError:
        raise SourceError(f"{job.label}: no Meta-World v3 environment or scripted expert for this task") from None
    try:
        rec = _record(job, env, policy, obs)
        model = env.model
        body_names = np.array([model.body(i).name for i in range(model.nbody)])
        fps = float(1.0 / env.dt)
    finally:
        env.close()
    robot = {
        "actions": np.stack(rec.actions),
        "proprio": np.stack([proprio(o) for o in rec.obs]),
        "success": np.array(rec.success, bool),
        "observations": np.stack(rec.obs),
        "rewards": np.array(rec.rewards, np.float32),
    }
    bodies = {"names": body_names, "xpos": np.stack(rec.xpos), "xquat": np.stack(rec.xquat)}
    succeeded = bool(robot["success"].any())
    episodes = []
    for name in job.cameras:
        meta = {
            "episode_id": episode_id(job.task, job.seed, name),
            "rollout_id": f"mw-{job.task}-s{job.seed:05d}",
            "source": "metaworld",
            "source_uri": job.label,
            "task": job.task,
            "fps": fps,
            "instructions": list(INSTRUCTIONS[job.task]),
            "embodiment": "sawyer",
            "camera": name,
            "camera_moving": name in MOVING_CAMERAS,
            "camera_poses": "given",
            "seed": job.seed,
            "success": succeeded,
            "first_success_step": int(np.argmax(robot["success"])) if succeeded else None,
            "action_noise": job.action_noise,
            "goal_marker": job.goal_marker,
            "action_space": "metaworld-v3: dx, dy, dz hand displacement, gripper effort; each in [-1, 1]",
        }
        episodes.append(EpisodeData(
            meta=meta,
            images=np.stack(rec.rgb[name]),
            depth=np.stack(rec.depth[name]),
            intrinsics=np.stack(rec.K[name]).astype(np.float32),
            extrinsics=np.stack(rec.T_cam_world[name]).astype(np.float32),
            robot=robot,
            gt={_in_gt(GT_BODIES): bodies, _in_gt(GT_BODY_IDS): np.stack(rec.body_ids[name]).astype(np.int32),
                _in_gt(GT_BODY_ID_FRAMES): np.asarray(rec.body_id_frames, np.int32)},
        ))
    return episodes
