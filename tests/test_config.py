import dataclasses
import json

import pytest

from mu0.config import ConfigError, MetaWorldSourceConfig, Mu0Config, TrainConfig, VideoSourceConfig, to_dict
from mu0.presets import PRESETS, UnknownPresetError, get_preset
from mu0.settings import Mu0Settings


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_build_and_serialise(name):
    cfg = get_preset(name)
    assert isinstance(cfg, Mu0Config) and cfg.preset == name
    assert json.loads(json.dumps(to_dict(cfg)))["metaworld"]["size"] == cfg.metaworld.size


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_preset("debug").metaworld.size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: MetaWorldSourceConfig(size=8), "size"),
        (lambda: MetaWorldSourceConfig(episodes_per_task=0), "episodes_per_task"),
        (lambda: MetaWorldSourceConfig(cameras=("front", "front")), "cameras"),
        (lambda: MetaWorldSourceConfig(max_steps=900), "max_steps"),
        (lambda: VideoSourceConfig(default_hfov_deg=200), "default_hfov_deg"),
        (lambda: VideoSourceConfig(frame_stride=0), "frame_stride"),
        (lambda: TrainConfig(ema_decay=0.999, zero_stage=3), "ema_decay"),
    ],
)
def test_invalid_values_name_the_field(factory, field):
    with pytest.raises(ConfigError, match=f"config field '{field}'"):
        factory()


def test_unknown_preset_has_a_hint():
    with pytest.raises(UnknownPresetError, match="Did you mean 'small'"):
        get_preset("smal")


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MU0_DVC_REMOTE", "s3")
    monkeypatch.setenv("MU0_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    s = Mu0Settings()
    assert s.dvc_remote == "s3" and s.s3_endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("MU0_DVC_REMOTE", "ftp")
    with pytest.raises(ValueError, match="dvc_remote"):
        Mu0Settings()
