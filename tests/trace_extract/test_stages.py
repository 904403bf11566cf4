"""Each TraceExtract stage on tiny inputs with known answers."""

import dataclasses

import numpy as np
import pytest

from mu0.config import TraceExtractConfig
from mu0.trace_extract.alignment import (
    AlignmentError,
    DepthPoseGeometry,
    estimate_poses,
    find_camera_jump,
    kabsch,
    project,
)
from mu0.trace_extract.keypoints import CornerGridSelector, coverage_grid
from mu0.trace_extract.lifting import backproject, lift_tracks, prefer_tracker_points, sample_depth, to_world
from mu0.trace_extract.pipeline import point_tracker
from mu0.trace_extract.retarget import arc_length_retarget, robust_segment_lengths
from mu0.trace_extract.tracks import Tracks2D

from .synthetic import F, lk_tracker, shift_image, sliding_box_scene, texture


def test_lk_follows_a_known_subpixel_translation():
    tex = texture(64, 64, 0)
    shift = np.array([0.7, -0.4])
    frames = np.stack([np.repeat(shift_image(tex, *(shift * f))[..., None], 3, -1) for f in range(10)])
    tracks = lk_tracker(reseed_every=100).track(frames)
    seeded = tracks.start == 0
    alive = tracks.visible[seeded, -1]
    assert alive.mean() > 0.8
    expected = tracks.uv_px[seeded][alive, 0] + 9 * shift
    err = np.linalg.norm(tracks.uv_px[seeded][alive, -1] - expected, axis=1)
    assert np.median(err) < 0.1 and np.percentile(err, 90) < 0.3


def test_points_under_an_occluder_are_lost_and_uncovered_cells_reseeded():
    tex = np.repeat(texture(64, 64, 3)[..., None], 3, -1)
    frames = np.stack([tex] * 6)
    frames[3:, 20:44, 20:44] = 255 - frames[3:, 20:44, 20:44] // 3  # a new patch appears over the centre
    tracks = lk_tracker().track(frames)
    inside = lambda uv: (uv[:, 0] > 22) & (uv[:, 0] < 42) & (uv[:, 1] > 22) & (uv[:, 1] < 42)  # noqa: E731
    first = tracks.start == 0
    covered_then_hidden = first & inside(tracks.uv_px[:, 0])
    assert covered_then_hidden.any() and not tracks.visible[covered_then_hidden, 3].any()
    # re-seeding at frame 4 fills the new patch, and only cells no older visible track covers
    new = tracks.start == 4
    old = tracks.visible[:, 4] & (tracks.start < 4)
    assert inside(tracks.uv_px[new, 4]).sum() >= 10
    old_cells = coverage_grid(tracks.uv_px[old, 4], (64, 64), 4)
    new_cells = coverage_grid(tracks.uv_px[new, 4], (64, 64), 4)
    assert not (old_cells & new_cells).any() and new_cells.sum() == new.sum()


def test_depth_is_sampled_from_the_surface_of_the_nearest_pixel():
    depth = np.full((20, 20), 2.0, np.float32)
    depth[:, :10] = 0.5  # a near object on the left half, a far wall on the right
    depth[5, 15] = 0.0  # a hole on the wall
    uv = np.array([[9.4, 8.0], [10.4, 8.0], [15.0, 5.0], [np.nan, 1.0]])
    z = sample_depth(depth, uv, radius=1, tol_m=0.02)
    assert z[0] == pytest.approx(0.5) and z[1] == pytest.approx(2.0)  # never the average 1.25 at the edge
    assert z[2] == pytest.approx(2.0) and np.isnan(z[3])
    assert np.isnan(sample_depth(np.zeros((5, 5), np.float32), np.array([[2.0, 2.0]]), 1, 0.02))[0]


