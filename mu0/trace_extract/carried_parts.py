"""Carried parts followed in the camera's frame: the gripper's fingers seen from the wrist camera.

A finger pad is one flat colour: LK has nothing to follow on it, and when the fingers close it slides and turns
in the image by up to ~8 px a frame. Its depth map is not flat: the pad is the nearest surface in the view, and
its faces and silhouette make a 3D shape that the depth camera sees. So a carried point that lies on a near,
textureless part (closer than `near_m`, cut from the rest where depth or colour jumps) is followed with that
part: the part's point cloud from the frame its fit started in is registered to each later frame's near points
(ICP), and the point moves with it. Registering to that frame, not frame to frame, keeps the small per-frame
errors from adding up; a fit restarts from the current frame when points seeded later find it older than
`JOIN_FRAMES`. The motion is a translation in the camera's frame: a gripper's fingers slide on the hand that
holds the camera, and a translation-only fit cannot drift into turning a flat pad about itself. A textured near
part (an object the gripper holds or pushes) is left to LK, which follows its texture. Shapes: n points, m cloud
points.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mu0.trace_extract.lk_state import LKTrackState
from mu0.trace_extract.point_tracker import SceneGeometry

# Neighbouring pixels belong to different near parts where their depths differ by more than this (metres; a pad's
# own slanted faces change by under 2 mm a pixel at 128 px) or their chromaticities (r, g of r + g + b) by more
# than this sum: a pad and the puck it pushes touch without a depth step, one teal or grey, the other red (tuning
# tasks' wrist camera, objects' given queries δ_avg 0.512 without the colour cut, 0.527 / 0.528 at 0.15 / 0.3).
PART_JUMP_M = 0.005
PART_CHROMA = 0.3
# A part whose pixels' grey level varies less than this (median standard deviation in 5×5 windows) is textureless:
# only there is the fit of its shape used (the Meta-World pads 0, the objects the gripper holds or pushes 2.6–2.7)
FLAT_GREY = 1.0
MIN_PART_PX = 10  # a smaller near region is a sliver at the border or a depth speck, not a part
# ICP: pairs farther apart than this are no pairs; the farthest 5% of the rest are dropped (the part's pixels that
# left the view or came into it); chosen on the tuning tasks' wrist camera (gripper queries, δ_avg of a prototype that
# fitted from each query's frame: keeping 60 / 80 / 90 / 100% 0.512 / 0.516 / 0.534 / 0.529, 95% 0.542)
PAIR_MAX_M = 0.02
KEEP_SHARE = 0.95
ITERATIONS = 20
CONVERGED_M = 1e-4  # an ICP step shorter than this ends the fit (a pixel is ~0.8 mm at the pads' 5 cm)
# a part's cloud is thinned to about this many points: the fit's cost grows with them, its accuracy did not (tuning
# tasks' wrist gripper queries δ_avg 0.487 / 0.492 with 100 / 150 points and fits converged to 0.05 mm, 0.473 with
# 400 and 0.01 mm; 0.504 with 150 and 0.1 mm)
CLOUD_POINTS = 150
# Points seeded on a near region within this many frames of the start of the part already followed there join it;
# later ones start a new fit there, which takes over the old part's points from where it has them. One fit per part
# from its first frame on would be exact for a rigid pad seen whole, but a pad entering the view or half hidden
# biases a fit the more, the longer it runs (tuning tasks' wrist gripper queries δ_avg: a new fit at every seeding
# 0.508 at 4× the tracking time, joining within 4 / 6 / 10 frames 0.495 / 0.492 / 0.492).
JOIN_FRAMES = 6
# A point nearer than the carried test's `near_m` whose world anchor's patch fits no better than this (mean grey
# difference) where the test judges it is carried too: the fingers closing leave it neither where the world nor where
# the camera would have it (tuning tasks' wrist camera, moving queries δ_avg 0.513 → 0.522; carried.py)
WORLD_FIT_GREY = 8.0


@dataclasses.dataclass
class Part:
    cloud: np.ndarray  # (m,3) camera-frame points of the part in its first frame
    shift: np.ndarray  # (3,) its translation in the camera's frame from there to frame `solved`
    solved: int
    started: int


@dataclasses.dataclass
class NearFrame:
    labels: np.ndarray  # (h,w) near part per pixel, 0 = none
    cloud: np.ndarray  # (m,3) camera-frame points of all near pixels with depth
    cloud_labels: np.ndarray  # (m,) their part labels
    tree: object  # scipy cKDTree of `cloud`, or None when there is none
    flat: np.ndarray  # (labels,) bool: the part shows no texture of its own (`FLAT_GREY`)


class CarriedParts:
    def __init__(self, near_m: float) -> None:
        self.near_m = near_m
        self.parts: list[Part] = []
        self._frames: dict[int, NearFrame] = {}
        self._images: np.ndarray | None = None  # the episode's (t,h,w,3) RGB frames, from `begin`

    def begin(self, images: np.ndarray) -> None:
        """A new episode of (t,h,w,3) RGB frames: forget the last one's parts and frames."""
        self.parts, self._frames, self._images = [], {}, images

    def claim(self, st: LKTrackState, ids: np.ndarray, frame: int, geometry: SceneGeometry) -> None:
        """The carried tracks `ids`, new at `frame`, that lie on a near, flat part are followed with it from now on."""
        if not len(ids):
            return
        near = self._near(frame, geometry)
        own = _label_at(near.labels, st.uv[ids, frame])
        cam = geometry.camera_points(frame, st.uv[ids, frame].astype(np.float64))
        for label in np.unique(own[own > 0]):
            on = (own == label) & np.all(np.isfinite(cam), axis=1)
            if not near.flat[label] or not on.any():
                continue  # LK follows a textured part's own texture better than a fit of its shape
            older = self._parts_on(st, label, near.labels, frame)
            young = [k for k in older if frame - self.parts[k - 1].started <= JOIN_FRAMES]
            if young:
                k = young[0]
            else:
                self.parts.append(Part(_thinned(near.cloud[near.cloud_labels == label]), np.zeros(3), frame, frame))
                k = len(self.parts)
                for old in older:  # their points move on with the new fit, from where the old one has them now
                    pts = np.flatnonzero(st.part[: st.n] == old)
                    st.cam[pts] += self.parts[old - 1].shift
                    st.part[pts] = k
            # each point is kept where it was when its part started: the part's shift takes it from there
            st.part[ids[on]], st.cam[ids[on]] = k, cam[on] - self.parts[k - 1].shift

    def _parts_on(self, st: LKTrackState, label: int, labels: np.ndarray, frame: int) -> list[int]:
        """The parts (1-based), newest first, most of whose points seen at `frame` lie on the near region `label`."""
        ids = np.flatnonzero((st.part[: st.n] > 0) & st.visible[: st.n, frame])
        if not len(ids):
            return []
        on = _label_at(labels, st.uv[ids, frame]) == label
        seen = np.bincount(st.part[ids], minlength=len(self.parts) + 1)
        there = np.bincount(st.part[ids[on]], minlength=len(self.parts) + 1)
        return [int(k) for k in np.flatnonzero(2 * there > seen)[::-1]]

    def follow(self, st: LKTrackState, ids: np.ndarray, f: int, geometry: SceneGeometry
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where the tracks `ids` (all on parts) are at frame f by their part's fit: (n,2) pixels (NaN behind the
        camera), (n,3) world points and (n,) bool whether each is seen there (in the image, not hidden)."""
        for k in np.unique(st.part[ids]):
            self._solve(self.parts[k - 1], f, geometry)
        cam = st.cam[ids] + np.stack([self.parts[k - 1].shift for k in st.part[ids]])
        world = geometry.to_world(f, cam)
        uv, seen = geometry.observe(f, world)
        uv[~(cam[:, 2] > 0)] = np.nan
        return uv, world, seen

    def _solve(self, part: Part, f: int, geometry: SceneGeometry) -> None:
        """The part's translation to frame f: trimmed point-to-point ICP to the frame's near points, from its last
        solution. Where too few of its points pair up (it left the view, or is hidden) it keeps that solution."""
        if part.solved == f:
            return
        near = self._near(f, geometry)
        part.solved = f
        if near.tree is None or len(part.cloud) < MIN_PART_PX:
            return
        shift = part.shift.copy()
        for _ in range(ITERATIONS):
            moved = part.cloud + shift
            dist, nearest = near.tree.query(moved, distance_upper_bound=PAIR_MAX_M)
            paired = np.isfinite(dist)
            if paired.sum() < MIN_PART_PX:
                return
            paired &= dist <= _quantile(dist[paired], KEEP_SHARE)
            step = (near.cloud[nearest[paired]] - moved[paired]).mean(axis=0)
            shift += step
            if np.linalg.norm(step) < CONVERGED_M:
                break
        part.shift = shift

    def _near(self, frame: int, geometry: SceneGeometry) -> NearFrame:
        """The frame's near parts: pixels nearer than `near_m`, cut into connected parts where depth or colour jumps
        (cached for the frames still asked for)."""
        from scipy.spatial import cKDTree

        if frame not in self._frames:
            self._frames = {k: v for k, v in self._frames.items() if k >= frame - 1}
            depth = geometry.depth_map(frame)
            near = (depth > 0) & (depth < self.near_m)
            rgb = np.asarray(self._images[frame], np.float32)
            labels = _part_labels(near, depth, rgb)
            v, u = np.nonzero(near)
            cloud = geometry.camera_points(frame, np.stack([u, v], axis=1).astype(np.float64))
            known = np.all(np.isfinite(cloud), axis=1)
            self._frames[frame] = NearFrame(labels, cloud[known], labels[v, u][known],
                                            cKDTree(cloud[known]) if known.any() else None, _flat_parts(labels, rgb))
        return self._frames[frame]


def _part_labels(near: np.ndarray, depth: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(h,w) labels of the 4-connected parts of the `near` pixels (0 = none): two neighbours are joined unless their
    depths or chromaticities differ by more than `PART_JUMP_M` and `PART_CHROMA`. On a doubled grid, (2r, 2c) is
    pixel (r, c) and the cell between two neighbours is set only where they join, so a part keeps its border pixels."""
    import cv2

    chroma = rgb[..., :2] / np.maximum(_channel_sum(rgb), 1.0)[..., None]

    def joined(axis: int) -> np.ndarray:
        both = near[:, 1:] & near[:, :-1] if axis == 1 else near[1:] & near[:-1]
        return both & (np.abs(np.diff(depth, axis=axis)) <= PART_JUMP_M) & (
            np.abs(np.diff(chroma, axis=axis)).sum(axis=2) <= PART_CHROMA)

    h, w = near.shape
    grid = np.zeros((2 * h - 1, 2 * w - 1), np.uint8)
    grid[::2, ::2] = near
    grid[::2, 1::2] = joined(1)
    grid[1::2, ::2] = joined(0)
    count, comp = cv2.connectedComponents(grid, connectivity=4, ltype=cv2.CV_32S)
    labels = comp[::2, ::2]
    area = np.bincount(labels.ravel(), minlength=count)
    keep = area >= MIN_PART_PX
    keep[0] = False  # the grid's empty cells, never a pixel
    relabel = np.zeros(count, np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1)
    return relabel[labels]


