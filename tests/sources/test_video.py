import json

import numpy as np
import pytest

from mu0.config import VideoSourceConfig
from mu0.episodes import list_episodes, open_episode
from mu0.episodes.quarantine import read_quarantine
from mu0.sources.base import SourceError
from mu0.sources.stages import ingest_videos
from mu0.sources.video import default_intrinsics, load_video_episode

from .video_fixtures import plane_depth, synthetic_frames, write_mp4, write_sidecars

T, H, W = 12, 48, 64


@pytest.fixture
def clip(tmp_path):
    return write_mp4(tmp_path / "clip.mp4", synthetic_frames(T, H, W))


def test_video_with_sidecars_becomes_a_3d_episode(tmp_path, clip):
    K = [[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]]
    E = np.eye(4).tolist()
    write_sidecars(clip, T, H, W, depth=plane_depth(T, H, W), fps=15, instruction="push the red block",
                   intrinsics=K, extrinsics=E, task="push-block", embodiment="franka")
    report = ingest_videos([clip], VideoSourceConfig(), tmp_path / "raw", tmp_path / "q")
    [eid] = report.ids("written")
    ep = open_episode(tmp_path / "raw" / eid, verify_hash=True)
    assert ep.images.shape == (T, H, W, 3) and ep.meta["fps"] == 15
    assert ep.meta["instructions"] == ["push the red block"] and ep.meta["camera_poses"] == "given"
    np.testing.assert_allclose(ep.intrinsics[5], K)
    np.testing.assert_allclose(np.asarray(ep.depth, np.float32), 1.5)
    # the decoded frames are the video's frames (lossy codec: close, not equal)
    assert np.abs(ep.frame(6).astype(int) - synthetic_frames(T, H, W)[6]).mean() < 6


def test_video_without_sidecars_is_2d_only_with_default_intrinsics(tmp_path, clip):
    ep = load_video_episode(clip, VideoSourceConfig(default_hfov_deg=90.0))
    assert ep.depth is None and ep.meta["camera_poses"] == "unknown"
    np.testing.assert_allclose(ep.intrinsics[0], default_intrinsics(H, W, 90.0), rtol=1e-6)
    assert ep.intrinsics[0, 0, 0] == pytest.approx(32.0)  # 0.5 * 64 / tan(45°)


def test_stride_and_resize_scale_the_camera(tmp_path, clip):
    write_sidecars(clip, T, H, W, depth=plane_depth(T, H, W), intrinsics=[[50.0, 0, 31.5], [0, 50.0, 23.5], [0, 0, 1]])
    ep = load_video_episode(clip, VideoSourceConfig(max_side=32, frame_stride=3, fps=12))
    assert ep.images.shape == (4, 24, 32, 3) and ep.depth.shape == (4, 24, 32)
    np.testing.assert_allclose(ep.intrinsics[0], [[25.0, 0, 15.5], [0, 25.0, 11.5], [0, 0, 1]])


def test_image_folder_with_16bit_png_depth(tmp_path):
    import cv2

    folder = tmp_path / "scene"
    (tmp_path / "scene.depth").mkdir()
    folder.mkdir()
    frames = synthetic_frames(5, H, W)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(tmp_path / "scene.depth" / f"{i:04d}.png"), np.full((H, W), 1250, np.uint16))
    ep = load_video_episode(folder, VideoSourceConfig(fps=5))
    np.testing.assert_array_equal(ep.images, frames)
    np.testing.assert_allclose(ep.depth, 1.25)
    assert ep.meta["fps"] == 5


def test_bad_inputs_are_quarantined_with_the_file_named_and_the_rest_written(tmp_path):
    frames = synthetic_frames(T, H, W)
    write_mp4(tmp_path / "good.mp4", frames)
    truncated = write_mp4(tmp_path / "truncated.mp4", frames)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 3])
    garbage = tmp_path / "garbage.webm"
    garbage.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 20)
    nan_depth = write_mp4(tmp_path / "nandepth.mp4", frames)
    depth = plane_depth(T, H, W)
    depth[4, 10, 10] = np.nan
    write_sidecars(nan_depth, T, H, W, depth=depth)
    inf_depth = write_mp4(tmp_path / "infdepth.mp4", frames)
    depth = plane_depth(T, H, W)
    depth[0, 0, 0] = np.inf
    write_sidecars(inf_depth, T, H, W, depth=depth)
    short_depth = write_mp4(tmp_path / "shortdepth.mp4", frames)
    write_sidecars(short_depth, T, H, W, depth=plane_depth(T - 2, H, W))
    bad_k = write_mp4(tmp_path / "badk.mp4", frames)
    write_sidecars(bad_k, T, H, W, intrinsics=[[0, 0, 0], [0, 0, 0], [0, 0, 1]])

    report = ingest_videos([tmp_path / n for n in ("good.mp4", "truncated.mp4", "garbage.webm", "nandepth.mp4",
                                                   "infdepth.mp4", "shortdepth.mp4", "badk.mp4")],
                           VideoSourceConfig(), tmp_path / "raw", tmp_path / "q")
    assert len(report.ids("written")) == 1 and report.ids("written")[0].startswith("vid-good-")
    reasons = {n["source"].rsplit("/", 1)[-1]: n["reason"] for n in read_quarantine(tmp_path / "q")}
    assert set(reasons) == {"truncated.mp4", "garbage.webm", "nandepth.mp4", "infdepth.mp4", "shortdepth.mp4",
                            "badk.mp4"}
    assert "truncated.mp4" in reasons["truncated.mp4"] and "garbage.webm" in reasons["garbage.webm"]
    assert "nandepth.depth.npy" in reasons["nandepth.mp4"] and "NaN/inf" in reasons["nandepth.mp4"]
    assert "infdepth.depth.npy" in reasons["infdepth.mp4"]
    assert "shortdepth.depth.npy" in reasons["shortdepth.mp4"] and "shape" in reasons["shortdepth.mp4"]
    assert "cameras.npz" in reasons["badk.mp4"] and "intrinsics" in reasons["badk.mp4"]
    assert [p.name for p in list_episodes(tmp_path / "raw")] == report.ids("written")


def test_a_fixed_input_leaves_quarantine(tmp_path):
    frames = synthetic_frames(T, H, W)
    clip = write_mp4(tmp_path / "clip.mp4", frames)
    write_sidecars(clip, T, H, W, depth=-plane_depth(T, H, W))
    first = ingest_videos([clip], VideoSourceConfig(), tmp_path / "raw", tmp_path / "q")
    assert first.quarantined and len(read_quarantine(tmp_path / "q")) == 1
    write_sidecars(clip, T, H, W, depth=plane_depth(T, H, W))
    second = ingest_videos([clip], VideoSourceConfig(), tmp_path / "raw", tmp_path / "q")
    assert second.ids("written") and read_quarantine(tmp_path / "q") == []


def test_sidecar_that_is_not_json_names_the_file(tmp_path, clip):
    (tmp_path / "clip.json").write_text("{fps: 10")
    with pytest.raises(SourceError, match=r"clip\.json: not valid JSON"):
        load_video_episode(clip, VideoSourceConfig())


def test_folder_of_videos_is_expanded(tmp_path):
    for name in ("a", "b"):
        write_mp4(tmp_path / f"{name}.mp4", synthetic_frames(4, H, W))
    (tmp_path / "notes.txt").write_text("not a video")
    report = ingest_videos([tmp_path], VideoSourceConfig(), tmp_path / "raw", tmp_path / "q")
    assert len(report.ids("written")) == 2 and json.dumps(report.ids("written"))
