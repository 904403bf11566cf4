"""Closed-loop rollouts of an action expert in Meta-World, one episode per (task, seed).

The policy sees what it was trained on — the camera's RGB frame at the training size, the proprio and
the task's instruction — predicts a chunk of actions and executes the first `execute` of them before
re-planning (receding horizon). An episode succeeds when the simulator reports success within
`max_steps`. Whatever goes wrong inside one episode (the simulator or renderer raising, a non-finite
action) ends that episode as a failure with the reason recorded; the evaluation goes on. Episodes run in
worker processes, each with its own simulator, GL context and a single-threaded copy of the policy.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mu0.bundle.files import CONFIG_FILE, WEIGHTS_FILE
from mu0.bundle.policy_bundle import PolicyRunner
from mu0.config import RolloutConfig
from mu0.evaluation.rollout_video import draw_frame, save_gif
from mu0.parallel import dask_address, map_unordered


@dataclasses.dataclass(frozen=True)
class RolloutJob:
    task: str
    seed: int
    max_steps: int
    execute: int
    video: Path | None = None


@dataclasses.dataclass
class EpisodeOutcome:
    task: str
    seed: int
    success: bool
    length: int
    error: str | None = None
    video: str | None = None
    plan_ms: float = float("nan")  # mean wall time of one policy call (a chunk)
    plans: int = 0
    trace_reading: dict = dataclasses.field(default_factory=dict)  # the weights' reading of μ_0 at the first plan


def check_action_space(env, runner: PolicyRunner, task: str) -> None:
    dim = int(np.prod(env.action_space.shape))
    if dim != runner.cfg.action_dim:
        raise ValueError(f"{runner.folder / CONFIG_FILE}: the policy outputs {runner.cfg.action_dim}-D actions but "
                         f"{task}'s action space is {dim}-D ({env.action_space})")


def check_cameras(env, runner: PolicyRunner) -> None:
    """The cameras a policy renders exist in the scene; else every episode would fail, one by one, as a 0%."""
    from mu0.sources.metaworld_cameras import make_camera

    for name in filter(None, (runner.processor.camera, runner.processor.wrist_camera)):
        try:
            make_camera(name, env.model)
        except ValueError as err:
            raise ValueError(f"{runner.folder}: the policy renders camera '{name}': {err}") from None


def default_env(task: str, seed: int):
    from mu0.sources.metaworld import make_env

    return make_env(task, seed)


def run_episode(job: RolloutJob, runner: PolicyRunner, make_env: Callable = default_env) -> EpisodeOutcome:
    """One closed-loop episode; any exception inside it becomes a recorded failure."""
    from mu0.sources.metaworld import marker_sites, proprio
    from mu0.sources.metaworld_cameras import make_camera
    from mu0.sources.metaworld_instructions import INSTRUCTIONS
    from mu0.sources.mujoco_render import RgbdRenderer

    outcome = EpisodeOutcome(job.task, job.seed, False, 0)
    env, frames, times = None, [], []
    runner.generator.manual_seed(job.seed)  # the flow noise depends on the episode only, not on the worker
    try:
        env, obs = make_env(job.task, job.seed)
        check_action_space(env, runner, job.task)
        instruction = INSTRUCTIONS[job.task][0]
        camera = make_camera(runner.processor.camera, env.model)
        wrist_camera = make_camera(runner.processor.wrist_camera, env.model) if runner.processor.wrist_camera else None
        queue: list[np.ndarray] = []
        tracks = None
        size = runner.processor.image_size
        with RgbdRenderer(env.model, size, size, marker_sites(runner.processor.goal_marker, env.model)) as renderer:
            for t in range(job.max_steps):
                if not queue or job.video is not None:
                    frame = renderer.render_rgbd(env.data, camera)[0]
                if not queue:
                    start = time.perf_counter()
                    wrist = renderer.render_rgbd(env.data, wrist_camera)[0] if wrist_camera is not None else None
                    actions, tracks = runner.plan(frame, proprio(obs), instruction, wrist)
                    times.append(time.perf_counter() - start)
                    if t == 0:
                        outcome.trace_reading = runner.trace_reading(frame, proprio(obs), instruction, wrist)
                    queue = list(actions[:job.execute])
                if job.video is not None:
                    frames.append(draw_frame(frame, tracks, f"{job.task} seed {job.seed} t={t}"))
                action = queue.pop(0)
                if not np.all(np.isfinite(action)):
                    raise FloatingPointError(f"non-finite action {action} at step {t}")
                obs, _, terminated, truncated, info = env.step(action)
                outcome.length = t + 1
                if info.get("success"):
                    outcome.success = True
                    break
                if terminated or truncated:
                    break
    except Exception as e:  # noqa: BLE001 — one broken episode must not end the evaluation
        outcome.error = f"{type(e).__name__}: {e}"
        outcome.success = False
    finally:
        if env is not None:
            env.close()
    if times:
        outcome.plan_ms, outcome.plans = 1000 * float(np.mean(times)), len(times)
    if job.video is not None and frames:
        outcome.video = str(save_gif(frames, job.video))
    return outcome


_RUNNER: dict[tuple[str, int], PolicyRunner] = {}  # this worker process's loaded policy, by folder and weights


def _run_in_worker(indexed_job: tuple[int, RolloutJob], folder: str) -> EpisodeOutcome:
    # a Dask worker outlives one evaluation: a folder whose weights were rewritten is loaded again
    key = (folder, (Path(folder) / WEIGHTS_FILE).stat().st_mtime_ns)
    if key not in _RUNNER:
        _RUNNER.clear()
        _RUNNER[key] = PolicyRunner(Path(folder), threads=1)
    return run_episode(indexed_job[1], _RUNNER[key])


def rollout_jobs(tasks: list[str], cfg: RolloutConfig, video_dir: Path | None) -> list[RolloutJob]:
    jobs = []
    for task in tasks:
        for i in range(cfg.episodes_per_task):
            video = video_dir / f"{task}-s{cfg.seed + i}.gif" if video_dir and i < cfg.videos_per_task else None
            jobs.append(RolloutJob(task, cfg.seed + i, cfg.max_steps, cfg.execute, video))
    return jobs


def run_rollouts(folder: Path, jobs: list[RolloutJob], workers: int,
                 on_done: Callable[[EpisodeOutcome], None] | None = None) -> list[EpisodeOutcome]:
    """Every job, in `workers` processes (in this process when 1; on a Dask cluster with MU0_DASK_ADDRESS), in job
    order."""
    if workers <= 1 and not dask_address():
        runner = PolicyRunner(folder)
        outcomes = []
        for job in jobs:
            outcomes.append(run_episode(job, runner))
            if on_done:
                on_done(outcomes[-1])
        return outcomes
    # a process per worker (spawned: a fresh GL context and torch each), or a Dask cluster when one is asked for
    work = functools.partial(_run_in_worker, folder=str(folder))
    done: dict[int, EpisodeOutcome] = {}
    for (i, _), outcome in map_unordered(work, list(enumerate(jobs)), workers):
        done[i] = outcome
        if on_done:
            on_done(outcome)
    return [done[i] for i in range(len(jobs))]
