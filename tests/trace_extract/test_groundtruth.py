import mujoco
import numpy as np
import pytest

from mu0.episodes import open_episode
from mu0.trace_extract.groundtruth import quat_wxyz_to_matrix, track_query_pixels


def _query_pixels(ep, n, rng, body_filter=None, frame=0):
    frames, maps = ep.body_ids
    ids = maps[list(frames).index(frame)]
    ok = (ids >= 0) & (np.asarray(ep.depth[frame]) > 0)
    if body_filter is not None:
        ok &= body_filter(ids)
    rows, cols = np.nonzero(ok)
    pick = rng.choice(len(rows), size=min(n, len(rows)), replace=False)
    return np.stack([cols[pick], rows[pick]], axis=1)


def test_quaternion_conversion_matches_mujoco():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(20, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ours = quat_wxyz_to_matrix(q)
    for qi, Ri in zip(q, ours, strict=True):
        ref = np.zeros(9)
        mujoco.mju_quat2Mat(ref, qi)
        np.testing.assert_allclose(Ri, ref.reshape(3, 3), atol=1e-12)


@pytest.mark.parametrize("camera", ["front", "gripperPOV"])
def test_tracks_start_at_the_query_pixel_with_its_depth(metaworld_episodes, camera):
    ep = open_episode(metaworld_episodes / f"mw-pick-place-v3-s00000-{camera}")
    q = _query_pixels(ep, 200, np.random.default_rng(1))
    tracks = track_query_pixels(ep, q)
    np.testing.assert_allclose(tracks.uv_px[:, 0], q, atol=1e-6)
    np.testing.assert_allclose(tracks.z_cam_m[:, 0], np.asarray(ep.depth[0], np.float64)[q[:, 1], q[:, 0]], atol=1e-6)
    assert tracks.visible[:, 0].all()


@pytest.mark.parametrize("camera", ["front", "gripperPOV"])
def test_projected_body_points_match_rendered_depth_in_later_frames(metaworld_episodes, camera):
    """Carry points along their body's poses, project into each frame's camera: where the point is in
    view, the depth rendered at that pixel must be the point's own depth, unless something occludes it.
    For the moving wrist camera this checks the per-frame extrinsics as much as the body poses."""
    ep = open_episode(metaworld_episodes / f"mw-pick-place-v3-s00000-{camera}")
    tracks = track_query_pixels(ep, _query_pixels(ep, 300, np.random.default_rng(2)))
    h, w = ep.depth.shape[1:]
    u, v = np.rint(tracks.uv_px[..., 0]), np.rint(tracks.uv_px[..., 1])
    in_view = (tracks.z_cam_m > 0) & (u >= 1) & (u < w - 1) & (v >= 1) & (v < h - 1)
    in_view[:, 0] = False
    assert in_view.sum() > 500
    # depth at the projected pixel, allowing the 3x3 neighbourhood for sub-pixel rounding at edges
    depth = np.asarray(ep.depth, np.float64)
    n_idx, t_idx = np.nonzero(in_view)
    err = np.full(len(n_idx), np.inf)
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            seen = depth[t_idx, (v[n_idx, t_idx] + dv).astype(int), (u[n_idx, t_idx] + du).astype(int)]
            err = np.minimum(err, np.abs(seen - tracks.z_cam_m[n_idx, t_idx]))
    matched = err < np.maximum(0.01, 0.02 * tracks.z_cam_m[n_idx, t_idx])
    assert matched.mean() > 0.9, f"only {matched.mean():.1%} of in-view projections agree with rendered depth"
    # and visibility is exactly that agreement at the rounded pixel
    assert tracks.visible[in_view].mean() > 0.85


def test_points_on_the_moving_hand_move_and_static_points_do_not(metaworld_episodes):
    ep = open_episode(metaworld_episodes / "mw-pick-place-v3-s00000-front")
    with np.load(ep.path / "gt/bodies.npz") as bodies:
        names = list(bodies["names"])
    hand_bodies = [names.index(n) for n in ("rightpad", "leftpad", "hand", "right_hand") if n in names]
    static_bodies = [names.index(n) for n in ("tablelink", "world")]
    rng = np.random.default_rng(3)
    hand = track_query_pixels(ep, _query_pixels(ep, 20, rng, lambda ids: np.isin(ids, hand_bodies)))
    static = track_query_pixels(ep, _query_pixels(ep, 20, rng, lambda ids: np.isin(ids, static_bodies)))
    hand_motion = np.linalg.norm(hand.xyz_world - hand.xyz_world[:, :1], axis=-1).max(axis=1)
    static_motion = np.linalg.norm(static.xyz_world - static.xyz_world[:, :1], axis=-1).max(axis=1)
    assert np.median(hand_motion) > 0.02
    assert static_motion.max() < 1e-9


def test_queries_outside_the_image_are_rejected_and_sky_has_no_ground_truth(metaworld_episodes):
    ep = open_episode(metaworld_episodes / "mw-pick-place-v3-s00000-front")
    with pytest.raises(ValueError, match="inside the"):
        track_query_pixels(ep, np.array([[64, 0]]))
    ids = ep.body_ids[1][0]
    rows, cols = np.nonzero(ids < 0)
    assert len(rows), "the front view should see some sky"
    tracks = track_query_pixels(ep, np.array([[cols[0], rows[0]], *_query_pixels(ep, 1, np.random.default_rng(0))]))
    assert tracks.query_valid.tolist() == [False, True]
    assert np.isnan(tracks.xyz_world[0]).all() and not tracks.visible[0].any() and tracks.visible[1, 0]


def test_points_queried_in_a_later_frame_land_on_their_body_in_the_other_frames_maps(metaworld_episodes):
    """Lifted in frame 20 and carried by the body poses, a hand point's projection in frames 0, 10 and 30
    must fall on that body in the maps rendered there (where the point is visible): the later-frame
    lifting, the poses and the stored maps agree."""
    ep = open_episode(metaworld_episodes / "mw-pick-place-v3-s00000-front")
    frames, maps = ep.body_ids
    assert frames.tolist() == [0, 10, 20, 30] and maps.shape == (4, 64, 64)
    with np.load(ep.path / "gt/bodies.npz") as bodies:
        names = list(bodies["names"])
    hand = [names.index(n) for n in ("rightpad", "leftpad", "hand", "right_hand") if n in names]
    q = _query_pixels(ep, 40, np.random.default_rng(4), lambda ids: np.isin(ids, hand), frame=20)
    tracks = track_query_pixels(ep, q, np.full(len(q), 20))
    np.testing.assert_allclose(tracks.uv_px[:, 20], q, atol=1e-6)
    assert tracks.query_valid.all() and np.isin(tracks.body_ids, hand).all()
    moved = np.linalg.norm(tracks.xyz_world[:, 0] - tracks.xyz_world[:, 20], axis=-1)
    assert np.median(moved) > 0.01  # the hand really moved between frame 0 and 20
    hits = []
    for slot, f in enumerate(frames.tolist()):
        if f == 20:
            continue
        seen = tracks.visible[:, f]
        u, v = np.rint(tracks.uv_px[seen, f]).astype(int).T
        hits.extend(maps[slot][v, u] == tracks.body_ids[seen])
    assert len(hits) > 20 and np.mean(hits) > 0.8, (len(hits), np.mean(hits))
    with pytest.raises(ValueError, match="no per-pixel body ids for query frames \\[5\\]"):
        track_query_pixels(ep, q[:1], np.array([5]))


def test_body_id_maps_that_do_not_fit_their_frames_are_refused_by_name(metaworld_episodes, tmp_path):
    import shutil

    from mu0.episodes.schema import EpisodeFormatError

    name = "mw-pick-place-v3-s00000-front"
    shutil.copytree(metaworld_episodes / name, tmp_path / name)
    frames = np.load(tmp_path / name / "gt/body_id_frames.npy")
    np.save(tmp_path / name / "gt/body_id_frames.npy", frames[::-1])  # not ascending from 0
    with pytest.raises(EpisodeFormatError, match="body_id_frames.npy.*ascending from 0"):
        _ = open_episode(tmp_path / name).body_ids
    np.save(tmp_path / name / "gt/body_ids.npy", np.zeros((2, 8, 8), np.int32))
    with pytest.raises(EpisodeFormatError, match=r"body_ids.npy.*need \(maps, 64, 64\)"):
        _ = open_episode(tmp_path / name).body_ids
