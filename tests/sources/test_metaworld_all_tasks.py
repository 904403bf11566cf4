"""Every one of Meta-World v3's 50 tasks must roll out, render and write (a few steps each)."""

import pytest

from mu0.episodes import open_episode
from mu0.sources.ingest import run_job
from mu0.sources.metaworld import MetaWorldRollout, all_tasks


@pytest.mark.slow
@pytest.mark.parametrize("task", all_tasks())
def test_task_rolls_out_and_writes(tmp_path, task):
    job = MetaWorldRollout(task, 0, ("front", "gripperPOV"), 24, 3, 0, 0.0)
    outcomes = run_job(job, tmp_path / "raw", tmp_path / "q")
    assert [o.status for o in outcomes] == ["written", "written"], outcomes
    ep = open_episode(tmp_path / "raw" / outcomes[0].episode_id, verify_hash=True)
    assert ep.num_frames == 3 and ep.meta["task"] == task and len(ep.meta["instructions"]) == 3
