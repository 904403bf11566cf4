"""Training and inference speed of μ_0.

1. DeepSpeed's engine against a plain PyTorch loop (AdamW, clipping, the same LR schedule) on the same
   model, weights and batches, timed in alternating blocks in one run: the ratio is the engine's overhead.
2. Per preset (each in its own process, so peak memory is its own): training samples/s and peak RSS.
3. Predicting traces for 64 query points on one image with the tiny preset, on one thread.
Batches come from the demo's trace dataset (`make demo` first) and are loaded before timing.
Run: `.venv/bin/python benchmarks/bench_pretrain.py`; writes benchmarks/results/pretrain.json.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from mu0.models.registry import build_model
from mu0.presets import get_preset
from mu0.traces.build import build_datasets
from mu0.training.engine import lr_lambda, make_engine

TRACES = Path("artifacts/traces")


def batches_for(preset: str, count: int, batch: int | None = None, traces: Path = TRACES) -> list[dict]:
    cfg = get_preset(preset)
    datasets, _, _ = build_datasets(traces, cfg.data)
    loader = torch.utils.data.DataLoader(datasets["train"], batch_size=batch or cfg.train.micro_batch, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    return list(itertools.islice(itertools.cycle(loader), count))


def plain_step(model, optimizer, scheduler, batch, clip: float) -> None:
    loss, _ = model.compute_loss(batch)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    scheduler.step()


def deepspeed_vs_plain(preset: str, blocks: int, steps: int) -> dict:
    cfg = get_preset(preset)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    plain = copy.deepcopy(model)
    engine, _ = make_engine(model, cfg.train)
    optimizer = torch.optim.AdamW(plain.parameters(), lr=cfg.train.lr, betas=(0.9, 0.95),
                                  weight_decay=cfg.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.train))
    data = batches_for(preset, steps)

    def ds_step(batch):
        loss, _ = engine(batch)
        engine.backward(loss)
        engine.step()

    def plain_(batch):
        plain_step(plain, optimizer, scheduler, batch, cfg.train.grad_clip)

    ds_step(data[0])
    plain_(data[0])  # warm-up both
    times = {"deepspeed": 0.0, "plain": 0.0}
    for _ in range(blocks):  # alternate, so drift in machine speed hits both
        for name, fn in (("deepspeed", ds_step), ("plain", plain_)):
            start = time.perf_counter()
            for b in data:
                fn(b)
            times[name] += time.perf_counter() - start
    n = blocks * steps
    return {"preset": preset, "steps": n, "deepspeed_step_ms": 1000 * times["deepspeed"] / n,
            "plain_step_ms": 1000 * times["plain"] / n,
            "ratio_deepspeed_over_plain": times["deepspeed"] / times["plain"]}


def preset_training(preset: str, steps: int) -> dict:
    """In a child process: samples/s of DeepSpeed training steps and the process's peak RSS."""
    cfg = get_preset(preset)
    torch.manual_seed(0)
    engine, _ = make_engine(build_model(cfg.model), cfg.train)
    data = batches_for(preset, steps + 1)
    for i, b in enumerate(data):
        if i == 1:
            start = time.perf_counter()
        loss, _ = engine(b)
        engine.backward(loss)
        engine.step()
    elapsed = time.perf_counter() - start
    params = sum(p.numel() for p in engine.module.parameters())
    return {"preset": preset, "parameters": params, "micro_batch": cfg.train.micro_batch,
            "samples_per_s": steps * cfg.train.micro_batch / elapsed, "step_ms": 1000 * elapsed / steps,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def inference_latency(points: int, runs: int) -> dict:
    torch.set_num_threads(1)
    cfg = get_preset("tiny")
    torch.manual_seed(0)
    model = build_model(cfg.model).eval()
    item = batches_for("tiny", 1, batch=1)[0]
    n = item["points_uv"].shape[1]
    batch = {k: (v.repeat_interleave(-(-points // n), dim=1)[:, :points] if torch.is_tensor(v) and v.dim() >= 2
                 and v.shape[1] == n else v) for k, v in item.items()}
    assert batch["points_uv"].shape[1] == points
    model.predict(batch, 1)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(batch, 1)
        times.append(1000 * (time.perf_counter() - start))
    return {"preset": "tiny", "points": points, "threads": 1, "euler_steps": cfg.model.expert.inference_steps,
            "median_ms": statistics.median(times), "p90_ms": sorted(times)[int(0.9 * len(times)) - 1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(preset_training(args.child, args.steps)))
        return
    out = {"deepspeed_vs_plain": [deepspeed_vs_plain(p, blocks=4, steps=args.steps) for p in ("tiny", "small")]}
    for d in out["deepspeed_vs_plain"]:
        print(f"DeepSpeed step {d['deepspeed_step_ms']:.1f} ms vs plain PyTorch {d['plain_step_ms']:.1f} ms "
              f"({d['preset']}, {d['steps']} steps each): ratio {d['ratio_deepspeed_over_plain']:.3f}x")
    out["presets"] = []
    for preset in ("debug", "tiny", "small"):
        run = subprocess.run([sys.executable, __file__, "--child", preset, "--steps", str(args.steps)],
                             capture_output=True, text=True, check=True)
        r = json.loads(run.stdout.strip().splitlines()[-1])
        out["presets"].append(r)
        print(f"{preset:6s} {r['parameters'] / 1e6:6.2f} M params  micro-batch {r['micro_batch']:3d}  "
              f"{r['samples_per_s']:7.1f} samples/s  {r['step_ms']:7.1f} ms/step  peak RSS {r['peak_rss_mb']:.0f} MB")
    out["inference"] = inference_latency(64, 30)
    i = out["inference"]
    print(f"predict 64 points, one image, tiny, 1 thread: median {i['median_ms']:.1f} ms (p90 {i['p90_ms']:.1f} ms); "
          f"ratio to the 100 ms target {i['median_ms'] / 100:.2f}")
    path = Path(__file__).parent / "results" / "pretrain.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
