"""Control latency of the action expert on one core, per environment step, amortised over a chunk.

A real Meta-World episode (reach-v3) runs closed loop at the preset's image size: every `execute` steps the
policy renders the camera (and the wrist camera, for a policy that sees it), reads proprio and predicts a
chunk; the other steps only execute. Reported per policy design (`make compare-policy`'s: the gated trace
states, μ_0's full waypoints (also with the hand's keypoints), the trainable backbone copy with waypoints and
the wrist view, scratch with and without the wrist view; weights at initialisation — latency does not depend
on them): the policy's time per environment step, the simulator+renderer's, and their ratios to the 20 ms
budget and to scratch.
The designs take turns over `--rounds` episodes each (default 3) and each figure is the median of its rounds.
Run: `.venv/bin/python benchmarks/bench_policy_latency.py [--preset small] [--execute N] [--rounds N]`; writes
benchmarks/results/policy_latency.json (`_executeN` for a re-planning interval other than the preset's).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from mu0.bundle.policy_bundle import hand_unit_uv
from mu0.models.action_expert import ActionExpert
from mu0.presets import get_preset
from mu0.sources.metaworld import make_env, proprio
from mu0.sources.metaworld_cameras import make_camera
from mu0.sources.mujoco_render import RgbdRenderer

BUDGET_MS = 20.0


DESIGNS = {  # name → ActionExpertConfig overrides
    "trace": {"use_trace": True},
    "trace-waypoints-full": {"use_trace": True, "trace_tokens": "waypoints", "trace_steps": 4},
    "trace-hand-full": {"use_trace": True, "trace_tokens": "waypoints", "trace_steps": 4, "hand_queries": 3},
    "trace-tuned-waypoints-wrist": {"use_trace": True, "train_backbone": True, "trace_tokens": "waypoints",
                                    "trace_steps": 4, "wrist_tokens": 8},
    "scratch": {"use_trace": False},
    "scratch-wrist": {"use_trace": False, "wrist_tokens": 8},
}


def episode(policy: ActionExpert, size: int, steps: int, execute: int) -> dict:
    env, obs = make_env("reach-v3", 100_000)
    camera = make_camera("front", env.model)
    wrist_camera = make_camera("gripperPOV", env.model) if policy.cfg.wrist_tokens else None
    plan_s, sim_s, queue = [], [], []
    with RgbdRenderer(env.model, size, size) as renderer:
        for _ in range(steps):
            if not queue:
                t0 = time.perf_counter()
                frames = [renderer.render_rgbd(env.data, camera)[0]]
                calibration = renderer.camera_matrices()  # the front camera's (a policy keeps it from training)
                if wrist_camera is not None:
                    frames.append(renderer.render_rgbd(env.data, wrist_camera)[0])
                t1 = time.perf_counter()  # rendering counts as simulation
                image, *wrist = (torch.from_numpy(np.array(f)).permute(2, 0, 1)[None] for f in frames)
                hand = None
                if policy.cfg.hand_queries:
                    hand = torch.from_numpy(hand_unit_uv(proprio(obs), policy.cfg.hand_xyz, *calibration, (size, size)))
                out = policy.act(image, ["reach the goal"], torch.from_numpy(proprio(obs))[None],
                                 wrist=wrist[0] if wrist else None, hand_uv=None if hand is None else hand[None])
                queue = list(out["actions"][0].numpy()[:execute])
                plan_s.append(time.perf_counter() - t1)
                sim_s.append(t1 - t0)
            t2 = time.perf_counter()
            obs = env.step(queue.pop(0))[0]
            sim_s.append(time.perf_counter() - t2)
    env.close()
    return {"plan_ms_median": 1000 * statistics.median(plan_s),
            "policy_ms_per_step": 1000 * sum(plan_s) / steps, "sim_ms_per_step": 1000 * sum(sim_s) / steps}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="small")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3,
                        help="episodes per design, the designs taking turns; the figures are their medians")
    parser.add_argument("--execute", type=int, default=0,
                        help="actions executed per chunk before re-planning (0: the preset's rollout.execute)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = get_preset(args.preset)
    size, execute = cfg.metaworld.size, args.execute or cfg.rollout.execute
    if not 1 <= execute <= cfg.policy.chunk:
        parser.error(f"--execute must be within 1..{cfg.policy.chunk} (the policy's chunk)")
    results = {"preset": args.preset, "image": size, "execute": execute, "threads": 1, "rounds": args.rounds}
    policies = {}
    for name, overrides in DESIGNS.items():
        torch.manual_seed(0)
        policies[name] = ActionExpert(dataclasses.replace(cfg.policy, world=cfg.model, **overrides)).eval()
        episode(policies[name], size, 2 * execute, execute)  # warm-up
    # the designs take turns, round after round: a shared machine's slow spell then falls on all of them alike
    runs = {name: [] for name in DESIGNS}
    for _ in range(args.rounds):
        for name, policy in policies.items():
            runs[name].append(episode(policy, size, args.steps, execute))
    for name, episodes in runs.items():
        results[name] = {key: statistics.median(e[key] for e in episodes) for key in episodes[0]}
        results[name]["policy_ms_per_step_rounds"] = [e["policy_ms_per_step"] for e in episodes]
    scratch = results["scratch"]["policy_ms_per_step"]
    for name in DESIGNS:
        r = results[name]
        r["over_scratch"] = r["policy_ms_per_step"] / scratch
        rounds = r["policy_ms_per_step_rounds"]
        print(f"{name:>28}: policy {r['policy_ms_per_step']:.1f} ms/step ({min(rounds):.1f}–{max(rounds):.1f} over "
              f"{args.rounds} rounds; one chunk {r['plan_ms_median']:.1f} ms, every {execute} steps), "
              f"simulator+renderer {r['sim_ms_per_step']:.1f} ms/step; "
              f"policy/budget {r['policy_ms_per_step'] / BUDGET_MS:.2f}, /scratch {r['over_scratch']:.2f}x")
    results["trace_over_scratch"] = results["trace"]["over_scratch"]
    print(f"budget {BUDGET_MS:.0f} ms per environment step, one core")
    suffix = "" if execute == cfg.rollout.execute else f"_execute{execute}"
    out = Path(f"benchmarks/results/policy_latency{suffix}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
