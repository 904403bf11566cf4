"""The rigid-template tracker on synthetic scenes whose true motion is known analytically."""

import dataclasses

import numpy as np
import pytest

from mu0.config import ConfigError, TraceExtractConfig
from mu0.trace_extract.alignment import DepthPoseGeometry
from mu0.trace_extract.keypoints import CornerGridSelector
from mu0.trace_extract.pipeline import point_tracker
from mu0.trace_extract.template_fit import TemplateFit
from mu0.trace_extract.template_tracking import DepthTemplateTracker
from mu0.trace_extract.tracking import LucasKanadeTracker

from .synthetic import F, shift_image, sliding_box_scene, texture


def _lk(**kw):
    args = dict(grid_px=4, max_tracks=400, window_px=9, levels=2, fb_max_error_px=0.75, reseed_every=2)
    args.update(kw)
    return LucasKanadeTracker(CornerGridSelector(args["grid_px"], 0.002), **args)


def _tracker(**kw):
    return DepthTemplateTracker(_lk(), TemplateFit(), **kw)


def _geometry(depth, poses=None):
    t = len(depth)
    K = np.repeat(np.array([[F, 0, (depth.shape[2] - 1) / 2], [0, F, (depth.shape[1] - 1) / 2], [0, 0, 1]])[None], t, 0)
    return DepthPoseGeometry(depth, K, np.repeat(np.eye(4)[None], t, 0) if poses is None else poses)


def _box(textured: bool, speed: float, t: int = 20):
    """The textured 20×20 px box, or a flat 8×8 px one (rows 26..33, columns 20..27 in frame 0)."""
    box = (20, 40, 14, 34) if textured else (26, 34, 20, 28)
    scene = sliding_box_scene(t=t, speed_px=speed, textured_box=textured, box=box)
    return scene, _geometry(scene.depth)


# A pixel here spans 1.5 cm of the box (0.9 m away, F = 60 px), ten times a simulator pixel: the template's
# ball grows to match (20 cm: the whole flat box, none of the wall 30 cm behind it).
_SCENE_SCALE = dict(radius_px=12, stride_px=2, near_m=0.2)


@pytest.mark.parametrize("textured", [True, False])
def test_box_points_follow_the_box_and_wall_points_stay_exact(textured):
    """The box slides `speed` px per frame in front of the wall: points inside it, next to its silhouette and
    on a flat box without any texture (pinned by its silhouette alone) move with it; the wall stays."""
    speed = 0.6
    scene, geometry = _box(textured, speed)
    on_box = [[0, 24.0, 28.0], [0, 30.0, 25.0], [0, 15.0, 30.0], [3, 20.0 + 3 * speed, 35.0]] if textured else \
        [[0, 23.0, 29.0], [0, 21.0, 27.0], [0, 26.0, 32.0], [3, 21.0 + 3 * speed, 31.0]]
    queries = np.array(on_box + [[0, 60.0, 10.0], [0, 70.0, 50.0]])
    tracks = _tracker(**_SCENE_SCALE).track_queries(scene.images, queries, geometry)
    truth = queries[:, 1:] + (19 - queries[:, :1]) * np.array([[speed, 0.0]] * 4 + [[0.0, 0.0]] * 2)
    err = np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)
    assert tracks.visible[:, -1].all()
    # the scene's depth steps a whole pixel at a time, so the flat box's silhouette is known to ±0.5 px
    assert (err[:4] < (0.5 if textured else 0.7)).all(), err
    np.testing.assert_allclose(tracks.uv_px[4:, :, :], np.repeat(queries[4:, None, 1:], 20, 1), atol=1e-9)


def test_a_point_is_hidden_while_an_occluder_passes_and_found_again_where_it_was():
    """A dark bar 0.6 m away sweeps 2 px per frame across a static wall point: the point is invisible while
    covered, never dragged along with the bar, and visible at its true place once the bar has passed."""
    h, w, t = 64, 80, 30
    wall = texture(h, w, 1)
    images, depth = np.zeros((t, h, w, 3), np.uint8), np.full((t, h, w), 1.2, np.float32)
    for f in range(t):
        bar = np.zeros((h, w), bool)
        bar[:, max(0, 2 * f - 10): max(0, 2 * f)] = True  # columns 2f-10 .. 2f-1
        gray = np.where(bar, 20, wall).astype(np.uint8)
        images[f] = np.stack([gray, gray, gray], -1)
        depth[f][bar] = 0.6
    query = np.array([[0, 30.0, 32.0], [0, 70.0, 10.0]])
    tracks = _tracker().track_queries(images, query, _geometry(depth))
    covered = np.array([2 * f - 10 <= 30 <= 2 * f - 1 for f in range(t)])  # frames 16..20
    assert not tracks.visible[0, covered].any() and tracks.visible[0, ~covered].all()
    assert np.abs(tracks.uv_px[0] - query[0, 1:]).max() < 0.5  # at no frame carried off with the bar
    np.testing.assert_allclose(tracks.uv_px[1], np.repeat(query[1:, 1:], t, 0), atol=1e-9)


