"""Meta-World generation speed at 128×128 with RGB + depth, on one core.

Reference, measured in the same run on the same camera and state: MuJoCo's own `mujoco.Renderer`
rendering RGB and then depth (two passes, the scene's default quality). Printed ratios are
mu0 / reference. Run: `.venv/bin/python benchmarks/bench_metaworld.py [--steps 300]`.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])


def pin_one_core() -> int:
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def reference_fps(task: str, camera: str, size: int, frames: int, same_quality: bool) -> float:
    """Frames/s of mujoco.Renderer doing RGB then depth of one camera (render only, no simulation)."""
    import mujoco

    from mu0.sources.metaworld import _make_env_and_policy
    from mu0.sources.metaworld_cameras import make_camera

    env, _, _ = _make_env_and_policy(task, 0)
    if same_quality:
        env.model.vis.quality.offsamples = 0
    renderer = mujoco.Renderer(env.model, size, size)
    if same_quality:
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
    cam = make_camera(camera, env.model)
    start = time.perf_counter()
    for _ in range(frames):
        renderer.update_scene(env.data, camera=cam)
        renderer.render()
        renderer.enable_depth_rendering()
        renderer.update_scene(env.data, camera=cam)
        renderer.render()
        renderer.disable_depth_rendering()
    elapsed = time.perf_counter() - start
    renderer.close()
    env.close()
    return frames / elapsed


def mu0_fps(task: str, camera: str, size: int, steps: int, write: bool) -> tuple[float, int]:
    """Frames/s of a whole scripted-expert rollout: env creation, simulation, policy, RGB-D render,
    poses and ground truth; with `write`, also validation, atomic write and content hash."""
    from mu0.sources.ingest import run_job
    from mu0.sources.metaworld import MetaWorldRollout

    job = MetaWorldRollout(task, 0, (camera,), size, steps, steps, 0.0)
    start = time.perf_counter()
    if write:
        with tempfile.TemporaryDirectory() as tmp:
            [outcome] = run_job(job, Path(tmp) / "raw", Path(tmp) / "q")
            assert outcome.status == "written", outcome
            frames = int(json.loads((Path(outcome.detail) / "meta.json").read_text())["num_frames"])
    else:
        frames = job.build()[0].images.shape[0]
    return frames / (time.perf_counter() - start), frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="pick-place-v3")
    parser.add_argument("--camera", default="front")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    core = pin_one_core()
    mu0_fps(args.task, args.camera, 32, 5, write=False)  # warm-up: imports, GL start-up
    gen, frames = mu0_fps(args.task, args.camera, args.size, args.steps, write=False)
    gen_write, _ = mu0_fps(args.task, args.camera, args.size, args.steps, write=True)
    ref_default = reference_fps(args.task, args.camera, args.size, frames, same_quality=False)
    ref_same = reference_fps(args.task, args.camera, args.size, frames, same_quality=True)
    results = {
        "core": core, "task": args.task, "camera": args.camera, "size": args.size, "frames": frames,
        "mu0_generation_fps": gen, "mu0_generation_with_write_fps": gen_write,
        "reference_mujoco_renderer_rgb_depth_fps": ref_default,
        "reference_mujoco_renderer_rgb_depth_same_quality_fps": ref_same,
        "ratio_generation_vs_reference": gen / ref_default,
        "ratio_generation_with_write_vs_reference": gen_write / ref_default,
        "ratio_generation_vs_same_quality_reference": gen / ref_same,
    }
    print(f"one core (#{core}), {args.task}, camera {args.camera}, {args.size}x{args.size}, {frames} frames")
    print(f"  mu0 generation (sim + expert + RGB-D + gt)       {gen:8.1f} frames/s")
    print(f"  mu0 generation + validated atomic write + hash   {gen_write:8.1f} frames/s")
    print(f"  reference: mujoco.Renderer RGB then depth        {ref_default:8.1f} frames/s (render only)")
    print(f"  reference, shadows/reflections/MSAA off          {ref_same:8.1f} frames/s (render only)")
    print(f"  ratio generation / reference                     {gen / ref_default:8.2f}x")
    print(f"  ratio generation+write / reference               {gen_write / ref_default:8.2f}x")
    print(f"  ratio generation / same-quality reference        {gen / ref_same:8.2f}x")
    out = Path(__file__).parent / "results" / "metaworld.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
