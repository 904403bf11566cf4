"""kill -9 a writer at arbitrary moments: the output folder only ever holds complete episodes."""

import os
import signal
import subprocess
import sys
import time

import pytest

from mu0.episodes import list_episodes, open_episode, recover_staging
from mu0.episodes.writer import staging_dir_for

WRITER = """
import sys, itertools
sys.path.insert(0, {tests!r})
from conftest import make_episode_data
from mu0.episodes import write_episode
from pathlib import Path
out = Path(sys.argv[1])
for i in itertools.count():
    write_episode(make_episode_data("big", t=120, h=128, w=128, seed=i % 2), out)
    print("wrote", i, flush=True)
"""


@pytest.mark.parametrize("delay_s", [0.05, 0.2, 0.45, 0.8, 1.3])
def test_kill_9_during_writes_leaves_old_version_or_nothing(tmp_path, delay_s):
    out = tmp_path / "raw"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(tests=os.path.dirname(os.path.dirname(__file__))))
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(delay_s + 1.0)  # interpreter start-up takes ~1 s
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    writes = proc.stdout.read().count("wrote")
    if delay_s >= 0.8:
        assert writes >= 1, "the writer never got going; the kill tested nothing"
    # Whatever is published is complete and matches its hash; partial writes live only in staging.
    for path in list_episodes(out):
        open_episode(path, verify_hash=True)
    published = [p.name for p in out.iterdir()] if out.exists() else []  # killed before it started: nothing
    assert published in ([], ["big"])
    recover_staging(out)
    staging = staging_dir_for(out)
    assert not staging.exists() or list(staging.iterdir()) == []
    for path in list_episodes(out):
        open_episode(path, verify_hash=True)


def test_recovery_restores_an_old_version_whose_replacement_was_interrupted(tmp_path, episode_factory):
    from mu0.episodes import write_episode

    out = tmp_path / "raw"
    path = write_episode(episode_factory("ep"), out).path
    staging = staging_dir_for(out)
    staging.mkdir(exist_ok=True)
    os.replace(path, staging / "ep.1234abcd.old")  # crash after the first of the two renames
    (staging / "ep.deadbeef").mkdir()  # and a half-written new version
    actions = recover_staging(out)
    assert any("restored" in a for a in actions) and any("removed" in a for a in actions)
    open_episode(out / "ep", verify_hash=True)
    assert list(staging.iterdir()) == []
