"""Saving and loading models through `huggingface_hub`'s ModelHubMixin, as a folder (or a Hub repository) of
`config.json` + `model.safetensors` + a model card (`README.md`) — never pickle.

`config.json` is the model's config dataclass plus a "kind" key naming the model family. Loading checks,
before any weight is read, that the folder holds this kind, that the config has exactly the known
fields, that it matches the config a caller expects (listing every differing field), and that the
weights really are safetensors (a pickled .bin/.pt is refused, not unpickled; from the Hub only JSON and
safetensors files are fetched).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from huggingface_hub import ModelHubMixin, snapshot_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

from mu0.bundle.files import CONFIG_FILE, MODEL_CARD_FILE, PICKLE_NAMES, WEIGHTS_FILE
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


CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ kind }} ({{ class_name }})

A mu0 model: `config.json` (its config, with `"kind": "{{ kind }}"`), `model.safetensors` (its weights) and
this card. A mu0 model folder may also hold the statistics and protocol its traces need
(`delta_stats.json`, `protocol.json`) and how it was trained (`train_config.json`).

```python
from {{ module }} import {{ class_name }}

model = {{ class_name }}.from_pretrained("path/to/folder")  # or a Hub repository id
```

## Config

```json
{{ config }}
```
"""


class Checkpointable(ModelHubMixin, library_name="mu0", tags=["mu0", "robotics"], model_card_template=CARD_TEMPLATE):
    """Mixin for nn.Modules with `cfg` (a config dataclass), `kind` and `config_class`: the Hub mixin's
    `save_pretrained` / `from_pretrained` / `push_to_hub`, with mu0's config.json and its refusals."""

    kind: str
    config_class: type

    def save_pretrained(self, save_directory: str | Path, **kwargs) -> Path:  # type: ignore[override]
        """The mixin's save (weights, config.json, model card; `push_to_hub=True` pushes too); returns the folder."""
        super().save_pretrained(save_directory, **kwargs)
        return Path(save_directory)

    def _config_json(self) -> dict:
        """config.json: the config dataclass plus the model family's "kind"."""
        return {"kind": self.kind, **to_dict(self.cfg)}  # type: ignore[attr-defined]

    def _save_pretrained(self, save_directory: Path) -> None:
        from safetensors.torch import save_file

        (save_directory / CONFIG_FILE).write_text(json.dumps(self._config_json(), indent=2) + "\n")
        state = {k: v.contiguous() for k, v in self.state_dict().items()}  # type: ignore[attr-defined]
        save_file(state, str(save_directory / WEIGHTS_FILE))

    def generate_model_card(self, *args, **kwargs):
        config = json.dumps(self._config_json(), indent=2)
        return super().generate_model_card(*args, kind=self.kind, class_name=type(self).__name__,
                                           module=type(self).__module__, config=config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, expect: object | None = None,
                        **hub_kwargs):
        """A model folder, or a Hub repository id (fetched into the Hugging Face cache, JSON and safetensors
        only). `expect`: the config the caller needs; a differing one is refused, listing every field."""
        if Path(pretrained_model_name_or_path).is_dir():
            read_kind(Path(pretrained_model_name_or_path))  # a clear error before the mixin parses config.json
            return super().from_pretrained(pretrained_model_name_or_path, expect=expect, **hub_kwargs)
        try:
            return super().from_pretrained(pretrained_model_name_or_path, expect=expect, **hub_kwargs)
        except (LocalEntryNotFoundError, HfHubHTTPError) as e:
            raise CheckpointError(f"{pretrained_model_name_or_path}: not a model folder, and not fetched from the "
                                  f"Hub ({e})") from e

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None, cache_dir, force_download: bool,
                         local_files_only: bool, token, expect: object | None = None):
        folder = Path(model_id)
        if not folder.is_dir():
            folder = Path(snapshot_download(model_id, revision=revision, cache_dir=cache_dir, token=token,
                                            force_download=force_download, local_files_only=local_files_only,
                                            allow_patterns=["*.json", "*.safetensors", MODEL_CARD_FILE]))
        return cls._load_folder(folder, expect)

    @classmethod
    def _load_folder(cls, folder: Path, expect: object | None):
        from safetensors.torch import load_file

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
