"""Named presets: `debug` runs every stage in seconds, `tiny` is the demo, `small` the benchmark scale."""

from __future__ import annotations

import difflib
import functools

from mu0.config import MetaWorldSourceConfig, Mu0Config, TraceExtractConfig


def _debug() -> Mu0Config:
    return Mu0Config(
        preset="debug",
        metaworld=MetaWorldSourceConfig(
            tasks=("reach-v3",), episodes_per_task=1, cameras=("front",), size=64, max_steps=20
        ),
        extract=TraceExtractConfig(future_len=32, history_len=8, max_points_per_frame=32, min_coverage=0.1),
    )


def _tiny() -> Mu0Config:
    return Mu0Config(
        preset="tiny",
        metaworld=MetaWorldSourceConfig(episodes_per_task=2, size=128, max_steps=150, workers=2),
        extract=TraceExtractConfig(workers=2),
    )


def _small() -> Mu0Config:
    return Mu0Config(
        preset="small",
        metaworld=MetaWorldSourceConfig(episodes_per_task=10, size=128, max_steps=200, workers=2),
        extract=TraceExtractConfig(workers=2),
    )


PRESETS = {"debug": _debug, "tiny": _tiny, "small": _small}


class UnknownPresetError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@functools.cache
def get_preset(name: str) -> Mu0Config:
    """The preset called `name`, with a did-you-mean hint when it does not exist."""
    if name not in PRESETS:
        close = difflib.get_close_matches(name, PRESETS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UnknownPresetError(f"unknown preset '{name}'; valid: {', '.join(PRESETS)}.{hint}")
    return PRESETS[name]()
