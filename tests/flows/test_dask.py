"""The mapped stages on a real `distributed` cluster (2 worker processes on 127.0.0.1): the extraction flow through
Prefect's Dask task runner, and the library's own per-item maps (ingest rollouts, policy rollouts), with the
same bytes as the process-pool path."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    from mu0.parallel import local_cluster_kwargs

    with LocalCluster(**local_cluster_kwargs(2)) as running:
        assert len(running.workers) == 2
        yield running


def digests(root: Path) -> dict[str, str]:
    """Every file's hash; meta.json without what records how a run ran rather than what it computed: wall-clock
    timings and the worker count."""
    def content(p: Path) -> bytes:
        if p.name != "meta.json":
            return p.read_bytes()
        meta = json.loads(p.read_text())
        meta["extract"].pop("timing_s")
        meta["extract"]["config"].pop("workers")
        return json.dumps(meta, sort_keys=True).encode()

    return {str(p.relative_to(root)): hashlib.sha256(content(p)).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_extraction_flow_on_a_dask_cluster_writes_the_process_pool_bytes(metaworld_episodes, cluster, tmp_path):
    from prefect.testing.utilities import prefect_test_harness

    from flows.stage_flows import extract_flow
    from mu0.presets import get_preset
    from mu0.trace_extract.stage import extract

    cfg = dataclasses.replace(get_preset("debug").extract, workers=2)
    pooled = extract(metaworld_episodes, tmp_path / "pool", tmp_path / "q-pool", cfg)
    assert [o.status for o in pooled] == ["written", "written"]
    assert "extract_episode" not in cluster.scheduler.task_prefixes
    with prefect_test_harness(server_startup_timeout=120):
        counts = extract_flow("debug", str(metaworld_episodes), str(tmp_path / "dask"), str(tmp_path / "q-dask"),
                              dask_address=cluster.scheduler_address)
    assert counts.get("written") == 2
    assert digests(tmp_path / "dask") == digests(tmp_path / "pool") != {}
    assert "extract_episode" in cluster.scheduler.task_prefixes  # the episodes went through the cluster


def test_library_maps_run_on_the_cluster_when_asked_and_give_the_same_results(cluster, monkeypatch):
    from mu0.parallel import DASK_ADDRESS_ENV, map_unordered

    items = list(range(6))
    local = dict(map_unordered(_square_and_pid, items, 2))
    monkeypatch.setenv(DASK_ADDRESS_ENV, cluster.scheduler_address)
    remote = dict(map_unordered(_square_and_pid, items, 2))
    assert {k: v[0] for k, v in remote.items()} == {k: v[0] for k, v in local.items()} == {i: i * i for i in items}
    from distributed import Client

    with Client(cluster) as client:
        worker_pids = set(client.run(_pid).values())
    assert {pid for _, pid in remote.values()} <= worker_pids  # computed in the cluster's worker processes


def test_asking_for_dask_without_the_extra_names_the_install(monkeypatch):
    import sys

    from mu0.parallel import DASK_ADDRESS_ENV, map_unordered

    monkeypatch.setenv(DASK_ADDRESS_ENV, "tcp://127.0.0.1:1")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[dask\]'"):
        list(map_unordered(_square_and_pid, [1, 2], 2))


def _square_and_pid(x: int) -> tuple[int, int]:
    import os

    return x * x, os.getpid()


def _pid() -> int:
    import os

    return os.getpid()
