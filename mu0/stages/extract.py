"""TraceExtract over a folder of raw episodes: one trace episode per raw one, failures quarantined with the
reason, current episodes skipped."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import tyro

from mu0.config import TraceExtractConfig


@dataclasses.dataclass(frozen=True)
class ExtractArgs:
    # Folder of raw episodes.
    in_dir: Annotated[Path, tyro.conf.arg(name="in")] = Path("data/raw")
    # Folder that receives one trace episode per raw episode.
    out: Path = Path("artifacts/traces")
    # Folder for notes about episodes that were rejected, with the reason.
    quarantine: Path = Path("artifacts/quarantine/traces")
    # How traces are extracted.
    extract: TraceExtractConfig = TraceExtractConfig()

    @classmethod
    def from_preset(cls, preset) -> ExtractArgs:
        return cls(extract=preset.extract)


@dataclasses.dataclass(frozen=True)
class ExtractResult:
    outcomes: tuple  # trace_extract.pipeline.ExtractOutcome per episode, by episode id

    @classmethod
    def of(cls, outcomes) -> ExtractResult:
        return cls(tuple(sorted(outcomes, key=lambda o: o.episode_id)))

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(o.status == s for o in self.outcomes) for s in ("written", "replaced", "unchanged",
                                                                      "quarantined")}

    @property
    def usable(self) -> bool:
        """At least one episode was traced (every one quarantined is a failed stage)."""
        return len(self.outcomes) > self.counts["quarantined"]


def extract_stage(args: ExtractArgs, on_done: Callable | None = None) -> ExtractResult:
    """`on_done(raw_path, outcome)` after every episode."""
    from mu0.trace_extract.stage import extract

    return ExtractResult.of(extract(args.in_dir, args.out, args.quarantine, args.extract, on_done=on_done))