def test_backprojection_and_projection_are_inverse():
    K = np.array([[60.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 60, (20, 2))
    z = rng.uniform(0.5, 3, 20)
    T = kabsch(rng.normal(size=(5, 3)), rng.normal(size=(5, 3)))  # some rigid pose
    world = to_world(backproject(uv, z, K), T)
    uv2, z2 = project(world, T, K)
    np.testing.assert_allclose(uv2, uv, atol=1e-9)
    np.testing.assert_allclose(z2, z, atol=1e-9)


def test_pose_estimation_recovers_a_moving_camera_despite_moving_points():
    rng = np.random.default_rng(1)
    t, k = 8, 120
    world = rng.uniform([-1, -1, 2], [1, 1, 4], (k, 3))
    poses = []
    for f in range(t):
        a = 0.03 * f
        R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, [0.05 * f, 0.01 * f, 0]
        poses.append(T)
    poses = np.array(poses)
    xyz_cam = np.stack([(world - P[:3, 3]) @ P[:3, :3] for P in poses], axis=1)  # world → camera per frame
    xyz_cam[:20] += np.linspace(0, 0.3, t)[None, :, None]  # 20 points on a moving object
    est = estimate_poses(xyz_cam, np.ones((k, t), bool), threshold_m=0.01)
    rel_true = np.linalg.inv(poses[0]) @ poses
    np.testing.assert_allclose(est, rel_true, atol=1e-6)
    with pytest.raises(AlignmentError, match="frame 1: only 0"):
        estimate_poses(xyz_cam, np.eye(k, t, dtype=bool), threshold_m=0.01)


def test_a_cut_is_found_where_most_tracks_vanish_at_once():
    vis = np.ones((50, 10), bool)
    vis[:45, 6:] = False
    tracks = Tracks2D(np.zeros((50, 10, 2), np.float32), vis, np.zeros(50, np.int32))
    assert find_camera_jump(tracks, 0.8) == 6
    vis[:45, 6:] = True
    vis[:10, 6:] = False
    assert find_camera_jump(Tracks2D(tracks.uv_px, vis, tracks.start), 0.8) is None


def test_world_anchored_tracking_is_exact_for_static_points_under_camera_motion():
    """A textured wall seen by a camera panning sideways: with depth and poses the static points sit on
    their anchors' projections (no drift), and a point leaving the image comes back when it re-enters."""
    t, h, w, F = 20, 48, 64, 60.0
    tex = texture(h, w * 2, 5)
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    shift = [3.0 * np.sin(np.pi * f / (t - 1)) for f in range(t)]  # pans out and back, in pixels
    images = np.stack([np.repeat(tex[:, int(16 + s): int(16 + s) + w][..., None], 3, -1) if float(s).is_integer()
                       else np.repeat(shift_image(tex, -s, 0)[:, 16:16 + w][..., None], 3, -1) for s in shift])
    T = np.repeat(np.eye(4)[None], t, 0)
    T[:, 0, 3] = np.array(shift) * 1.0 / F  # wall 1 m away: 1 px of image motion = 1/F m of camera motion
    geometry = DepthPoseGeometry(np.ones((t, h, w), np.float32), np.repeat(K[None], t, 0), T)
    tracks = lk_tracker(reseed_every=100).track(images, geometry)
    first = tracks.start == 0
    expected = tracks.uv_px[first, 0][:, None, :] - np.array(shift)[None, :, None] * np.array([1, 0])
    vis = tracks.visible[first]
    err = np.linalg.norm(tracks.uv_px[first] - expected, axis=2)[vis]
    assert vis[:, -1].mean() > 0.9 and np.percentile(err, 95) < 0.05
    # and each keeps its one world point wherever it is seen, which the 3D trace takes over the depth read again
    xyz = tracks.xyz_world[first]
    assert np.isfinite(xyz[vis]).all() and np.isnan(xyz[~vis]).all()
    np.testing.assert_allclose(xyz, np.broadcast_to(xyz[:, :1], xyz.shape), atol=1e-12)


def test_the_3d_trace_takes_the_tracker_s_world_points_where_it_has_them():
    t = 3
    T = np.repeat(np.eye(4)[None], t, 0)
    T[:, 0, 3] = [0.0, 0.1, 0.2]  # the camera slides along x
    T[2, :3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # and turns a quarter about its axis at the end
    lifted = np.full((2, t, 3), 0.5)
    world = np.full((2, t, 3), np.nan)
    world[0, :] = [0.3, 0.2, 1.0]  # the tracker knows track 0's point; track 1's only from the depth
    visible = np.array([[True, False, True], [True, True, True]])
    tracks = Tracks2D(np.zeros((2, t, 2), np.float32), visible, np.zeros(2, np.int32), xyz_world=world)
    xyz_cam, has = prefer_tracker_points(tracks, lifted, T)
    np.testing.assert_allclose(to_world(xyz_cam[0, 0], T[0]), world[0, 0])
    np.testing.assert_allclose(to_world(xyz_cam[0, 2], T[2]), world[0, 2])
    np.testing.assert_allclose(xyz_cam[0, 1], lifted[0, 1])  # not seen there: the tracker's point does not count
    np.testing.assert_allclose(xyz_cam[1], lifted[1])
    assert has.all()
    assert prefer_tracker_points(Tracks2D(tracks.uv_px, visible, tracks.start), lifted, T)[0] is lifted


def test_retargeting_gives_equal_path_steps_synchronously():
    s = 40
    x = np.cumsum(np.r_[0, np.full(s - 1, 2.0)])  # 2 px per frame → 0.02 normalised (W=100)
    fast = np.stack([x, np.full(s, 10.0), np.linspace(1, 2, s)], axis=1)
    slow = np.stack([x / 2, np.full(s, 50.0), np.full(s, 1.0)], axis=1)
    pts, ok = np.stack([fast, slow]), np.ones((2, s), bool)
    out, valid = arc_length_retarget(pts, ok, (100, 100), interval=0.05, top_fraction=0.5, out_len=64)
    n = valid[0].sum()
    assert n == int(0.02 * (s - 1) / 0.05) + 1 and valid[1].sum() == n  # synchronous
    np.testing.assert_allclose(np.diff(out[0, :n, 0]), 5.0, atol=1e-4)  # 0.05 × W = 5 px per step
    np.testing.assert_allclose(np.diff(out[1, :n, 0]), 2.5, atol=1e-4)  # the slow track moves half as far
    np.testing.assert_allclose(out[0, :n, 2], np.interp(out[0, :n, 0], fast[:, 0], fast[:, 2]), atol=1e-5)
    assert np.all(out[:, n:] == -np.inf) and not valid[:, n:].any()


def test_retargeting_stops_where_no_track_is_valid_and_handles_stillness():
    pts = np.zeros((3, 10, 3))
    pts[..., 0] = np.arange(10) * 3.0
    ok = np.ones((3, 10), bool)
    ok[:, 6:] = False
    lengths = robust_segment_lengths(pts[..., :2] / 100, ok, 0.1)
    assert np.isnan(lengths[6:]).all() and np.allclose(lengths[:5], 0.03)
    out, valid = arc_length_retarget(pts, ok, (100, 100), 0.03, 0.1, 16)
    assert valid[0].sum() == 6
    still, still_ok = arc_length_retarget(np.ones((2, 10, 3)), np.ones((2, 10), bool), (100, 100), 0.05, 0.1, 8)
    assert still_ok[:, 0].all() and not still_ok[:, 1:].any()  # no motion: only the anchor step


def test_sliding_box_scene_is_what_it_says():
    ep = sliding_box_scene(t=5)
    assert ep.images.shape == (5, 64, 80, 3) and ep.depth[0, 25, 20] == pytest.approx(0.9)
    assert ep.depth[4, 25, 14] == pytest.approx(1.2)  # the box has moved off its first left edge


def test_given_queries_are_followed_from_their_own_frame_in_the_order_given():
    """Queries on the sliding box (true motion: `speed` px per frame to the right) and on the wall, given
    at frames 6 and 2: each track starts at its query, follows the analytic motion, and row i is query i."""
    speed = 0.6
    scene = sliding_box_scene(t=20, speed_px=speed)
    on_box = [(6, 24.0 + 6 * speed, 28.0), (6, 28.0 + 6 * speed, 30.0)]
    on_wall = [(2, 60.0, 10.0), (2, 70.0, 50.0)]
    queries = np.array([on_box[0], on_wall[0], on_box[1], on_wall[1]])
    tracks = lk_tracker(reseed_every=100).track_queries(scene.images, queries)
    assert tracks.start.tolist() == [6, 2, 6, 2]
    np.testing.assert_allclose(tracks.uv_px[np.arange(4), tracks.start], queries[:, 1:])
    assert not tracks.visible[0, :6].any() and not tracks.visible[1, :2].any()
    box = tracks.uv_px[[0, 2], 19] - queries[[0, 2], 1:]
    np.testing.assert_allclose(box, [[13 * speed, 0.0]] * 2, atol=0.3)
    np.testing.assert_allclose(tracks.uv_px[[1, 3], 19], queries[[1, 3], 1:], atol=0.3)
    with pytest.raises(ValueError, match="query frames must lie in 0..19"):
        lk_tracker().track_queries(scene.images, np.array([[20, 1.0, 1.0]]))


def _box_with_geometry(speed):
    scene = sliding_box_scene(t=20, speed_px=speed)
    geometry = DepthPoseGeometry(scene.depth, scene.intrinsics.astype(np.float64), np.repeat(np.eye(4)[None], 20, 0))
    return scene, geometry


def test_a_static_point_whose_surface_leaves_its_pixel_becomes_a_moving_one():
    """The box's trailing edge uncovers the wall behind it: with leave_when_uncovered the points there
    switch to moving as soon as the wall shows and stay with the box; the gap check loses them."""
    speed = 0.6
    scene, geometry = _box_with_geometry(speed)
    trailing = np.array([[0, 14.5, 25.0], [0, 15.5, 30.0]])  # the box spans columns 14..33 in frame 0
    truth = trailing[:, 1:] + [19 * speed, 0.0]
    left = lk_tracker(reseed_every=100, static_px=2.0, leave_when_uncovered=True).track_queries(
        scene.images, trailing, geometry)
    pinned = lk_tracker(reseed_every=100, static_px=2.0).track_queries(scene.images, trailing, geometry)
    assert left.visible[:, -1].all() and not pinned.visible[:, -1].any()
    assert (np.linalg.norm(left.uv_px[:, -1] - truth, axis=1) < 6.5).all()  # an edge: LK's window sees the wall too
    assert geometry.look(5, geometry.anchor(0, trailing[:, 1:]))[2].all()  # the wall shows there by frame 5
    assert not geometry.look(5, geometry.anchor(0, np.array([[60.0, 10.0]])))[2].any()  # a wall point stays put


def test_a_small_departure_window_keeps_weak_wall_points_still_beside_a_passing_box():
    """Wall points 2–4 px above a textured box sliding past them: a 9-px departure window is dominated by
    the box's texture and drags them along (the false motion of a passing arm); the default 3-px window with
    two departures keeps them on the wall, while points on the box are still followed."""
    speed, t = 0.8, 20
    scene = sliding_box_scene(t=t, speed_px=speed, weak_wall=True)
    geometry = DepthPoseGeometry(scene.depth, scene.intrinsics.astype(np.float64), np.repeat(np.eye(4)[None], t, 0))
    wall = np.array([[0, c, r] for c in range(17, 42, 3) for r in (16.0, 17.0, 18.0)])  # the box starts at row 20
    box = np.array([[0, 20.0, 26.0], [0, 26.0, 30.0], [0, 30.0, 34.0]])
    queries = np.concatenate([wall, box])
    truth = queries[:, 1:] + np.where(np.arange(len(queries))[:, None] >= len(wall), [(t - 1) * speed, 0.0], 0.0)

    def errors(**kw):
        tr = lk_tracker(reseed_every=100, static_px=2.0, leave_when_uncovered=True, **kw).track_queries(
            scene.images, queries, geometry)
        return np.linalg.norm(tr.uv_px[:, -1] - truth, axis=1)

    small, large = errors(departure_window_px=3, confirm=2), errors(departure_window_px=9, confirm=3)
    assert (large[: len(wall)] > 5).mean() > 0.9  # dragged ~15 px by the box
    assert (small[: len(wall)] < 0.5).mean() > 0.9
    assert (small[len(wall):] < 1.5).all(), small[len(wall):]


def test_the_surface_check_keeps_wall_points_right_beside_a_passing_box_still():
    """Wall points 1 px above a textured box sliding past (seeds reach up to depth edges): even the 3-px
    departure window straddles the box and drags most of them along; a departure that must also match the
    point's own surface (its patch's wall pixels, by depth) better at LK's place than at the anchor keeps them
    on the wall, while points on the box, next to its edge too, are still followed."""
    speed, t = 0.8, 20
    scene = sliding_box_scene(t=t, speed_px=speed, weak_wall=True)
    geometry = DepthPoseGeometry(scene.depth, scene.intrinsics.astype(np.float64), np.repeat(np.eye(4)[None], t, 0))
    wall = np.array([[0, c, 19.0] for c in range(17, 42, 3)])  # the box starts at row 20
    box = np.array([[0, 20.0, 26.0], [0, 26.0, 30.0], [0, 30.0, 34.0], [0, 22.0, 21.0], [0, 33.0, 21.0]])
    queries = np.concatenate([wall, box])
    truth = queries[:, 1:] + np.where(np.arange(len(queries))[:, None] >= len(wall), [(t - 1) * speed, 0.0], 0.0)

    def errors(surface):
        tr = lk_tracker(reseed_every=100, static_px=2.0, leave_when_uncovered=True, departure_window_px=3, confirm=2,
                      departure_surface=surface).track_queries(scene.images, queries, geometry)
        return np.linalg.norm(tr.uv_px[:, -1] - truth, axis=1)

    checked, unchecked = errors(True), errors(False)
    assert (unchecked[: len(wall)] > 5).mean() > 0.5  # dragged with the box
    assert (checked[: len(wall)] < 0.5).mean() > 0.85
    assert (checked[len(wall):] < 1.5).all(), checked[len(wall):]


def test_path_departure_follows_each_static_point_frame_to_frame():
    speed = 0.6
    scene, geometry = _box_with_geometry(speed)
    inside = np.array([[0, 24.0, 28.0], [0, 28.0, 30.0], [0, 31.0, 26.0], [0, 60.0, 10.0]])
    tracks = lk_tracker(reseed_every=100, static_px=2.0, departure="path").track_queries(scene.images, inside, geometry)
    truth = inside[:, 1:] + np.array([[19 * speed, 0.0]] * 3 + [[0.0, 0.0]])
    err = np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)
    assert tracks.visible[:, -1].all() and (err < 1.5).all(), err


def test_dense_flow_moves_points_with_the_box_and_leaves_the_wall():
    from mu0.trace_extract.dense_flow import DenseFlowTracker

    speed = 0.6
    scene = sliding_box_scene(t=20, speed_px=speed)
    queries = np.array([(6, 24.0 + 6 * speed, 28.0), (6, 28.0 + 6 * speed, 30.0), (2, 60.0, 10.0), (2, 70.0, 50.0)])
    tracker = DenseFlowTracker(CornerGridSelector(4, 0.002), 4, 400, 9, 2, 0.75, 100)
    moved = tracker.track_queries(scene.images, queries).uv_px[:, -1] - queries[:, 1:]
    # DIS smooths the small box into the wall: it undershoots (5.3 of 7.8 px here), but never leaks onto the wall
    assert (moved[:2, 0] > 0.5 * 13 * speed).all() and np.abs(moved[:2, 1]).max() < 0.5
    np.testing.assert_allclose(moved[2:], 0.0, atol=0.1)


def test_the_seed_margin_keeps_keypoints_that_far_from_silhouettes():
    scene = sliding_box_scene(t=2)
    K = scene.intrinsics.astype(np.float64)
    margins = {}
    for px in (0, 1, 3):
        allowed = DepthPoseGeometry(scene.depth, K, np.repeat(np.eye(4)[None], 2, 0), seed_edge_px=px).seedable(0)
        margins[px] = allowed
    # the box's left silhouette is at column 14 (depth 1.2 → 0.9): rows inside the box, columns 10..17
    row = margins[3][30, 10:18]
    assert not row[1:7].any() and margins[1][30, 10:18].sum() > row.sum() and margins[0][30, 10:18].sum() >= 6
    assert margins[0][5, :].all() and margins[3][5, :].all()  # the plain wall is seedable everywhere


def test_a_textureless_patch_that_does_not_move_is_held_where_lk_loses_it():
    wall = texture(64, 80, 1)
    flat = np.zeros((64, 80), bool)
    flat[20:40, 14:34] = True  # a uniform grey patch in front of a wall that slides 0.3 px per frame
    frames = np.stack([np.repeat(np.where(flat, 200, shift_image(wall, 0.3 * f, 0)).astype(np.uint8)[..., None], 3,
                                 -1) for f in range(12)])
    queries = np.array([[0, 20.0, 26.0], [0, 24.0, 30.0], [0, 60.0, 10.0]])
    lost = lk_tracker(reseed_every=100).track_queries(frames, queries)
    held = lk_tracker(reseed_every=100, hold_still_grey=5.0).track_queries(frames, queries)
    assert not lost.visible[:2, -1].any()  # LK alone finds nothing to lock on
    assert held.visible[:, -1].all()
    np.testing.assert_allclose(held.uv_px[:2, -1], queries[:2, 1:], atol=1e-6)
    np.testing.assert_allclose(held.uv_px[2, -1] - queries[2, 1:], [11 * 0.3, 0.0], atol=0.15)  # the wall is tracked


def test_points_on_a_uniform_moving_patch_move_with_the_patch():
    """A uniform grey box (no texture at all) slides 1 px per frame over a darker textured wall: LK finds
    nothing to follow inside it; region_motion carries the points with the box's region, exactly."""
    wall = texture(64, 80, 1) // 3
    frames = []
    for f in range(20):
        box = shift_image(np.pad(np.ones((20, 20), np.float32), ((20, 24), (14, 46))), 1.0 * f, 0) > 0.5
        frames.append(np.repeat(np.where(box, 200, wall).astype(np.uint8)[..., None], 3, -1))
    queries = np.array([[0, 20.0, 26.0], [0, 24.0, 30.0], [0, 28.0, 33.0], [0, 60.0, 10.0]])
    plain = lk_tracker(reseed_every=100).track_queries(np.stack(frames), queries)
    carried = lk_tracker(reseed_every=100, region_motion=True).track_queries(np.stack(frames), queries)
    assert not plain.visible[:2, -1].any()
    assert carried.visible[:, -1].all()
    np.testing.assert_allclose(carried.uv_px[:3, -1] - queries[:3, 1:], [[19.0, 0.0]] * 3, atol=0.05)
    np.testing.assert_allclose(carried.uv_px[3, -1], queries[3, 1:], atol=0.05)  # the wall stays


def test_relocalising_on_the_seed_patch_undoes_the_drift_of_chained_steps():
    """Frame-to-frame steps that each err 0.3 px the same way (the drift of chained steps) end 11.7 px off a
    translating texture after 39 steps; matched back to each point's patch in its seed frame every third
    frame (the last one included), they end on it. A match farther than `relocalise_px` from the step is not
    taken."""
    from mu0.trace_extract.tracking import LucasKanadeTracker

    class DriftingSteps(LucasKanadeTracker):
        def _step(self, prev, cur, p0, guess, shape=None):
            p1, ok = super()._step(prev, cur, p0, guess, shape)
            return p1 + [0.3, 0.0], ok

    tex = texture(64, 64, 0)
    shift, t = np.array([0.7, -0.4]), 40
    frames = np.stack([np.repeat(shift_image(tex, *(shift * f))[..., None], 3, -1) for f in range(t)])
    queries = np.array([[0, u, v] for u in (10.0, 14.0, 18.0) for v in (34.0, 42.0, 50.0)])
    truth = queries[:, 1:] + (t - 1) * shift
    args = dict(grid_px=4, max_tracks=400, window_px=9, levels=2, fb_max_error_px=0.75, reseed_every=100)

    def final_error(relocalise_px):
        tracker = DriftingSteps(CornerGridSelector(4, 0.002), relocalise_px=relocalise_px, **args)
        tracks = tracker.track_queries(frames, queries)
        return np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)

    assert (np.abs(final_error(0.0) - 39 * 0.3) < 0.5).all()
    assert (final_error(3.0) < 0.2).all()
    assert (final_error(0.5) > 5).all()  # each 0.9-px correction is farther than allowed


def test_keypoints_reach_a_still_camera_s_border_but_keep_off_a_moving_one_s():
    """A still camera's border is as steady as its middle (the Sawyer's head is a 3-row strip at the front camera's
    top); a moving camera brings new scenery in there."""
    scene = sliding_box_scene(t=2)
    K = scene.intrinsics.astype(np.float64)
    poses = np.repeat(np.eye(4)[None], 2, 0)
    still = DepthPoseGeometry(scene.depth, K, poses).seedable(0)
    poses = poses.copy()
    poses[1, 0, 3] = 0.01  # the camera moves a centimetre
    moving = DepthPoseGeometry(scene.depth, K, poses).seedable(0)
    assert still[:3, 5:-5].all() and not moving[:3].any() and not moving[:, -3:].any()
    gray = texture(*scene.depth.shape[1:], 3)
    covered = np.zeros((gray.shape[0] // 4, gray.shape[1] // 4), bool)
    for allowed, near_border in ((still, True), (moving, False)):
        uv = CornerGridSelector(4, 0.0).select(gray, covered, None, 10_000, allowed)
        edge = (uv.min(axis=1) < 3) | (uv[:, 0] > gray.shape[1] - 4) | (uv[:, 1] > gray.shape[0] - 4)
        assert edge.any() == near_border
        assert (uv.min(axis=1) >= 1).all()  # the structure tensor's block lies inside the image


def test_a_static_point_whose_surface_comes_nearer_in_place_departs_by_its_depth():
    """A uniformly grey board before a textured wall comes 3 mm a frame nearer the still camera, square to it: at
    the board's pixels colour and orientation never change, and the depth test's tolerance (5 cm at 1 m) keeps its
    points seen. With `depth_departure_m` they depart once the board is 1 cm nearer, and the 3D trace, read at
    their pixel from then on, comes nearer with it; without, they keep their anchor."""
    t, h, w = 16, 48, 64
    wall = texture(h, w, 2)
    board = (slice(12, 36), slice(16, 48))
    images = np.repeat(wall[None, ..., None], t, 0).repeat(3, -1)
    images[:, board[0], board[1]] = 150
    depth = np.full((t, h, w), 1.3, np.float32)
    depth[:, board[0], board[1]] = (1.0 - 0.003 * np.arange(t))[:, None, None]
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    T = np.repeat(np.eye(4)[None], t, 0)
    geometry = DepthPoseGeometry(depth, np.repeat(K[None], t, 0), T)
    queries = np.array([[0, 30.0, 22.0], [0, 34.0, 26.0], [0, 5.0, 5.0]])  # two on the board, one on the wall
    for departure_m, board_z in ((0.0, 1.0), (0.01, 1.0 - 0.003 * (t - 1))):
        cfg = dataclasses.replace(TraceExtractConfig(), depth_departure_m=departure_m)
        tracks = point_tracker(cfg).track_queries(images, queries, geometry)
        lifted = lift_tracks(tracks, depth, geometry.K, cfg.depth_window_px, cfg.depth_surface_tol_m)[0]
        xyz_cam, _ = prefer_tracker_points(tracks, lifted, T)
        assert tracks.visible[:, -1].all()
        np.testing.assert_allclose(xyz_cam[:2, -1, 2], board_z, atol=1e-6)
        np.testing.assert_allclose(xyz_cam[2, -1, 2], 1.3, atol=1e-6)  # the wall stays
