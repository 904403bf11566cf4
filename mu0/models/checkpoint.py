"""Saving and loading models as a folder of `config.json` + `model.safetensors` — never pickle.

`config.json` is the model's config dataclass plus a "kind" key naming the model family. Loading checks,
before any weight is read, that the folder holds this kind, that the config has exactly the known
fields, that it matches the config a caller expects (listing every differing field), and that the
weights really are safetensors (a pickled .bin/.pt is refused, not unpickled).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from mu0.bundle.files import CONFIG_FILE, PICKLE_NAMES, WEIGHTS_FILE
from mu0.config import ConfigError, diff_fields, from_dict, to_dict


class CheckpointError(ValueError):
    """A model folder cannot be loaded; the message names the file and the problem."""


def read_kind(folder: Path) -> tuple[str, dict]:
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: missing (a model folder holds {CONFIG_FILE} and {WEIGHTS_FILE})")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from e
    return str(raw.pop("kind", "mu0")), raw  # folders written before "kind" existed are μ_0 models


def check_safetensors(path: Path) -> None:
    """A safetensors file starts with an 8-byte little-endian header length and a JSON header."""
    if not path.exists():
        pickled = [p.name for p in path.parent.glob("*") if p.name in PICKLE_NAMES]
        hint = f"; found {pickled}: pickled weights are not loaded (convert them to safetensors)" if pickled else ""
        raise CheckpointError(f"{path}: missing{hint}")
    with path.open("rb") as f:
        head = f.read(9)
    size = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else 0
    if len(head) < 9 or head[8:9] != b"{" or size > path.stat().st_size:
        raise CheckpointError(f"{path}: not a safetensors file (pickled or corrupt weights are never loaded)")


class Checkpointable:
    """Mixin for nn.Modules with `cfg` (a config dataclass), `kind` and `config_class`."""

    kind: str
    config_class: type

    def save_pretrained(self, folder: Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"kind": self.kind, **to_dict(self.cfg)}  # type: ignore[attr-defined]
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        state = {k: v.contiguous() for k, v in self.state_dict().items()}  # type: ignore[attr-defined]
        save_file(state, str(folder / WEIGHTS_FILE))
        return folder

    @classmethod
    def from_pretrained(cls, folder: Path, expect: object | None = None):
        from safetensors.torch import load_file

        folder = Path(folder)
        kind, raw = read_kind(folder)
        if kind != cls.kind:
            raise CheckpointError(f"{folder / CONFIG_FILE}: holds a '{kind}' model, not a '{cls.kind}' model")
        try:
            cfg = from_dict(cls.config_class, raw)
        except (ConfigError, TypeError) as e:
            raise CheckpointError(f"{folder / CONFIG_FILE}: {e}") from e
        if expect is not None and cfg != expect:
            raise CheckpointError(f"{folder / CONFIG_FILE}: config does not match the expected one: "
                                  + "; ".join(diff_fields(cfg, expect)))
        check_safetensors(folder / WEIGHTS_FILE)
        try:
            model = cls(cfg)  # type: ignore[call-arg]
        except ValueError as e:
            raise CheckpointError(f"{folder / CONFIG_FILE}: cannot build a model from it: {e}") from e
        state = load_file(str(folder / WEIGHTS_FILE))
        own = model.state_dict()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        shapes = [f"{k}: {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in own
                  if k in state and state[k].shape != own[k].shape]
        if missing or unexpected or shapes:
            raise CheckpointError(f"{folder / WEIGHTS_FILE}: weights do not fit the config: missing {missing[:5]}, "
                                  f"unexpected {unexpected[:5]}, shapes {shapes[:5]}")
        model.load_state_dict(state)
        return model

