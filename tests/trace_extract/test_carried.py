"""Points the moving camera carries (carried.py): the gripper in the wrist view, on synthetic scenes whose
true image motion is known."""

import numpy as np
import pytest

from mu0.trace_extract.alignment import DepthPoseGeometry

from .synthetic import lk_tracker, shift_image, texture


def _carried_patch_scene(t: int = 20, h: int = 48, w: int = 64, pan_px: float = 0.5, patch_m: float = 0.06,
                         pause: int = 0):
    """A textured wall 1 m away, panned over (after `pause` still frames) by a camera that carries a flat grey
    patch `patch_m` in front of it at the bottom of the image (the gripper in the wrist view): the patch never
    moves in the image."""
    F = 60.0
    tex = texture(h, w * 2, 5)
    rows, cols = slice(36, 46), slice(20, 40)
    images, depth = [], np.ones((t, h, w), np.float32)
    offset = pan_px * np.maximum(np.arange(t) - pause, 0)
    for f in range(t):
        wall = shift_image(tex, -offset[f], 0)[:, 16:16 + w].copy()
        wall[rows, cols] = 200
        images.append(np.repeat(wall[..., None], 3, -1))
        depth[f, rows, cols] = patch_m
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    T = np.repeat(np.eye(4)[None], t, 0)
    T[:, 0, 3] = offset / F  # the wall is 1 m away: 1 px of its image motion = 1/F m of camera motion
    return np.stack(images), DepthPoseGeometry(depth, np.repeat(K[None], t, 0), T)


@pytest.mark.parametrize("pan, patch_m", [(0.5, 0.06), (0.1, 0.15)], ids=["near-anchors-leave", "anchors-on-wall"])
def test_points_the_camera_carries_stay_with_it_and_the_wall_stays_anchored(pan, patch_m):
    """Queries on a textureless patch the panning camera carries stay on their pixels with carried_start;
    without it they are taken for static world points and leave the patch. Wall points keep their anchors.
    Near the camera the patch's anchors project out of the image; farther, onto the wall behind it."""
    t = 20
    images, geometry = _carried_patch_scene(t=t, pan_px=pan, patch_m=patch_m)
    patch = np.array([[0, c, r] for c in (21.0, 23.0, 25.0) for r in (38.0, 41.0, 44.0)])  # anchors leave the patch
    wall = np.array([[0, c, r] for c in (3.0, 10.0, 30.0, 50.0) for r in (8.0, 20.0)])  # col 3 leaves the view
    queries = np.concatenate([patch, wall])
    truth = np.concatenate([patch[:, 1:], wall[:, 1:] - [(t - 1) * pan, 0.0]])

    def run(carried):
        tr = lk_tracker(reseed_every=100, static_px=2.0, leave_when_uncovered=True, departure_window_px=3, confirm=2,
                      hold_still_grey=5.0, carried_start=carried).track_queries(images, queries, geometry)
        return tr, np.linalg.norm(tr.uv_px[:, -1] - truth, axis=1)

    (on, err_on), (off, err_off) = run(True), run(False)
    n = len(patch)
    assert on.visible[:n, -1].all() and (err_on[:n] < 0.5).all(), err_on[:n]
    assert np.median(np.where(off.visible[:n, -1], err_off[:n], np.inf)) > 2.0, err_off[:n]  # the old way loses it
    assert (err_on[n:] < 0.05).all() and (err_off[n:] < 0.05).all()


def test_a_camera_that_pauses_first_still_tells_carried_points_from_world_points():
    """The camera stands still for 15 frames, past the carried test's first look (10 frames on), then pans: the
    test waits for the frame where the two hypotheses part, so the patch's points stay on it and the wall's
    points keep their anchors. (Without `leave_when_uncovered`, which would catch the patch's points later here,
    when the wall shows where their anchors project.)"""
    t, pan, pause = 40, 0.5, 15
    images, geometry = _carried_patch_scene(t=t, pan_px=pan, pause=pause)
    patch = np.array([[0, c, r] for c in (21.0, 23.0, 25.0) for r in (38.0, 41.0, 44.0)])
    wall = np.array([[0, c, r] for c in (10.0, 30.0, 50.0) for r in (8.0, 20.0)])
    queries = np.concatenate([patch, wall])
    truth = np.concatenate([patch[:, 1:], wall[:, 1:] - [(t - 1 - pause) * pan, 0.0]])
    tracks = lk_tracker(reseed_every=100, static_px=2.0, departure_window_px=3, confirm=2, hold_still_grey=5.0,
                      carried_start=True).track_queries(images, queries, geometry)
    err = np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)
    n = len(patch)
    assert tracks.visible[:n, -1].all() and (err[:n] < 0.5).all(), err[:n]
    assert (err[n:] < 0.05).all(), err[n:]


def _sliding_near_patch_scene(t: int = 20, h: int = 48, w: int = 64, pan_px: float = 0.5, slide_px: float = 1.2):
    """The panning camera of `_carried_patch_scene` carries a small textured patch 6 cm in front of it that also
    slides right `slide_px` per frame in the image (a finger closing): 10 frames on, the patch has left the
    pixels it started on. The wall's texture is weak beside the patch's, as a far table is beside a near pad."""
    F, patch_m = 60.0, 0.06
    wall_tex, patch_tex = texture(h, w * 2, 5) // 8 + 100, texture(h, w, 7)
    images, depth = [], np.ones((t, h, w), np.float32)
    for f in range(t):
        frame = shift_image(wall_tex, -pan_px * f, 0)[:, 16:16 + w].copy()
        mask = np.zeros((h, w), np.float32)
        mask[32:46, 16:30] = 1
        mask = shift_image(mask, slide_px * f, 0) > 0.5
        frame[mask] = shift_image(patch_tex, slide_px * f, 0)[mask]
        images.append(np.repeat(frame[..., None], 3, -1))
        depth[f][mask] = patch_m
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    T = np.repeat(np.eye(4)[None], t, 0)
    T[:, 0, 3] = pan_px * np.arange(t) / F
    return np.stack(images), DepthPoseGeometry(depth, np.repeat(K[None], t, 0), T)


def test_a_near_point_that_also_moves_in_the_image_is_followed_not_anchored():
    """Points on a patch 6 cm from the camera that slides in the image: their own pixels no longer show them
    10 frames on, and their anchors' projections leave the image. Nothing static comes that near the camera, so
    they are moving points from the start, followed by LK, not world anchors projected out of the view."""
    t, slide = 20, 1.2
    images, geometry = _sliding_near_patch_scene(t=t, slide_px=slide)
    patch = np.array([[0, c, r] for c in (22.0, 25.0) for r in (39.0, 42.0)])
    truth = patch[:, 1:] + [(t - 1) * slide, 0.0]
    tracks = lk_tracker(reseed_every=100, static_px=2.0, departure_window_px=3, confirm=2, hold_still_grey=5.0,
                      carried_start=True).track_queries(images, patch, geometry)
    err = np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)
    assert tracks.visible[:, -1].all() and (err < 1.5).all(), err
