"""TraceExtract scored where it cannot choose its points: given query points on every moving body.

Queries are sampled from the simulator's per-pixel body ids (gt/body_ids.npy) on every body seen at a
query frame (up to `QUERY_FRAMES` of the frames that have a map, frame 0 first); the ones whose true
track moves after their query frame are kept and handed to the extractor's own tracker, run with the
config that made the trace episode (TAP-Vid's "first" protocol: frames after the query are scored).
Reported per body class (gripper, object, articulated, arm) and over all moving queries.

Three checks read the extractor's own output instead:
- coverage: each moving body seen in frame 0 with at least `MIN_BODY_PX` pixels (at 128 px) counts as
  covered when at least `COVER_TRACKS` of the extractor's frame-0 tracks start on it;
- motion labels: `is_moving` of the tracks seeded in a frame with a body map, against their truth over the
  rest of the episode (a track lost early misses the motion that comes later) and, beside it, over the
  track's own life (what its label can know: that separates labelling from losing the point);
- false motion: windows of `WINDOW` frames, starting at each map frame where such a track is seen,
  whose extracted positions (in that frame's camera) move more than `FALSE_MOTION_PX` (at 128 px), and
  the share of them where the true point moves less than half that: motion the extractor made up.
Shapes: n queries, t frames.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from mu0.config import TraceExtractConfig, from_dict
from mu0.episodes import Episode
from mu0.episodes.hashing import episode_seed
from mu0.episodes.schema import GT_BODIES
from mu0.episodes.trace_layout import IS_MOVING, TRACK_START, TRACK_UV_PX, TRACK_VISIBLE, TRACK_XYZ_WORLD
from mu0.evaluation.body_classes import CLASSES, body_class
from mu0.evaluation.tracking_metrics import error_3d_metrics, tapvid_2d_metrics
from mu0.trace_extract.alignment import poses_from_extrinsics
from mu0.trace_extract.groundtruth import track_query_pixels
from mu0.trace_extract.lifting import lift_tracks, make_tracks3d, prefer_tracker_points
from mu0.trace_extract.pipeline import point_tracker, scene_geometry

QUERY_FRAMES = 4
POINTS_PER_BODY = 12
MOVING_M = 0.015  # a true track that spans more than this after its query frame is a moving point
# MIN_BODY_PX (an area) and FALSE_MOTION_PX (a distance) are stated for a 128-px-wide image and scale with
# the image, so that renders of one scene at 128 and 256 px are held to the same standard.
REFERENCE_WIDTH_PX = 128
MIN_BODY_PX = 20
COVER_TRACKS = 3
WINDOW = 32
FALSE_MOTION_PX = 1.0
LOST_M = 1.0  # the 3D error a lost point counts with in the median (JSON has no infinity)


@dataclasses.dataclass
class QueriedEpisode:
    moving_2d: dict
    moving_3d: dict
    by_class: dict  # class -> {"2d": …, "3d": …} for the classes with moving queries
    coverage: tuple[int, int]  # (covered bodies, moving bodies seen in frame 0)
    labels: tuple[int, int, int]  # true positives, false positives, false negatives of is_moving
    labels_over_life: tuple[int, int, int]  # the same, with the truth taken over each track's own life
    false_motion: tuple[int, int]  # (windows moving only in the extraction, windows moving in the extraction)
    # the same queries' 2D scores if every point stayed on its query pixel, always visible: what a tracker
    # must beat (a reference beside `moving_2d`; per class under by_class[c]["stays_2d"])
    stays_2d: dict = dataclasses.field(default_factory=dict)


def _query_frames(id_frames: np.ndarray, t: int) -> np.ndarray:
    usable = id_frames[id_frames <= t - 2]  # a query needs frames after it
    picks = np.unique(np.linspace(0, len(usable) - 1, min(QUERY_FRAMES, len(usable))).round().astype(int))
    return usable[picks]


def sample_queries(ep: Episode, rng: np.random.Generator) -> np.ndarray:
    """(n,3) (frame, u, v): up to POINTS_PER_BODY pixels with depth on every body seen at each query frame."""
    id_frames, maps = ep.body_ids
    rows = []
    for f in _query_frames(id_frames, ep.num_frames):
        ids = maps[list(id_frames).index(f)]
        ok = (ids >= 0) & (np.asarray(ep.depth[f]) > 0)
        for body in np.unique(ids[ok]):
            v, u = np.nonzero(ok & (ids == body))
            pick = rng.choice(len(u), size=min(POINTS_PER_BODY, len(u)), replace=False)
            rows.append(np.stack([np.full(len(pick), f), u[pick], v[pick]], axis=1))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)


def _span_after(xyz: np.ndarray, start: np.ndarray, stop: np.ndarray | None = None) -> np.ndarray:
    """(n,) extent of each (n,t,3) world track over the frames from its `start` (n,) on, up to `stop` (n,)
    included (default: the episode's end)."""
    frames = np.arange(xyz.shape[1])[None]
    after = (frames >= start[:, None]) & (frames <= (frames.max() if stop is None else stop[:, None]))
    part = np.where(after[..., None], xyz, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN track has no extent
        span = np.nanmax(part, axis=1) - np.nanmin(part, axis=1)
    return np.nan_to_num(np.linalg.norm(span, axis=1), nan=0.0)


def _scores(pred, gt, frames, hw, xyz_pred, has_depth, sel) -> dict:
    if not sel.any():
        return {}
    d2 = tapvid_2d_metrics(pred.uv_px[sel].astype(np.float64), pred.visible[sel], gt.uv_px[sel], gt.visible[sel],
                           hw, frames[sel])
    after = np.arange(gt.visible.shape[1])[None] > frames[sel, None]
    mask = gt.visible[sel] & after  # every truly visible frame: one the tracker lost is an error, not a skip
    guess = np.where((pred.visible[sel] & has_depth[sel])[..., None], xyz_pred[sel], np.nan)
    d3 = error_3d_metrics(guess, gt.xyz_world[sel], mask)
    err = np.linalg.norm(guess - gt.xyz_world[sel], axis=-1)[mask]
    d3["median_error_m"] = float(np.median(np.where(np.isfinite(err), err, LOST_M))) if err.size else float("nan")
    return {"2d": d2, "3d": d3}  # mean_error_m stays the mean over the frames the tracker still has


def _stays_2d(gt, frames, hw, sel) -> dict:
    """2D scores of the queries `sel` if each stayed on its query pixel, seen in every frame."""
    if not sel.any():
        return {}
    t = gt.visible.shape[1]
    still = np.repeat(gt.query_uv_px[sel, None].astype(np.float64), t, axis=1)
    return tapvid_2d_metrics(still, np.ones((int(sel.sum()), t), bool), gt.uv_px[sel], gt.visible[sel], hw,
                             frames[sel])


def _labels_and_false_motion(ep: Episode, tracks: dict
                             ) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int]]:
    """Label counts against the truth over the rest of the episode and over each track's life; false motion."""
    id_frames = ep.body_ids[0]
    seeded = np.flatnonzero(np.isin(tracks[TRACK_START], id_frames))
    if not len(seeded):
        return (0, 0, 0), (0, 0, 0), (0, 0)
    start = tracks[TRACK_START][seeded].astype(np.int64)
    px = np.rint(tracks[TRACK_UV_PX][seeded, start]).astype(np.int64)
    h, w = ep.images.shape[1:3]
    inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
    seeded, start, px = seeded[inside], start[inside], px[inside]
    gt = track_query_pixels(ep, px, start)
    ok = gt.query_valid
    said = np.asarray(tracks[IS_MOVING], bool)[seeded]
    extracted = np.asarray(tracks[TRACK_XYZ_WORLD], np.float64)[seeded]
    alive = np.asarray(tracks[TRACK_VISIBLE], bool)[seeded] & np.isfinite(extracted[..., 0])
    last_alive = np.where(alive.any(1), alive.shape[1] - 1 - np.argmax(alive[:, ::-1], axis=1), start)

    def counts(true_moving: np.ndarray) -> tuple[int, int, int]:
        return (int((said & true_moving & ok).sum()), int((said & ~true_moving & ok).sum()),
                int((~said & true_moving & ok).sum()))

    labels = counts(_span_after(gt.xyz_world, start) > MOVING_M)
    labels_over_life = counts(_span_after(gt.xyz_world, start, np.maximum(last_alive, start)) > MOVING_M)
    E, K = ep.extrinsics.astype(np.float64), ep.intrinsics.astype(np.float64)
    threshold_px = FALSE_MOTION_PX * w / REFERENCE_WIDTH_PX
    made_up = moved = 0
    for f in id_frames:
        alive = ok & (start <= f) & np.asarray(tracks[TRACK_VISIBLE], bool)[seeded, f] & np.isfinite(extracted[:, f, 0])
        if not alive.any():
            continue
        stop = min(f + WINDOW, ep.num_frames)  # frames f .. f + WINDOW − 1
        window = extracted[alive, f:stop]
        seen = np.isfinite(window[..., :1])  # the truth over the frames the extraction still has
        ext = _pixel_path(window, E[f], K[f])
        true = _pixel_path(np.where(seen, gt.xyz_world[alive, f:stop], np.nan), E[f], K[f])
        moving_ext = ext > threshold_px
        moved += int(moving_ext.sum())
        made_up += int((moving_ext & (true < threshold_px / 2)).sum())
    return labels, labels_over_life, (made_up, moved)