def _flat_parts(labels: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """(labels,) bool: the grey level varies by less than `FLAT_GREY` (median standard deviation in 5×5 windows)
    inside each part — over the pixels whose window lies on the part, as its edges are not its texture; a part too
    thin to hold one such window counts as flat."""
    import cv2

    grey = _channel_sum(rgb) / 3
    mean, square = cv2.blur(grey, (5, 5)), cv2.blur(grey * grey, (5, 5))
    spread = np.sqrt(np.maximum(square - mean * mean, 0.0))
    flat = np.ones(labels.max() + 1, bool)
    flat[0] = False
    for label in range(1, len(flat)):
        interior = cv2.erode((labels == label).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        if interior.any():
            flat[label] = np.median(spread[interior]) < FLAT_GREY
    return flat


def _label_at(labels: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(n,) the label under each (n,2) pixel position (nearest pixel, clamped to the image)."""
    h, w = labels.shape
    return labels[np.rint(uv[:, 1]).astype(int).clip(0, h - 1), np.rint(uv[:, 0]).astype(int).clip(0, w - 1)]


def _channel_sum(rgb: np.ndarray) -> np.ndarray:
    """(h,w) r + g + b of float32 whole grey levels: exact in any order, so the same as rgb.sum(axis=2), which
    numpy computes slowly over a last axis of three."""
    return rgb[..., 0] + rgb[..., 1] + rgb[..., 2]


def _quantile(values: np.ndarray, q: float) -> float:
    """np.quantile(values, q) (linear interpolation, the same float operations) from a partial sort: the ICP asks
    at every iteration, and np.quantile's general path costs more than the partition."""
    n = len(values)
    at = (n - 1) * q
    lo = int(np.floor(at))
    if lo >= n - 1:
        return float(values.max())
    ordered = np.partition(values, (lo, lo + 1))
    a, b, t = ordered[lo], ordered[lo + 1], at - lo
    return float(b - (b - a) * (1 - t)) if t >= 0.5 else float(a + (b - a) * t)


def _thinned(cloud: np.ndarray) -> np.ndarray:
    """Every k-th point of a (m,3) cloud, about `CLOUD_POINTS` of them (pixel order spreads them evenly)."""
    return cloud[:: max(1, len(cloud) // CLOUD_POINTS)]
