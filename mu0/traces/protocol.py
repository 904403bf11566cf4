"""The trace protocol: what one step and one horizon of a trace mean, so a model is only ever scored on
targets defined the way its training targets were.

It combines how the traces were retargeted (TraceExtract's interval and robust-length fraction, read
from the trace episodes' meta.json) with how samples are cut from them (horizon and history). A model
folder keeps the protocol it was trained with (`protocol.json`); evaluation refuses a model whose
protocol differs from the evaluation data's, listing the differing fields. Official TraceExtract
datasets carry no meta.json: their retargeting is unknown and not compared.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from mu0.bundle.files import PROTOCOL_FILE
from mu0.config import TraceDataConfig, diff_fields
from mu0.episodes.trace_layout import read_trace_meta, retargeting


class ProtocolMismatchError(ValueError):
    """A model is asked to predict traces defined differently from the ones it was trained on."""


@dataclasses.dataclass(frozen=True)
class TraceProtocol:
    retarget_interval: float | None  # path length per retargeted step (normalised image units); None: unknown
    retarget_top_fraction: float | None
    horizon: int
    history: int

    def save(self, folder: Path) -> None:
        (Path(folder) / PROTOCOL_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> TraceProtocol | None:
        path = Path(folder) / PROTOCOL_FILE
        return cls(**json.loads(path.read_text())) if path.exists() else None


def _retargeting(paths: list[Path]) -> tuple[float | None, float | None]:
    """The one (interval, top fraction) all episodes were retargeted with; an error if they disagree."""
    seen: dict[tuple, str] = {}
    for path in paths:
        key = retargeting(read_trace_meta(path))
        seen.setdefault(key, path.name)
    known = {k: v for k, v in seen.items() if k != (None, None)}
    if len(known) > 1:
        listed = "; ".join(f"{name}: interval {k[0]}, top fraction {k[1]}" for k, name in known.items())
        raise ProtocolMismatchError(f"trace episodes were retargeted differently ({listed}); re-extract them "
                                    "with one setting")
    return next(iter(known), (None, None))


def protocol_of(paths: list[Path], cfg: TraceDataConfig) -> TraceProtocol:
    interval, top = _retargeting(paths)
    return TraceProtocol(interval, top, cfg.horizon, cfg.history)


def check_protocol(model_folder: Path, data: TraceProtocol | None,
                   other: str = "the evaluation data's (trained != evaluated)") -> None:
    """Refuse a model whose recorded protocol differs from `other`'s, here the data's (fields unknown on either
    side are not compared); a model folder from before protocols were recorded is not checked, nor is an
    unknown `data` protocol."""
    trained = TraceProtocol.load(model_folder)
    if trained is None or data is None:
        return
    blank = {f.name: None for f in dataclasses.fields(TraceProtocol) if f.name.startswith("retarget")}
    if None in (trained.retarget_interval, data.retarget_interval):
        trained, data = dataclasses.replace(trained, **blank), dataclasses.replace(data, **blank)
    differ = diff_fields(trained, data)
    if differ:
        raise ProtocolMismatchError(f"{Path(model_folder) / PROTOCOL_FILE}: the model was trained with another trace "
                                    f"protocol than {other}: " + "; ".join(differ))
