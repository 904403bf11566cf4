"""A trace model's folder: the model (μ_0 or a baseline), the delta statistics that turn its normalised
output into image units and metres, the trace protocol it was trained with, and how it was trained."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from mu0.bundle.files import STATS_FILE
from mu0.bundle.read import read_record
from mu0.bundle.save import save_folder
from mu0.models.registry import load_model
from mu0.traces.normalize import DeltaStats
from mu0.traces.protocol import TraceProtocol


@dataclasses.dataclass(frozen=True)
class TraceBundle:
    folder: Path
    model: torch.nn.Module
    stats: DeltaStats
    protocol: TraceProtocol | None  # None: a folder from before protocols were recorded
    record: dict  # train_config.json ({} when absent)

    @property
    def scale(self) -> torch.Tensor:
        """(3,) what the model's normalised deltas are multiplied by (u, v unit coordinates; z metres)."""
        return torch.tensor(self.stats.scale, dtype=torch.float32)

    @property
    def history_unit(self) -> torch.Tensor:
        return torch.tensor(self.stats.history_unit())


def read_stats(folder: Path) -> DeltaStats:
    return DeltaStats.load(Path(folder) / STATS_FILE)


def load_trace_bundle(folder: Path, expect=None) -> TraceBundle:
    """Any trace model's folder, in eval mode; `expect` (a config) must match the recorded one."""
    folder = Path(folder)
    return TraceBundle(folder, load_model(folder, expect).eval(), read_stats(folder), TraceProtocol.load(folder),
                       read_record(folder))


def save_trace_bundle(model, folder: Path, stats: DeltaStats, protocol: TraceProtocol, record: dict) -> Path:
    """config.json + model.safetensors, the statistics, the protocol and `record`; atomically."""
    def fill(staging: Path) -> None:
        model.save_pretrained(staging)
        (staging / STATS_FILE).write_text(stats.to_json() + "\n")
        protocol.save(staging)

    return save_folder(folder, fill, record)
