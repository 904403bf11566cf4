"""Is the trace DataLoader ever the bottleneck? Samples per second of the loader (0 and 2 worker
processes) against the training step of the same preset's model (forward + backward + optimizer), on
the demo's trace dataset (`make demo` first). Ratios > 1 mean the loader outpaces training.
Run: `.venv/bin/python benchmarks/bench_trace_data.py [--preset tiny] [--traces artifacts/traces]`.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch

from mu0.models.world_model import Mu0WorldModel
from mu0.presets import get_preset
from mu0.traces.build import build_datasets


def loader_rate(dataset, batch: int, workers: int, batches: int) -> float:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)
    it = iter(loader)
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    n = sum(len(b["instruction"]) for b in itertools.islice(it, batches))
    return n / (time.perf_counter() - start)


def train_rate(model, dataset, batch: int, steps: int) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batches = list(itertools.islice(iter(torch.utils.data.DataLoader(dataset, batch_size=batch)), steps + 1))
    model.compute_loss(batches[0])[0].backward()  # warm-up
    start = time.perf_counter()
    for b in batches[1:]:
        loss, _ = model.compute_loss(b)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--traces", type=Path, default=Path("artifacts/traces"))
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    cfg = get_preset(args.preset)
    datasets, _, _ = build_datasets(args.traces, cfg.data)
    train = datasets["train"]
    batch = cfg.train.micro_batch
    model_sps = train_rate(Mu0WorldModel(cfg.model), train, batch, 10)
    print(f"preset {args.preset}: micro-batch {batch}, {len(train)} training samples")
    print(f"  training step (forward + backward + AdamW)   {model_sps:8.0f} samples/s")
    for workers in (0, 2):
        sps = loader_rate(train, batch, workers, args.batches)
        print(f"  DataLoader, {workers} workers                     {sps:8.0f} samples/s   "
              f"ratio loader / training {sps / model_sps:6.1f}x")


if __name__ == "__main__":
    main()
