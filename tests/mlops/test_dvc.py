"""DVC versioning of data/raw: commit + push after ingest, and a fresh clone pulls identical bytes."""

import filecmp
import shutil
import subprocess

import pytest

from mu0.episodes import list_episodes, open_episode, write_episode
from mu0.mlops.dvc import DvcError, find_dvc_root, read_data_version, run_dvc, version_data
from mu0.settings import Mu0Settings


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})


def _repo_with_episodes(tmp_path, episode_factory, n=3):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    run_dvc(repo, "init", "-q")
    (repo / ".gitignore").write_text("/data/\n")
    for i in range(n):
        write_episode(episode_factory(f"ep-{i}", seed=i), repo / "data" / "raw")
    return repo


def _assert_same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, (cmp.left_only, cmp.right_only)
    for sub in cmp.common_dirs:
        _assert_same_tree(a / sub, b / sub)
    for name in cmp.common_files:
        assert filecmp.cmp(a / name, b / name, shallow=False), name


@pytest.mark.slow
def test_clone_pulls_byte_identical_episodes_from_s3_remote(s3, moto_server, tmp_path, episode_factory):
    s3.create_bucket(Bucket="mu0-data")
    settings = Mu0Settings(dvc_remote="s3", s3_bucket="mu0-data", s3_dvc_prefix="dvc", s3_endpoint_url=moto_server.url)
    repo = _repo_with_episodes(tmp_path, episode_factory)
    version = version_data(repo / "data" / "raw", settings)
    assert version.nfiles > 0 and version.remote == "s3" and version.md5.endswith(".dir")
    assert s3.list_objects_v2(Bucket="mu0-data", Prefix="dvc/")["KeyCount"] > 0
    assert "endpointurl" not in (repo / ".dvc" / "config").read_text()  # settings stay out of git
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "data")

    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / "data").exists()
    from mu0.mlops.dvc import pull_data

    pull_data(clone, settings)
    _assert_same_tree(repo / "data" / "raw", clone / "data" / "raw")
    for path in list_episodes(clone / "data" / "raw"):
        open_episode(path, verify_hash=True)


@pytest.mark.slow
def test_new_data_gives_a_new_version_and_same_data_the_same(tmp_path, episode_factory):
    settings = Mu0Settings(dvc_remote="local", dvc_local_remote=tmp_path / "remote")
    repo = _repo_with_episodes(tmp_path, episode_factory, n=2)
    v1 = version_data(repo / "data" / "raw", settings)
    assert v1.remote == "local" and any((tmp_path / "remote").rglob("*"))
    assert version_data(repo / "data" / "raw", settings).md5 == v1.md5
    write_episode(episode_factory("ep-new", seed=9), repo / "data" / "raw")
    v2 = version_data(repo / "data" / "raw", settings)
    assert v2.md5 != v1.md5 and v2.nfiles > v1.nfiles
    assert read_data_version(repo / "data.dvc")["path"] == "data/raw"
    shutil.rmtree(repo / "data" / "raw")
    run_dvc(repo, "checkout", "data.dvc")
    assert len(list_episodes(repo / "data" / "raw")) == 3


def test_outside_a_dvc_repo_is_a_clear_error(tmp_path):
    (tmp_path / "raw").mkdir()
    assert find_dvc_root(tmp_path / "raw") is None
    with pytest.raises(DvcError, match="not inside a DVC repository"):
        version_data(tmp_path / "raw", Mu0Settings(dvc_remote="none"))