def test_a_part_carried_by_a_moving_camera_stays_in_its_image_place():
    """A wrist camera slides sideways 5 mm per frame carrying a flat grey pad 0.3 m in front of it: the pad
    stays put in the image while the wall 1.2 m away shifts F·0.005/1.2 px per frame; both are followed."""
    h, w, t, step = 64, 80, 16, 0.005
    wall = texture(h, w, 1)
    pad = np.zeros((h, w), bool)
    pad[44:56, 12:20] = True  # 4 × 6 cm: all of it within the template's 4 cm of its middle
    images, depth = np.zeros((t, h, w, 3), np.uint8), np.zeros((t, h, w), np.float32)
    poses = np.repeat(np.eye(4)[None], t, 0)
    for f in range(t):
        gray = np.where(pad, 210, shift_image(wall, -F * step * f / 1.2, 0)).astype(np.uint8)
        images[f] = np.stack([gray, gray // 2, 255 - gray], -1)
        depth[f] = np.where(pad, 0.3, 1.2)
        poses[f, 0, 3] = step * f  # camera-to-world: the camera moves along +x
    queries = np.array([[0, 16.0, 50.0], [0, 13.0, 45.0], [0, 50.0, 20.0]])
    tracks = _tracker().track_queries(images, queries, _geometry(depth, poses))
    shift = -F * step * (t - 1) / 1.2
    truth = queries[:, 1:] + np.array([[0.0, 0.0], [0.0, 0.0], [shift, 0.0]])
    assert tracks.visible[:, -1].all()
    assert (np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1) < 0.3).all(), tracks.uv_px[:, -1] - truth


def test_a_static_wall_leaves_the_view_of_a_moving_camera_and_does_not_come_back():
    """A camera slides sideways over a faintly textured wall, which shifts 0.75 px per frame towards the
    left border: points near that border leave the image with the wall and stay out. Paying template pixels
    to stay in view (or clamping a guess onto the border) made such points jump back in and ride along with
    the camera: the wrist camera's table points drifted so and were labelled moving."""
    h, w, t, step = 64, 80, 20, 0.015
    wall = (texture(h, w, 3) // 8 + 110).astype(np.float64)  # about 30 grey levels of contrast
    images, depth = np.zeros((t, h, w, 3), np.uint8), np.full((t, h, w), 1.2, np.float32)
    poses = np.repeat(np.eye(4)[None], t, 0)
    shift = -F * step / 1.2  # px per frame
    for f in range(t):
        gray = shift_image(wall, shift * f, 0)
        images[f] = np.stack([gray, gray, gray], -1).astype(np.uint8)
        poses[f, 0, 3] = step * f
    queries = np.array([[0, u, v] for u in (3.0, 5.0, 9.0) for v in (12.0, 30.0, 50.0)])
    tracks = _tracker().track_queries(images, queries, _geometry(depth, poses))
    truth = queries[:, None, 1:] + np.arange(t)[None, :, None] * np.array([shift, 0.0])
    inside = truth[..., 0] >= 0
    err = np.linalg.norm(tracks.uv_px - truth, axis=-1)
    assert (err[inside] < 0.6).all(), np.round(np.where(inside, err, 0).max(axis=1), 2)
    gone = truth[..., 0] < -1  # more than a pixel out
    assert not tracks.visible[gone].any() and (tracks.uv_px[gone][:, 0] < 0).all()


def test_depth_holes_on_the_moving_box_do_not_stop_it():
    speed = 0.6
    scene, _ = _box(False, speed)
    depth = scene.depth.copy()
    depth[8:10, 28:32, 24:30] = 0.0  # two frames where the box's middle has no depth
    queries = np.array([[0, 23.0, 29.0], [0, 21.0, 32.0]])
    tracks = _tracker(**_SCENE_SCALE).track_queries(scene.images, queries, _geometry(depth))
    truth = queries[:, 1:] + [19 * speed, 0.0]
    assert (np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1) < 0.5).all()


def test_track_seeds_flat_surfaces_and_leaves_a_still_scene_exact():
    """`track` puts points on the flat box too (a corner tracker seeds none there); with nothing moving,
    and in a scene without any texture, every track stays exactly where it was seeded."""
    scene, geometry = _box(False, 0.6)
    tracks = _tracker(**_SCENE_SCALE).track(scene.images, geometry)
    first = tracks.start == 0
    on_box = first & (tracks.uv_px[:, 0, 0] >= 20) & (tracks.uv_px[:, 0, 0] <= 27) \
        & (tracks.uv_px[:, 0, 1] >= 26) & (tracks.uv_px[:, 0, 1] <= 33)
    assert on_box.sum() >= 3  # one per 4 px grid cell, edges included (LK's seeds keep 3 px off them)
    moved = tracks.uv_px[on_box, -1] - tracks.uv_px[on_box, 0]
    assert np.all(np.abs(moved - [19 * 0.6, 0.0]) < 0.5), moved
    still, _ = _box(True, 0.0)
    flat = still.images.copy()
    flat[:] = 128
    for images in (still.images, flat):
        out = _tracker().track(images, _geometry(still.depth))
        assert out.num_tracks > 50
        seen = out.visible
        np.testing.assert_allclose(out.uv_px[seen], np.broadcast_to(out.uv_px[:, :1], out.uv_px.shape)[seen])


def test_without_depth_it_is_the_lk_tracker():
    scene = sliding_box_scene(t=12, speed_px=0.6)
    queries = np.array([[0, 24.0, 28.0], [2, 60.0, 10.0]])
    ours, lk = _tracker().track_queries(scene.images, queries), _lk().track_queries(scene.images, queries)
    np.testing.assert_array_equal(ours.uv_px, lk.uv_px)
    assert isinstance(point_tracker(dataclasses.replace(TraceExtractConfig(), motion="template")),
                      DepthTemplateTracker)
    with pytest.raises(ConfigError, match="template"):
        TraceExtractConfig(template_stride_px=9, template_radius_px=5).validate()
