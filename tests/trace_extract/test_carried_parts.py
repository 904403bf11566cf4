"""Carried parts followed in the camera's frame (carried_parts.py): a textureless finger pad that the wrist camera
carries and that slides in its view, on synthetic scenes whose true motion is known analytically."""

import numpy as np

from mu0.trace_extract.alignment import DepthPoseGeometry
from mu0.trace_extract.carried_parts import CarriedParts

from .synthetic import lk_tracker, shift_image, texture

F = 60.0


def _face(h: int, w: int, corner: np.ndarray, angle: float) -> np.ndarray:
    """Depth (h,w) of a flat 2 × 2 cm face turned `angle` about the camera's y axis, one edge on the vertical line
    through the camera-frame point `corner` (inf off the face)."""
    e1, e2 = np.array([np.cos(angle), 0.0, np.sin(angle)]), np.array([0.0, 1.0, 0.0])
    normal = np.cross(e1, e2)
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    ray = np.stack([(u - (w - 1) / 2) / F, (v - (h - 1) / 2) / F, np.ones_like(u)], -1)
    along = (corner @ normal) / (ray @ normal)
    X = ray * along[..., None] - corner
    s, r = X @ e1, X @ e2
    return np.where((s >= 0) & (s <= 0.02) & (r >= -0.01) & (r <= 0.01), along, np.inf)


def _pad(h: int, w: int, corner: np.ndarray) -> np.ndarray:
    """Depth (h,w) of a wedge-shaped finger pad, two faces meeting at a vertical ridge through `corner`, seen
    whole by the camera (0 off the pad)."""
    depth = np.minimum(_face(h, w, corner, 0.5), _face(h, w, corner, np.pi - 0.5))
    return np.where(np.isfinite(depth), depth, 0.0)


def _sliding_pad_scene(t: int = 24, h: int = 48, w: int = 64, pan_px: float = 0.5, slide_m: float = 0.001):
    """A textured wall 1 m away, panned over by a camera that carries a uniformly grey pad ~5 cm in front of it,
    the pad sliding `slide_m` a frame along the camera's x axis (a finger closing). Returns the frames, the
    geometry and the pad's camera-frame corner per frame."""
    wall = texture(h, w * 2, 5)
    corners = np.array([[-0.012 + slide_m * f, 0.0, 0.045] for f in range(t)])
    images, depth = [], np.ones((t, h, w), np.float32)
    for f in range(t):
        frame = shift_image(wall, -pan_px * f, 0)[:, 16:16 + w].copy()
        pad_depth = _pad(h, w, corners[f])
        mask = pad_depth > 0
        frame[mask] = 200
        depth[f][mask] = pad_depth[mask]
        images.append(np.repeat(frame[..., None], 3, -1))
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    T = np.repeat(np.eye(4)[None], t, 0)
    T[:, 0, 3] = pan_px * np.arange(t) / F  # the wall is 1 m away: 1 px of its image motion = 1/F m of camera motion
    return np.stack(images), DepthPoseGeometry(depth, np.repeat(K[None], t, 0), T), corners


def test_points_on_a_textureless_pad_that_slides_in_the_wrist_view_move_with_it():
    """The pad's points follow its slide within a pixel with carried parts; without them a carried point stays on
    its pixel (nothing on the flat grey pad for LK to follow) and ends ~17 px behind."""
    t, slide_m = 24, 0.001
    images, geometry, corners = _sliding_pad_scene(t=t, slide_m=slide_m)
    pad = geometry.depth[0] < 0.5
    inner = pad[1:-1, 1:-1] & pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    v, u = np.nonzero(inner)  # off the silhouette, where a sub-pixel error would put a point on the wall behind
    v, u = v + 1, u + 1
    pick = np.linspace(0, len(u) - 1, 9).round().astype(int)
    queries = np.stack([np.zeros(9), u[pick], v[pick]], 1).astype(np.float64)
    cam = geometry.camera_points(0, queries[:, 1:])
    moved = cam + (corners[-1] - corners[0])  # the pad translates in the camera's frame
    truth = np.stack([F * moved[:, 0] / moved[:, 2] + (64 - 1) / 2, F * moved[:, 1] / moved[:, 2] + (48 - 1) / 2], 1)

    def run(parts):
        tracks = lk_tracker(reseed_every=100, static_px=2.0, departure_window_px=3, confirm=2, hold_still_grey=5.0,
                            carried_start=True, carried_parts=parts).track_queries(images, queries, geometry)
        return tracks, np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)

    (on, err_on), (_, err_off) = run(True), run(False)
    assert np.median(np.linalg.norm(truth - queries[:, 1:], axis=1)) > 10  # the pad moved far in the image
    assert on.visible[:, -1].all() and (err_on < 1.0).all(), err_on
    assert np.median(np.where(np.isfinite(err_off), err_off, np.inf)) > 5.0, err_off


def test_a_pad_and_the_red_object_it_touches_are_two_parts():
    """At one depth and touching, a grey pad and a red puck are cut apart by their colour: the puck must not be
    moved by the pad's fit."""
    h, w = 32, 48
    images = np.full((1, h, w, 3), 120, np.uint8)
    images[0, 10:20, 5:20] = (0, 180, 180)
    images[0, 10:20, 20:35] = (150, 10, 10)
    depth = np.ones((1, h, w), np.float32)
    depth[0, 10:20, 5:35] = 0.05
    K = np.array([[F, 0, (w - 1) / 2], [0, F, (h - 1) / 2], [0, 0, 1]])
    parts = CarriedParts(near_m=0.10)
    parts.begin(images)
    labels = parts._near(0, DepthPoseGeometry(depth, K[None], np.eye(4)[None])).labels
    pad, puck = labels[12:18, 7:18], labels[12:18, 22:33]
    assert (pad > 0).all() and (puck > 0).all()
    assert len(np.unique(pad)) == 1 and len(np.unique(puck)) == 1 and pad[0, 0] != puck[0, 0]
    assert (labels[0:8] == 0).all()  # the wall behind is far: no part
