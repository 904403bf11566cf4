"""Five sliding-box episodes (raw + extracted traces) that pass every expectation: the validation tests'
clean dataset, which each test then corrupts in its own way."""

from pathlib import Path

import numpy as np

from mu0.config import TraceExtractConfig
from mu0.episodes import write_episode
from mu0.trace_extract.stage import extract
from tests.trace_extract.synthetic import sliding_box_scene

EPISODES = ["box-a", "box-b", "box-c", "box-d", "box-e"]


def write_box_dataset(root: Path) -> Path:
    """`root/raw`, `root/traces` (quarantine `root/q`); returns root."""
    for i, eid in enumerate(EPISODES):
        ep = sliding_box_scene(episode_id=eid, speed_px=0.4 + 0.1 * i)
        t = ep.images.shape[0]
        ep.robot = {"actions": np.zeros((t, 4), np.float32), "proprio": np.zeros((t, 4), np.float32),
                    "success": np.zeros(t, bool)}
        ep.meta["embodiment"] = "sawyer"
        write_episode(ep, root / "raw")
    cfg = TraceExtractConfig(future_len=16, history_len=8, query_stride=3, min_coverage=0.2)
    assert all(o.status == "written" for o in extract(root / "raw", root / "traces", root / "q", cfg))
    return root
