"""The on-disk episode layout (DESIGN.md §4): schema, memory-mapped reader, atomic writer."""

from mu0.episodes.reader import Episode, list_episodes, open_episode, read_meta
from mu0.episodes.schema import EpisodeFormatError
from mu0.episodes.writer import EpisodeData, WriteResult, recover_staging, write_episode

__all__ = [
    "Episode",
    "EpisodeData",
    "EpisodeFormatError",
    "WriteResult",
    "list_episodes",
    "open_episode",
    "read_meta",
    "recover_staging",
    "write_episode",
]
