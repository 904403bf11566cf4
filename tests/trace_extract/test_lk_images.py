"""LK with the surface's orientation beside the grey image: a part that has shape but no colour texture."""

import dataclasses

import numpy as np

from mu0.config import TraceExtractConfig
from mu0.trace_extract.alignment import DepthPoseGeometry
from mu0.trace_extract.lk_images import with_shape
from mu0.trace_extract.pipeline import point_tracker

from .synthetic import F, sliding_dome_scene


def _geometry(scene) -> DepthPoseGeometry:
    t = scene.images.shape[0]
    return DepthPoseGeometry(scene.depth, scene.intrinsics.astype(np.float64), np.repeat(np.eye(4)[None], t, 0))


def test_surface_normals_are_a_tilted_plane_s_normal_and_zero_at_holes():
    """The plane z = 1 + 0.5·x (camera frame) has the normal (0.5, 0, −1)/√1.25 at every pixel, whatever its
    depth there; pixels next to a hole have none."""
    h, w = 32, 40
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    u = np.arange(w)[None, :].repeat(h, 0)
    # along a viewing ray x = (u − cx)·z / F, so z = 1 + 0.5·x solves to z = 1 / (1 − 0.5·(u − cx) / F)
    depth = (1.0 / (1.0 - 0.5 * (u - K[0, 2]) / F)).astype(np.float32)
    depth[10, 20] = 0.0
    normals = DepthPoseGeometry(depth[None], K[None], np.eye(4)[None]).surface_normals(0)
    inner = np.ones((h, w), bool)
    inner[[0, -1]], inner[:, [0, -1]] = False, False
    inner[9:12, 19:22] = False
    np.testing.assert_allclose(normals[inner], np.broadcast_to([0.5, 0.0, -1.0] / np.sqrt(1.25), (inner.sum(), 3)),
                               atol=1e-3)
    assert (normals[9:12, 19:22] == 0).all()


def test_with_shape_stacks_grey_and_normal_components():
    grey = np.full((4, 5), 77, np.uint8)
    normals = np.zeros((4, 5, 3), np.float32)
    normals[..., 0], normals[..., 2] = np.sqrt(0.5), -np.sqrt(0.5)  # tilted 45° about the vertical
    img = with_shape(grey, normals, gain=100.0)
    assert img.shape == (4, 5, 3) and img.dtype == np.uint8
    assert (img[..., 0] == 77).all() and (img[..., 2] == 128).all()
    assert (img[..., 1] == int(128 + 100 * np.sqrt(0.5))).all()


def test_a_dome_without_colour_texture_is_followed_by_its_shape():
    """A uniformly coloured dome slides 0.8 px a frame over a textured wall. Its grey image holds nothing to
    follow, so grey-only LK ends every query point on it 4–12 px off; with the surface's orientation LK
    follows the dome's shape and ends them within 1.5 px. (The points on the dome's leading half are not
    queried: there the dome's nearer part hides each point's anchor, so it waits as a hidden static point.)"""
    scene = sliding_dome_scene()
    t = scene.images.shape[0]
    queries = np.array([[0, 24.0 + du, 32.0 + dv] for du in (-5.0, 0.0) for dv in (-5.0, 0.0, 5.0)])
    truth = queries[:, 1:] + [0.8 * (t - 1), 0.0]

    def final_error(gain: float) -> np.ndarray:
        cfg = dataclasses.replace(TraceExtractConfig(), lk_shape_gain=gain)
        tracks = point_tracker(cfg).track_queries(scene.images, queries, _geometry(scene))
        assert tracks.visible[:, -1].all()
        return np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)

    assert (final_error(0.0) > 3.0).all()
    assert (final_error(100.0) < 1.5).all()
