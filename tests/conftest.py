"""Shared fixtures: environment for headless rendering and quiet tools, tiny episodes built on tmp_path."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mu0.episodes import EpisodeData  # noqa: E402


def make_episode_data(episode_id: str = "ep-0", t: int = 6, h: int = 24, w: int = 32, depth: bool = True,
                      robot: bool = True, seed: int = 0) -> EpisodeData:
    """A small, valid episode: a bright square sliding over noise, a plane 1-2 m away, a static camera."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(t, h, w, 3), dtype=np.uint8)
    for i in range(t):
        images[i, 4:10, 2 + i : 8 + i] = 250
    K = np.array([[30.0, 0, (w - 1) / 2], [0, 30.0, (h - 1) / 2], [0, 0, 1]], np.float32)
    meta = {"episode_id": episode_id, "source": "synthetic", "task": "slide", "fps": 10.0,
            "instructions": ["slide the square right"], "embodiment": "none", "camera": "static"}
    return EpisodeData(
        meta=meta,
        images=images,
        intrinsics=np.repeat(K[None], t, axis=0),
        extrinsics=np.repeat(np.eye(4, dtype=np.float32)[None], t, axis=0),
        depth=(1.0 + rng.random((t, h, w))).astype(np.float32) if depth else None,
        robot={"actions": rng.normal(size=(t, 4)).astype(np.float32),
               "proprio": rng.normal(size=(t, 4)).astype(np.float32),
               "success": np.zeros(t, bool)} if robot else None,
    )


@pytest.fixture
def episode_factory():
    return make_episode_data


@pytest.fixture(scope="session")
def metaworld_episodes(tmp_path_factory) -> Path:
    """One short reach-v3 rollout recorded from a static and the wrist camera (shared, read-only)."""
    from mu0.config import MetaWorldSourceConfig
    from mu0.sources.stages import ingest_metaworld

    root = tmp_path_factory.mktemp("metaworld")
    cfg = MetaWorldSourceConfig(tasks=("pick-place-v3",), episodes_per_task=1, cameras=("front", "gripperPOV"),
                                size=64, max_steps=40, workers=1)
    report = ingest_metaworld(cfg, root / "raw", root / "quarantine")
    assert not report.quarantined, report.quarantined
    return root / "raw"


@pytest.fixture(scope="session")
def moto_server():
    """A real moto S3 server on 127.0.0.1 for the whole session (stopped at the end)."""
    from tests.servers import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(moto_server, monkeypatch):
    """A clean S3 (buckets emptied) with dummy credentials in the environment, never in files."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MU0_S3_ENDPOINT_URL", moto_server.url)
    moto_server.reset()
    from mu0.sources.s3 import make_client

    return make_client(moto_server.url)
