"""The one small interface every source implements: a list of picklable jobs that build episodes.

A job is the unit of failure and of parallelism: a Meta-World rollout (one episode per camera),
one video file, one S3 object. If a job raises, every episode it would have produced is
quarantined with the reason and the other jobs go on.
"""

from __future__ import annotations

from typing import Protocol

from mu0.episodes import EpisodeData


class SourceError(RuntimeError):
    """A source input is unusable (corrupt video, bad sidecar, failed download); names the input."""


class IngestJob(Protocol):
    @property
    def label(self) -> str:
        """What the job reads (file path, s3:// URI, task + seed), for logs and quarantine notes."""
        ...

    @property
    def episode_ids(self) -> list[str]:
        """The ids of the episodes the job produces (known before it runs)."""
        ...

    def build(self) -> list[EpisodeData]:
        """Produce the episodes; raise SourceError (or EpisodeFormatError) on bad input."""
        ...
