"""Data-parallel pretraining on this machine: 2 ranks against 1 with the same global batch, and the share of a
2-rank step spent reducing gradients.

Each configuration runs the real engine (mu0.training.engine, ZeRO stage 0) over the demo's trace dataset
(`make demo` first, or --traces), launched the way the README says (`deepspeed --num_gpus N`), with this
machine's cores split between the ranks (OMP_NUM_THREADS = cores / ranks). 1 rank accumulates 2 micro-batches
per step; 2 ranks take one each: the same samples per optimizer step. The communication of a 2-rank step is
timed apart in the same run: an all-reduce of a buffer the size of the trainable parameters' gradients (what
ZeRO stage 0 reduces each step), over the same process group.
Run: `.venv/bin/python benchmarks/bench_data_parallel.py [--preset tiny]`; writes
benchmarks/results/data_parallel.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "data_parallel.json"


def worker(args) -> None:
    """One rank: warm up, then time `steps` optimizer steps; rank 0 prints a JSON line."""
    import torch

    from mu0.models.registry import build_model
    from mu0.presets import get_preset
    from mu0.traces.build import build_datasets
    from mu0.training.engine import make_engine
    from mu0.training.ranks import current_shard
    from mu0.training.sampler import micro_batch_loader, micro_slot, seed_micro_step

    cfg = get_preset(args.preset)
    train = dataclasses.replace(cfg.train, steps=args.warmup + args.steps, micro_batch=args.micro,
                                grad_accumulation=args.accumulation, zero_stage=0, num_workers=0)
    datasets, _, _ = build_datasets(Path(args.traces), cfg.data.for_model(cfg.model))
    torch.manual_seed(0)
    engine, _ = make_engine(build_model(cfg.model), train)
    shard = current_shard()
    batches = micro_batch_loader(datasets["train"], train, 0, shard)
    t0 = 0.0
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            t0 = time.perf_counter()
        for micro in range(train.grad_accumulation):
            seed_micro_step(train.seed, micro_slot(train, shard, step, micro))
            loss, _ = engine(next(batches))
            engine.backward(loss)
            engine.step()
    elapsed = time.perf_counter() - t0
    allreduce = _allreduce_s(sum(p.numel() for p in engine.module.parameters() if p.requires_grad), args.steps)
    if shard.rank == 0:
        samples = args.steps * args.micro * args.accumulation * shard.world
        print("RESULT " + json.dumps({"ranks": shard.world, "step_s": elapsed / args.steps,
                                      "samples_per_s": samples / elapsed, "allreduce_s_per_step": allreduce,
                                      "params": sum(p.numel() for p in engine.module.parameters())}), flush=True)


def _allreduce_s(numel: int, repeats: int) -> float:
    """Seconds per all-reduce of `numel` fp32 values over all ranks (0 for one rank: nothing to reduce)."""
    import torch
    import torch.distributed as dist

    if dist.get_world_size() == 1:
        return 0.0
    buffer = torch.ones(numel)
    dist.all_reduce(buffer)  # warm
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(buffer)
    return (time.perf_counter() - t0) / repeats


def launch(args, ranks: int) -> dict:
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // ranks))}
    common = [__file__, "--worker", "--preset", args.preset, "--traces", args.traces, "--steps", str(args.steps),
              "--warmup", str(args.warmup), "--micro", str(args.micro), "--accumulation", str(2 // ranks)]
    deepspeed = str(Path(sys.executable).parent / "deepspeed")
    out = subprocess.run([deepspeed, "--num_gpus", str(ranks), "--master_addr", "127.0.0.1", "--master_port",
                          str(29500 + ranks), *common], env=env, capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--traces", default="artifacts/traces")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--micro", type=int, default=8, help="samples per rank per micro-batch")
    parser.add_argument("--accumulation", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # the launcher adds --local_rank
    if args.worker:
        worker(args)
        return
    one, two = launch(args, 1), launch(args, 2)
    result = {"preset": args.preset, "global_batch": 2 * args.micro, "cores": os.cpu_count(), "one_rank": one,
              "two_ranks": two, "throughput_ratio_2_vs_1": two["samples_per_s"] / one["samples_per_s"],
              "allreduce_share_of_2_rank_step": two["allreduce_s_per_step"] / two["step_s"]}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"1 rank: {one['samples_per_s']:.1f} samples/s ({one['step_s'] * 1000:.0f} ms/step); 2 ranks: "
          f"{two['samples_per_s']:.1f} samples/s ({two['step_s'] * 1000:.0f} ms/step) → "
          f"{result['throughput_ratio_2_vs_1']:.2f}×; gradient all-reduce {two['allreduce_s_per_step'] * 1000:.1f} ms "
          f"= {100 * result['allreduce_share_of_2_rank_step']:.1f}% of a 2-rank step ({one['params']:,} parameters)")


if __name__ == "__main__":
    main()
