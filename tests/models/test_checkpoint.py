"""Loading model folders: clear errors for everything that does not fit, and never any pickle."""

import json

import pytest
import torch

from mu0.config import BackboneConfig, TraceExpertConfig, WorldModelConfig
from mu0.models.checkpoint import CheckpointError
from mu0.models.registry import load_model
from mu0.models.world_model import Mu0WorldModel

CFG = WorldModelConfig(backbone=BackboneConfig(image_size=32), expert=TraceExpertConfig(width=32, layers=1),
                       horizon=16, history=4)


@pytest.fixture
def folder(tmp_path):
    return Mu0WorldModel(CFG).save_pretrained(tmp_path / "model")


def test_a_config_that_does_not_match_lists_every_mismatched_field(folder):
    other = WorldModelConfig(backbone=BackboneConfig(image_size=64), expert=TraceExpertConfig(width=32, layers=2),
                             horizon=16, history=4)
    with pytest.raises(CheckpointError) as err:
        Mu0WorldModel.from_pretrained(folder, expect=other)
    assert "backbone.image_size: 32 != 64" in str(err.value) and "expert.layers: 1 != 2" in str(err.value)
    assert "horizon" not in str(err.value)


def test_unknown_fields_and_wrong_kinds_are_named(folder):
    raw = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**raw, "decoder_layers": 3}))
    with pytest.raises(CheckpointError, match=r"config.json.*unknown fields \['decoder_layers'\]"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({**raw, "kind": "track-transformer"}))
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(folder)
    (folder / "config.json").write_text(json.dumps({**raw, "kind": "diffusion-policy"}))
    with pytest.raises(CheckpointError, match="unknown model kind 'diffusion-policy'"):
        load_model(folder)


def test_pickled_weights_are_refused_not_unpickled(folder):
    weights = folder / "model.safetensors"
    torch.save(Mu0WorldModel(CFG).state_dict(), weights)  # a pickle under the safetensors name
    with pytest.raises(CheckpointError, match="model.safetensors: not a safetensors file"):
        load_model(folder)
    weights.rename(folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"missing; found \['pytorch_model.bin'\]"):
        load_model(folder)


def test_weights_of_another_shape_are_listed(folder, tmp_path):
    raw = json.loads((folder / "config.json").read_text())
    raw["expert"]["num_ctrl"] = 7  # the config says 7 control points; the weights were made for 10
    (folder / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match=r"model.safetensors: weights do not fit the config.*velocity_out"):
        load_model(folder)


def test_a_saved_model_has_a_model_card_that_says_how_to_load_it(folder):
    card = (folder / "README.md").read_text()
    assert "library_name: mu0" in card and "# mu0 (Mu0WorldModel)" in card
    assert "from mu0.models.world_model import Mu0WorldModel" in card and '"horizon": 16' in card


def test_a_hub_repository_in_the_cache_loads_like_a_folder_and_an_absent_one_is_named(folder, tmp_path, monkeypatch):
    import shutil

    cache = tmp_path / "hf-cache"
    snapshot = cache / "models--lab--mu0-tiny" / "snapshots" / ("0" * 40)
    shutil.copytree(folder, snapshot)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing leaves this machine
    loaded = Mu0WorldModel.from_pretrained("lab/mu0-tiny", cache_dir=cache, local_files_only=True)
    torch.testing.assert_close(loaded.state_dict(), load_model(folder).state_dict())
    with pytest.raises(CheckpointError, match="lab/other: not a model folder, and not fetched from the Hub"):
        Mu0WorldModel.from_pretrained("lab/other", cache_dir=cache, local_files_only=True)
