"""`mu0 train-flow`: TraceExtract's flow network (`mu0 extract --motion learned`) trained on simulated
episodes' ground truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mu0.cli.common import console, parse
from mu0.config import FlowTrainConfig


@dataclasses.dataclass(frozen=True)
class TrainFlowArgs:
    # Folder of simulated raw episodes with depth and per-pixel body ids (`mu0 ingest metaworld
    # --body-ids-every 1` gives a map every frame); only tasks DESIGN.md §8 allows for training.
    raw: Path = Path("data/raw")
    # Where the weights go (safetensors); `mu0 extract --motion learned --flow-weights PATH` reads them.
    out: Path = Path("artifacts/flow/flow_net.safetensors")
    # Training settings.
    train: FlowTrainConfig = FlowTrainConfig()


def run(args: list[str]) -> int:
    from mu0.episodes import list_episodes
    from mu0.trace_extract.flow.training import train_flow_net

    parsed = parse(TrainFlowArgs, TrainFlowArgs(), args, "mu0 train-flow",
                   "Train TraceExtract's flow network on the simulator's exact correspondences: the flow of every "
                   "pixel between nearby frames, beside the camera's own flow from depth and poses.")
    raws = list_episodes(parsed.raw)
    if not raws:
        console.print(f"[red]error:[/red] no episodes under {parsed.raw}")
        return 2
    try:
        info = train_flow_net(raws, parsed.out, parsed.train, log=console.print)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    console.print(f"flow network → {parsed.out} ({info['pairs']} pairs from {info['episodes']} episodes of "
                  f"{len(info['tasks'])} tasks, {info['steps']} steps)")
    return 0
