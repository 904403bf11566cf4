import numpy as np
import pytest

from mu0.config import S3SourceConfig
from mu0.episodes import list_episodes, open_episode
from mu0.episodes.quarantine import read_quarantine
from mu0.sources.s3 import parse_s3_uri
from mu0.sources.stages import ingest_s3
from tests.servers import FaultyProxy

from .video_fixtures import plane_depth, synthetic_frames, write_mp4

T, H, W = 8, 32, 48
FAST = S3SourceConfig(max_attempts=3, retry_backoff_s=0.01)


def _upload_clips(s3, tmp_path, names, bucket="videos", prefix="robot/day1"):
    s3.create_bucket(Bucket=bucket)
    for i, name in enumerate(names):
        clip = write_mp4(tmp_path / f"{name}.mp4", synthetic_frames(T, H, W) // (i + 1))
        s3.upload_file(str(clip), bucket, f"{prefix}/{name}.mp4")
    return f"s3://{bucket}/{prefix}"


def _ingest(uri, tmp_path, endpoint, cfg=FAST):
    return ingest_s3(uri, cfg, tmp_path / "raw", tmp_path / "q", tmp_path / "cache", endpoint_url=endpoint)


def test_ingest_downloads_videos_and_sidecars(s3, moto_server, tmp_path):
    uri = _upload_clips(s3, tmp_path, ["a"])
    s3.put_object(Bucket="videos", Key="robot/day1/a.json", Body=b'{"instruction": "wipe the table", "fps": 5}')
    depth_file = tmp_path / "a.depth.npy"
    np.save(depth_file, plane_depth(T, H, W, 0.8))
    s3.upload_file(str(depth_file), "videos", "robot/day1/a.depth.npy")
    report = _ingest(uri, tmp_path / "run", moto_server.url)
    [eid] = report.ids("written")
    ep = open_episode(tmp_path / "run" / "raw" / eid, verify_hash=True)
    assert ep.meta["source_uri"] == "s3://videos/robot/day1/a.mp4" and ep.meta["instructions"] == ["wipe the table"]
    assert ep.meta["fps"] == 5 and np.allclose(np.asarray(ep.depth, np.float32), 0.8, atol=1e-3)


def test_rerun_ingests_only_what_is_new(s3, moto_server, tmp_path):
    uri = _upload_clips(s3, tmp_path, ["a", "b"])
    first = _ingest(uri, tmp_path / "run", moto_server.url)
    assert len(first.ids("written")) == 2
    with FaultyProxy(int(moto_server.url.rsplit(":", 1)[1])) as proxy:
        proxy.cut = {"a.mp4": 0, "b.mp4": 0, "c.mp4": 0}  # count GETs, fail none
        second = _ingest(uri, tmp_path / "run", proxy.url)
        assert second.ids("unchanged") == ["s3://videos/robot/day1/a.mp4", "s3://videos/robot/day1/b.mp4"]
        assert proxy.gets == {}  # nothing downloaded again
        write_mp4(tmp_path / "c.mp4", synthetic_frames(T, H, W) // 5)
        s3.upload_file(str(tmp_path / "c.mp4"), "videos", "robot/day1/c.mp4")
        third = _ingest(uri, tmp_path / "run", proxy.url)
        assert len(third.ids("written")) == 1 and proxy.gets == {"c.mp4": 1}
    assert len(list_episodes(tmp_path / "run" / "raw")) == 3


def test_a_download_cut_off_once_is_retried_and_verified(s3, moto_server, tmp_path):
    uri = _upload_clips(s3, tmp_path, ["a"])
    with FaultyProxy(int(moto_server.url.rsplit(":", 1)[1])) as proxy:
        proxy.cut = {"a.mp4": 1}
        report = _ingest(uri, tmp_path / "run", proxy.url)
        assert proxy.gets["a.mp4"] == 2
    [eid] = report.ids("written")
    assert open_episode(tmp_path / "run" / "raw" / eid, verify_hash=True).num_frames == T


def test_a_download_that_keeps_failing_is_quarantined_and_the_rest_ingested(s3, moto_server, tmp_path):
    uri = _upload_clips(s3, tmp_path, ["a", "b"])
    with FaultyProxy(int(moto_server.url.rsplit(":", 1)[1])) as proxy:
        proxy.cut = {"b.mp4": -1}
        report = _ingest(uri, tmp_path / "run", proxy.url)
        assert proxy.gets["b.mp4"] == FAST.max_attempts
    assert len(report.ids("written")) == 1 and report.ids("written")[0].startswith("vid-a-")
    [note] = read_quarantine(tmp_path / "run" / "q")
    assert note["source"] == "s3://videos/robot/day1/b.mp4"
    assert "download failed after 3 attempts" in note["reason"]
    assert not list((tmp_path / "run" / "cache").rglob("*.part"))  # no partial file left behind


def test_bad_uri_is_rejected():
    with pytest.raises(ValueError, match="not an s3:// URI"):
        parse_s3_uri("videos/robot")
    assert parse_s3_uri("s3://b/p/q") == ("b", "p/q")


def test_an_endpoint_that_is_down_is_one_message_naming_it_and_nothing_is_written(s3, tmp_path, monkeypatch, capfd):
    from mu0.cli import main
    from tests.servers import free_port

    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MU0_S3_ENDPOINT_URL", down)
    rc = main(["ingest", "s3://videos/robot", "--out", str(tmp_path / "raw"), "--quarantine", str(tmp_path / "q"),
               "--no-version"])
    said = " ".join("".join(capfd.readouterr()).split())
    assert rc == 1 and f"cannot reach the S3 endpoint {down}" in said and "Traceback" not in said
    assert "Nothing was ingested" in said and not list_episodes(tmp_path / "raw")


def test_a_missing_bucket_is_named(s3, moto_server, tmp_path):
    from mu0.sources.s3 import S3Unreachable

    with pytest.raises(S3Unreachable, match=rf"s3://nope/x at {moto_server.url}: bucket 'nope' does not exist"):
        _ingest("s3://nope/x", tmp_path, moto_server.url)
