import json

import numpy as np
import pytest

from mu0.episodes import EpisodeFormatError, list_episodes, open_episode, write_episode
from mu0.episodes.hashing import content_hash


def test_round_trip_memory_maps_and_records_hash(tmp_path, episode_factory):
    data = episode_factory("ep-a")
    result = write_episode(data, tmp_path / "raw")
    assert result.status == "written"
    ep = open_episode(result.path, verify_hash=True)
    assert isinstance(ep.images, np.memmap) and isinstance(ep.depth, np.memmap)
    np.testing.assert_array_equal(ep.frame(3), data.images[3])
    np.testing.assert_allclose(ep.depth[2], data.depth[2], rtol=1e-3)  # float16 on disk
    assert ep.depth.dtype == np.float16
    assert ep.meta["content_hash"] == content_hash(result.path) == result.content_hash
    assert ep.meta["num_frames"] == 6 and ep.meta["has_robot"] is True
    np.testing.assert_array_equal(ep.robot["actions"], data.robot["actions"])


def test_rewriting_identical_content_leaves_the_episode_untouched(tmp_path, episode_factory):
    first = write_episode(episode_factory("ep-a"), tmp_path / "raw")
    mtime = (first.path / "images.npy").stat().st_mtime_ns
    again = write_episode(episode_factory("ep-a"), tmp_path / "raw")
    assert again.status == "unchanged" and again.content_hash == first.content_hash
    assert (first.path / "images.npy").stat().st_mtime_ns == mtime
    changed = write_episode(episode_factory("ep-a", seed=1), tmp_path / "raw")
    assert changed.status == "replaced" and changed.content_hash != first.content_hash
    assert open_episode(changed.path, verify_hash=True).meta["content_hash"] == changed.content_hash
    assert list((tmp_path / ".staging").iterdir()) == []


def test_two_d_only_episode(tmp_path, episode_factory):
    result = write_episode(episode_factory("flat", depth=False, robot=False), tmp_path)
    ep = open_episode(result.path)
    assert ep.depth is None and ep.robot is None and ep.meta["has_depth"] is False


def _corrupt(data, what):
    if what == "images dtype":
        data.images = data.images.astype(np.float32)
    elif what == "depth shape":
        data.depth = data.depth[:, :-1]
    elif what == "depth NaN":
        data.depth[2, 3, 4] = np.nan
    elif what == "depth inf":
        data.depth[1, 0, 0] = np.inf
    elif what == "depth negative":
        data.depth[0, 0, 0] = -1
    elif what == "depth in millimetres":
        data.depth = data.depth * 1000 + 1000
    elif what == "K singular":
        data.intrinsics[4] = 0
    elif what == "K principal point outside":
        data.intrinsics[0, 0, 2] = 500
    elif what == "K NaN":
        data.intrinsics[1, 1, 1] = np.nan
    elif what == "extrinsics not rigid":
        data.extrinsics[3, :3, :3] *= 2
    elif what == "actions rows":
        data.robot["actions"] = data.robot["actions"][:-1]
    elif what == "bad id":
        data.meta["episode_id"] = "../escape"
    return data


@pytest.mark.parametrize(
    ("what", "field", "file"),
    [
        ("images dtype", "images", "images.npy"),
        ("depth shape", "depth", "depth.npy"),
        ("depth NaN", "depth", "depth.npy"),
        ("depth inf", "depth", "depth.npy"),
        ("depth negative", "depth", "depth.npy"),
        ("depth in millimetres", "depth", "depth.npy"),
        ("K singular", "intrinsics", "cameras.npz"),
        ("K principal point outside", "intrinsics", "cameras.npz"),
        ("K NaN", "intrinsics", "cameras.npz"),
        ("extrinsics not rigid", "extrinsics", "cameras.npz"),
        ("actions rows", "actions", "robot.npz"),
        ("bad id", "episode_id", "meta.json"),
    ],
)
def test_writer_rejects_bad_episodes_naming_file_and_field(tmp_path, episode_factory, what, field, file):
    data = _corrupt(episode_factory("ep-bad"), what)
    with pytest.raises(EpisodeFormatError) as err:
        write_episode(data, tmp_path / "raw")
    assert err.value.field == field and err.value.path.name == file
    assert file in str(err.value) and field in str(err.value)
    assert not (tmp_path / "raw" / "ep-bad").exists()


def test_reader_names_the_broken_file(tmp_path, episode_factory):
    path = write_episode(episode_factory("ep-a"), tmp_path).path
    np.save(path / "depth.npy", np.zeros((6, 24, 31), np.float16))  # wrong width on disk
    with pytest.raises(EpisodeFormatError, match=r"depth\.npy: field 'depth': shape is \(6, 24, 31\)"):
        open_episode(path)
    (path / "images.npy").write_bytes(b"not numpy")
    with pytest.raises(EpisodeFormatError, match=r"images\.npy: field 'images': not a readable \.npy"):
        open_episode(path)
    meta = json.loads((path / "meta.json").read_text())
    del meta["fps"]
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(EpisodeFormatError, match=r"meta\.json: field 'fps': missing"):
        open_episode(path)


def test_hash_verification_catches_changed_bytes(tmp_path, episode_factory):
    path = write_episode(episode_factory("ep-a"), tmp_path).path
    images = np.load(path / "images.npy")
    images[0, 0, 0, 0] ^= 1
    np.save(path / "images.npy", images)
    open_episode(path)  # layout still fine
    with pytest.raises(EpisodeFormatError, match="content_hash"):
        open_episode(path, verify_hash=True)


def test_list_episodes_skips_hidden_and_non_episodes(tmp_path, episode_factory):
    write_episode(episode_factory("b"), tmp_path)
    write_episode(episode_factory("a"), tmp_path)
    (tmp_path / "_ingest").mkdir()
    (tmp_path / "notes").mkdir()
    assert [p.name for p in list_episodes(tmp_path)] == ["a", "b"]