def _pixel_path(xyz_world: np.ndarray, E: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(n,) largest pixel distance from the window's first position, every position seen by one camera."""
    cam = xyz_world @ E[:3, :3].T + E[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam @ K.T)[..., :2] / cam[..., 2:3]
        d = np.linalg.norm(uv - uv[:, :1], axis=-1)
    return np.nan_to_num(np.nanmax(np.where(np.isfinite(d), d, -np.inf), axis=1), nan=0.0, neginf=0.0)


def _coverage(ep: Episode, tracks: dict, moving_bodies: set[int]) -> tuple[int, int]:
    ids0 = ep.body_ids[1][0]
    seen = ids0[(ids0 >= 0) & (np.asarray(ep.depth[0]) > 0)]
    counts = np.bincount(seen, minlength=max(int(seen.max(initial=0)) + 1, 1))
    min_px = MIN_BODY_PX * (ids0.shape[1] / REFERENCE_WIDTH_PX) ** 2
    bodies = [b for b in moving_bodies if b < len(counts) and counts[b] >= min_px]
    first = np.flatnonzero(tracks[TRACK_START] == 0)
    px = np.rint(tracks[TRACK_UV_PX][first, 0]).astype(np.int64)
    on = ids0[px[:, 1].clip(0, ids0.shape[0] - 1), px[:, 0].clip(0, ids0.shape[1] - 1)]
    covered = sum(int((on == b).sum() >= COVER_TRACKS) for b in bodies)
    return covered, len(bodies)


def evaluate_queried(ep: Episode, tracks: dict, trace_meta: dict) -> QueriedEpisode | None:
    """The given-query scores of one simulated episode (with depth and given camera poses), its trace
    episode's tracks.npz contents and meta.json; None when the episode has no query to score."""
    cfg = from_dict(TraceExtractConfig, trace_meta.get("extract", {}).get("config", {})) \
        if trace_meta.get("extract", {}).get("config") else TraceExtractConfig()
    queries = sample_queries(ep, np.random.default_rng(episode_seed(ep.episode_id)))
    if not len(queries):
        return None
    gt_all = track_query_pixels(ep, queries[:, 1:], queries[:, 0])
    moving = gt_all.query_valid & (_span_after(gt_all.xyz_world, queries[:, 0]) > MOVING_M)
    with np.load(ep.path / GT_BODIES, allow_pickle=False) as bodies:
        names = [str(n) for n in bodies["names"]]
    moving_bodies = {int(b) for b in gt_all.body_ids[moving & (queries[:, 0] == 0)]}
    coverage = _coverage(ep, tracks, moving_bodies)
    labels, labels_over_life, false_motion = _labels_and_false_motion(ep, tracks)
    if not moving.any():
        return QueriedEpisode({}, {}, {}, coverage, labels, labels_over_life, false_motion)
    q = queries[moving]
    gt = track_query_pixels(ep, q[:, 1:], q[:, 0])
    depth = np.asarray(ep.depth, np.float32)
    K, T_wc = ep.intrinsics.astype(np.float64), poses_from_extrinsics(ep.extrinsics)
    pred = point_tracker(cfg).track_queries(np.asarray(ep.images), q.astype(np.float64),
                                            scene_geometry(cfg, depth, K, T_wc))
    xyz_cam, has = prefer_tracker_points(pred, lift_tracks(pred, depth, K, cfg.depth_window_px,
                                                           cfg.depth_surface_tol_m)[0], T_wc)
    xyz_world = make_tracks3d(pred, xyz_cam, T_wc).xyz_world
    frames, hw = q[:, 0], ep.images.shape[1:3]
    classes = np.array([body_class(names[b]) for b in gt.body_ids])
    every = _scores(pred, gt, frames, hw, xyz_world, has, np.ones(len(q), bool))
    by_class = {c: _scores(pred, gt, frames, hw, xyz_world, has, classes == c) for c in CLASSES}
    for c, v in by_class.items():
        if v:
            v["stays_2d"] = _stays_2d(gt, frames, hw, classes == c)
    return QueriedEpisode(every["2d"], every["3d"], {c: v for c, v in by_class.items() if v}, coverage, labels,
                          labels_over_life, false_motion, _stays_2d(gt, frames, hw, np.ones(len(q), bool)))
