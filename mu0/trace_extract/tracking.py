"""2D point tracking over a whole episode: pyramidal Lucas–Kanade with a forward–backward check,
made camera-aware when the episode has depth and camera poses.

Every point is followed frame to frame by LK and kept while tracking it back lands within
`fb_max_error_px` of where it came from. Every `reseed_every` frames new keypoints are seeded only
in grid cells no visible track covers ("mask-then-generate").

With scene geometry (depth + poses) each track also carries a world anchor. While the point moves
as a static world point would — tracked by LK from `check_gap` frames back, it lands within
`static_px` of where its anchor projects — its position is the anchor's projection: no drift, and it
survives LK failures and occlusions (visibility then comes from a depth test), the camera-stabilised
idea of world-space tracking. Once it departs, it is a moving point, tracked by LK alone until lost.
Checking over a gap rather than frame to frame lets slow motion add up above LK's per-frame noise; the
check's own, smaller window (`departure_window_px`) keeps a moving neighbour's texture out of it.
With depth, LK follows the surface's orientation beside the grey image (lk_images.py), which gives a
uniformly coloured but curved or edged part (an arm link, a finger pad) something to hold on to. Where even
that shows nothing (a flat stretch sliding along itself), a point moves with the moving points near it on its
part (neighbour_motion.py); moving points are pulled back onto their seed patch against drift (relocalise.py).
A learned tracker (CoTracker-style) implements the same `PointTracker` protocol (point_tracker.py).
"""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.carried import carried_from_start, stay_if_carried
from mu0.trace_extract.carried_parts import WORLD_FIT_GREY, CarriedParts
from mu0.trace_extract.departures import Departures
from mu0.trace_extract.keypoints import MOVING_CAMERA_BORDER_PX, KeypointSelector, coverage_grid, inside_border
from mu0.trace_extract.lk_images import with_shape
from mu0.trace_extract.lk_state import LKTrackState
from mu0.trace_extract.neighbour_motion import NeighbourMotion
from mu0.trace_extract.point_tracker import SceneGeometry
from mu0.trace_extract.relocalise import SeedRelocaliser
from mu0.trace_extract.segment_motion import region_shift, regions
from mu0.trace_extract.tracks import Tracks2D

_MOTION_DIFF = 8  # grey-level change that marks a pixel as moving, for seeding priority
_MIN_FOR_LOSS_RATE = 20  # points needed before a frame's LK loss rate means anything
# relocalising every 3rd frame keeps most of its gain (tuning tasks, front δ_avg 0.442 every frame, 0.434 every
# 3rd) at a third of its cost (LK between the seed frame and this one, per seed frame in use)
RELOCALISE_EVERY = 3
# one static point in this many is stepped by LK (for the loss rate that finds a cut; _advance)
STATIC_STEP_SAMPLE = 4


class LucasKanadeTracker:
    def __init__(self, selector: KeypointSelector, grid_px: int, max_tracks: int, window_px: int, levels: int,
                 fb_max_error_px: float, reseed_every: int, static_px: float = 1.0, check_gap: int = 6,
                 confirm: int = 3, leave_when_uncovered: bool = False, departure: str = "gap",
                 hold_still_grey: float = 0.0, region_motion: bool = False, departure_window_px: int = 0,
                 carried_start: bool = False, carried_near_m: float = 0.10, departure_surface: bool = False,
                 relocalise_px: float = 0.0, shape_gain: float = 0.0, neighbour_radius_m: float = 0.0,
                 neighbour_min_moving: int = 3, neighbour_moving_share: float = 0.34,
                 carried_parts: bool = False, depth_departure_m: float = 0.0,
                 gap_departures_moving_camera: bool = True, lost_follow_frames: int = 0) -> None:
        self.selector, self.grid_px, self.max_tracks = selector, grid_px, max_tracks
        self.window, self.levels, self.fb_max = (window_px, window_px), levels, fb_max_error_px
        departure_window = (departure_window_px,) * 2 if departure_window_px else self.window
        self.reseed_every, self.static_px, self.check_gap = reseed_every, static_px, check_gap
        self.leave_when_uncovered, self.departure = leave_when_uncovered, departure
        self.hold_still_grey, self.region_motion = hold_still_grey, region_motion
        self.carried_start, self.carried_near_m = carried_start, carried_near_m
        self.shape_gain = shape_gain
        self.neighbours = NeighbourMotion(self._lk_image, neighbour_radius_m, neighbour_min_moving,
                                          neighbour_moving_share, static_px) if neighbour_radius_m > 0 else None
        self.lost_follow_frames = lost_follow_frames
        self._follow_lost = False  # this episode's: a still camera (`_begin`)
        self._region_cache: dict[int, tuple] = {}
        self._lk_images: dict[int, np.ndarray] = {}
        self.relocaliser = SeedRelocaliser(self._lk_far, self._lk_image, relocalise_px) if relocalise_px > 0 else None
        self.parts = CarriedParts(carried_near_m) if carried_parts and carried_start else None
        self.departures = Departures(self._lk, departure_window, fb_max_error_px, static_px, check_gap, confirm,
                                     departure_surface, depth_departure_m, gap_departures_moving_camera)

    def _begin(self, images: np.ndarray, grays: list[np.ndarray], geometry: SceneGeometry | None) -> None:
        """A new episode starts: forget caches keyed by the last one's frames (subclasses theirs too, and may
        keep what they need of this one)."""
        self._region_cache = {}
        self._lk_images = {}
        if self.parts is not None:
            self.parts.begin(images)
        moves = geometry is not None and geometry.camera_moves()
        self.departures.begin(moves)
        self._follow_lost = self.neighbours is not None and self.lost_follow_frames > 0 and geometry is not None \
            and not moves
        if self.shape_gain > 0 and geometry is not None:
            self._lk_images = {id(g): with_shape(g, geometry.surface_normals(f), self.shape_gain)
                               for f, g in enumerate(grays)}

    def _lk_image(self, gray: np.ndarray) -> np.ndarray:
        """What LK follows for a grey frame: with depth, the frame plus its surface orientation (lk_images.py).
        Keyed by the frame's id, as one episode's grey frames live while it is tracked."""
        return self._lk_images.get(id(gray), gray)

    def _regions(self, grays: list[np.ndarray], f: int) -> tuple:
        """`regions` of frame f, kept for the next step: each frame ends one step and starts the next."""
        if f not in self._region_cache:
            self._region_cache = {k: v for k, v in self._region_cache.items() if k >= f - 1}
            self._region_cache[f] = regions(grays[f])
        return self._region_cache[f]

    def _lk(self, prev: np.ndarray, cur: np.ndarray, p0: np.ndarray, guess: np.ndarray | None,
            window: tuple[int, int] | None = None, shape: bool = True):
        """LK from `prev` to `cur` (starting at `guess` when given) plus the backward check:
        new (n,2) positions and their forward–backward errors (inf where LK failed). With `shape`, on the
        frames with their surface orientation where the scene's depth is known (`_lk_image`)."""
        import cv2

        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.01)
        kw = {"winSize": window or self.window, "maxLevel": self.levels, "criteria": criteria}
        p0 = p0.reshape(-1, 1, 2).astype(np.float32)
        if shape:
            prev, cur = self._lk_image(prev), self._lk_image(cur)
        if guess is None:
            p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **kw)
        else:
            p1, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, guess.reshape(-1, 1, 2).astype(np.float32).copy(),
                                                  flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **kw)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **kw)
        fb = np.linalg.norm(back.reshape(-1, 2) - p0.reshape(-1, 2), axis=1)
        fb[(st1[:, 0] != 1) | (st2[:, 0] != 1)] = np.inf
        return p1.reshape(-1, 2), fb

    def _lk_far(self, a: np.ndarray, b: np.ndarray, pa: np.ndarray, guess: np.ndarray):
        """LK between frames far apart, from a to b started at `guess` (the displacement can exceed what the
        pyramid finds from scratch): (n,2) positions in b and whether LK converged. Forward only: the caller
        validates each match on the point's own surface. Always LK, also in subclasses that move points by
        dense flow."""
        import cv2

        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.01)
        kw = {"winSize": self.window, "maxLevel": self.levels, "criteria": criteria,
              "flags": cv2.OPTFLOW_USE_INITIAL_FLOW}
        pa = pa.reshape(-1, 1, 2).astype(np.float32)
        pb, status, _ = cv2.calcOpticalFlowPyrLK(self._lk_image(a), self._lk_image(b), pa,
                                                 guess.reshape(-1, 1, 2).astype(np.float32).copy(), **kw)
        return pb.reshape(-1, 2), status[:, 0] == 1

    def _step(self, prev: np.ndarray, cur: np.ndarray, p0: np.ndarray, guess: np.ndarray | None,
              shape: np.ndarray | None = None):
        """New positions of (n,2) points and whether each passed the forward–backward check. Points
        with a predicted position (camera motion from the scene geometry) start LK there. LK sees the
        surface's orientation for the points `shape` (n,) bool marks (default all), the grey frames alone for
        the rest."""
        # one LK call per kind: starting at the point itself is exactly LK without an initial flow
        start = p0 if guess is None else np.where(np.all(np.isfinite(guess), axis=1)[:, None], guess, p0)
        if shape is None or shape.all() or not self._lk_images:
            p1, fb = self._lk(prev, cur, p0, start)
        else:
            p1, fb = np.empty_like(p0, dtype=np.float32), np.empty(len(p0))
            for kind in (True, False):
                i = np.flatnonzero(shape == kind)
                if len(i):
                    p1[i], fb[i] = self._lk(prev, cur, p0[i], start[i], shape=kind)
        h, w = prev.shape
        inside = (p1[:, 0] >= 0) & (p1[:, 0] <= w - 1) & (p1[:, 1] >= 0) & (p1[:, 1] <= h - 1)
        return p1, (fb < self.fb_max) & inside

    def _hold_still(self, prev: np.ndarray, cur: np.ndarray, p0: np.ndarray, p1: np.ndarray, ok: np.ndarray):
        """Where LK fails, a point whose surroundings look the same in both frames (mean grey difference of
        its 5×5 patch below `hold_still_grey` levels) has not moved: it stays where it was. This keeps
        textureless parts that move little in the image (the gripper in the wrist camera) instead of losing
        them; a moving textureless interior is ambiguous anyway."""
        lost = np.flatnonzero(~ok)
        if not len(lost):
            return p1, ok
        h, w = prev.shape
        c = np.rint(p0[lost, 0]).astype(int).clip(2, w - 3)
        r = np.rint(p0[lost, 1]).astype(int).clip(2, h - 3)
        offsets = np.arange(-2, 3)
        rows, cols = r[:, None, None] + offsets[None, :, None], c[:, None, None] + offsets[None, None, :]
        diff = np.abs(prev[rows, cols].astype(np.int16) - cur[rows, cols].astype(np.int16)).mean(axis=(1, 2))
        keep = lost[diff < self.hold_still_grey]
        p1, ok = p1.copy(), ok.copy()
        p1[keep], ok[keep] = p0[keep], True
        return p1, ok

    def _seed(self, st: LKTrackState, alive: np.ndarray, grays: list[np.ndarray], motion, frame: int,
              geometry: SceneGeometry | None, queries: np.ndarray | None = None) -> np.ndarray:
        """New keypoints where no visible track covers the grid, up to `max_tracks` visible; tracks of given
        `queries` (boolean over all tracks) neither cover nor count, so the tracker's own points are the same
        with queries as without."""
        gray = grays[frame]
        seen = alive[st.visible[alive, frame]]
        if queries is not None:
            seen = seen[~queries[seen]]
        covered = coverage_grid(st.uv[seen, frame], gray.shape, self.grid_px)
        # without poses the camera may move: keep off its border (keypoints.py)
        allowed = geometry.seedable(frame) if geometry is not None else inside_border(gray.shape,
                                                                                      MOVING_CAMERA_BORDER_PX)
        new = self.selector.select(gray, covered, motion, self.max_tracks - len(seen), allowed)
        if not len(new):
            return alive
        return np.concatenate([alive, self._add(st, new, frame, grays, geometry)])

    def _add(self, st: LKTrackState, uv: np.ndarray, frame: int, grays: list[np.ndarray],
             geometry: SceneGeometry | None) -> np.ndarray:
        """New tracks at (n,2) pixels of `frame`: static on a world anchor where there is depth, unless the
        camera carries them (carried.py)."""
        anchor = geometry.anchor(frame, uv) if geometry is not None else np.full((len(uv), 3), np.nan)
        ids = st.add(uv, frame, anchor)
        if self.carried_start and geometry is not None:
            # with carried parts, a near point that its world anchor does not fit moves with its part
            fit = WORLD_FIT_GREY if self.parts is not None else np.inf
            carried = ids[carried_from_start(uv, anchor, frame, grays, geometry, self.static_px,
                                                  self.carried_near_m, fit)]
            st.static[carried], st.carried[carried] = False, True
            if self.parts is not None:
                self.parts.claim(st, carried, frame, geometry)
        return ids

    def _moved(self, st: LKTrackState, ids: np.ndarray, f: int, grays: list[np.ndarray],
               geometry: SceneGeometry | None) -> tuple[np.ndarray, np.ndarray]:
        """Where the tracks `ids` (seen at f − 1) are at frame f by LK's step and its fallbacks (carried points
        held, lost ones carried by their region or held where their patch did not change): (n,2) positions and
        whether each was found."""
        prev, cur, p0 = grays[f - 1], grays[f], st.uv[ids, f - 1]
        if not len(ids):
            return p0, np.zeros(0, bool)
        # anchors are current (static points keep theirs, moving ones are re-anchored every frame),
        # so where the camera motion alone would take each point is one projection away
        guess = geometry.observe(f, st.anchor[ids], depth_test=False)[0] if geometry is not None else None
        if guess is not None:  # a point the camera carries stays where it was, not where the camera takes it
            guess[st.carried[ids]] = np.nan
        # static points' steps (the loss rate, see _advance) need no shape channels (LK on three costs more)
        p1, ok = self._step(prev, cur, p0, guess, shape=~st.static[ids])
        if self.carried_start:
            depth = geometry.depth_map(f - 1) if geometry is not None else None
            p1, ok = stay_if_carried(prev, cur, p0, p1, ok, st.carried[ids], depth)
        if self.neighbours is not None and geometry is not None:
            p1, ok = self.neighbours.follow(st, ids, p1, ok, f, grays, geometry)
        if self.region_motion and not ok.all():
            lost = np.flatnonzero(~ok)
            moved, found = region_shift(self._regions(grays, f - 1), self._regions(grays, f), p0[lost])
            p1, ok = p1.copy(), ok.copy()
            p1[lost[found]], ok[lost[found]] = moved[found], True
        if self.hold_still_grey > 0:
            p1, ok = self._hold_still(prev, cur, p0, p1, ok)
        return p1, ok

    def _advance(self, st: LKTrackState, alive: np.ndarray, f: int, grays: list[np.ndarray],
                 geometry: SceneGeometry | None) -> np.ndarray:
        """Positions and visibility of the alive tracks at frame f; returns the tracks still alive."""
        # a point on a carried part goes where the part's fit to this frame puts it (carried_parts.py), seen or
        # not: no LK step, and no end while the part is out of view or hidden
        on_part = alive[st.part[alive] > 0]
        if len(on_part):
            uv, world, seen = self.parts.follow(st, on_part, f, geometry)
            st.uv[on_part, f], st.visible[on_part, f] = uv, seen
            st.xyz[on_part[seen], f] = world[seen]
        lk_ids = alive[st.visible[alive, f - 1] & (st.part[alive] == 0)]
        # a static point sits on its anchor's projection: LK's step serves only the loss rate (a cut), for which
        # a sample of them suffices, and the points the background uncovers, stepped once they are found
        lk_ids = lk_ids[~st.static[lk_ids] | (lk_ids % STATIC_STEP_SAMPLE == 0)]
        p1, ok = self._moved(st, lk_ids, f, grays, geometry)
        if self.relocaliser is not None and len(lk_ids) and f % RELOCALISE_EVERY == 0:
            p1 = self.relocaliser.relocalise(st, lk_ids, p1, ok, grays, f, geometry)
        st.uv[lk_ids[ok], f], st.visible[lk_ids[ok], f] = p1[ok], True
        if len(ok) >= _MIN_FOR_LOSS_RATE:
            st.lk_lost[f] = 1.0 - ok.mean()
        if geometry is None:
            return np.setdiff1d(alive, lk_ids[~ok], assume_unique=True)
        statics = alive[st.static[alive]]
        pred, seen, behind, offset = geometry.look(f, st.anchor[statics])
        if self.leave_when_uncovered:
            # the background shows where a static point should be: its surface moved away, so the point is a
            # moving one from now on, continuing from this frame's LK step (lost if LK failed)
            left = st.visible[statics, f - 1] & behind
            st.static[statics[left]] = False
            late = np.setdiff1d(statics[left], lk_ids, assume_unique=True)  # not stepped above
            if len(late):
                p1_late, ok_late = self._moved(st, late, f, grays, geometry)
                st.uv[late[ok_late], f], st.visible[late[ok_late], f] = p1_late[ok_late], True
                lk_ids, ok = np.concatenate([lk_ids, late]), np.concatenate([ok, ok_late])
            statics, pred, seen, offset = statics[~left], pred[~left], seen[~left], offset[~left]
        if self.departure == "path":
            self.departures.follow_shadows(st, statics, pred, seen, f, grays)
        elif f % 2 == 0 or f < self.check_gap:  # every other frame is enough to catch a departure
            self.departures.find(st, statics, pred, seen, f, grays, geometry, offset)
        moving = alive[~st.static[alive] & st.visible[alive, f] & (st.part[alive] == 0)]  # stepped, departed now
        st.anchor[moving] = geometry.anchor(f, st.uv[moving, f])
        if self.neighbours is not None and f % 2 == 0:  # as often as the gap check
            gone = self.neighbours.depart(st, alive, statics, pred, seen, f, grays, geometry)
            st.anchor[gone] = geometry.anchor(f, st.uv[gone, f])
            moving = np.concatenate([moving, gone])
        keep = st.static[statics]  # the static ones sit on their anchor's projection, seen or not
        st.uv[statics[keep], f], st.visible[statics[keep], f] = pred[keep], seen[keep]
        st.xyz[moving, f] = st.anchor[moving]
        st.xyz[statics[keep & seen], f] = st.anchor[statics[keep & seen]]
        # a moving point that is not seen is gone, unless its part carries it ...
        kept = alive[st.static[alive] | st.visible[alive, f] | (st.part[alive] > 0)]
        if not self._follow_lost:
            return kept
        # ... or, on a still camera, its moving neighbours say where it went, for a few frames
        lost = np.setdiff1d(alive, kept, assume_unique=True)
        return np.concatenate([kept, self.neighbours.carry_lost(st, lost, alive, f, geometry,
                                                                 self.lost_follow_frames)])

    def track(self, images: np.ndarray, geometry: SceneGeometry | None = None) -> Tracks2D:
        import cv2

        t = images.shape[0]
        st = LKTrackState(t)
        grays = _grey_frames(images)
        self._begin(images, grays, geometry)
        alive = self._seed(st, np.empty(0, int), grays, None, 0, geometry)
        for f in range(1, t):
            alive = self._advance(st, alive, f, grays, geometry)
            if f % self.reseed_every == 0:
                motion = cv2.absdiff(grays[f], grays[f - 1]) > _MOTION_DIFF
                alive = self._seed(st, alive, grays, motion, f, geometry)
        return st.result()

    def track_queries(self, images: np.ndarray, queries: np.ndarray, geometry: SceneGeometry | None = None
                      ) -> Tracks2D:
        """Tracks of given points, (n,3) rows (frame, u, v): each starts at its frame and is followed forward
        (TAP-Vid's "first" protocol); track i is query i. They are followed inside the same run as `track`
        (its own keypoints seeded and followed beside them, then dropped), so a query moves as the tracker's own
        points do, with the same neighbours (neighbour_motion.py), whatever the number of queries."""
        import cv2

        t = images.shape[0]
        frames = np.asarray(queries[:, 0], np.int64)
        if len(frames) and (frames.min() < 0 or frames.max() >= t):
            raise ValueError(f"query frames must lie in 0..{t - 1}, got {frames.min()}..{frames.max()}")
        st, alive, grays = LKTrackState(t, max(len(frames), 1)), np.empty(0, int), _grey_frames(images)
        self._begin(images, grays, geometry)
        query_id = np.full(len(frames), -1)
        is_query = np.zeros(0, bool)
        for f in range(t):
            motion = None
            if f:
                alive = self._advance(st, alive, f, grays, geometry)
                motion = cv2.absdiff(grays[f], grays[f - 1]) > _MOTION_DIFF
            if f == 0 or f % self.reseed_every == 0:
                is_query = np.concatenate([is_query, np.zeros(st.n - len(is_query), bool)])
                alive = self._seed(st, alive, grays, motion, f, geometry, is_query)
            now = np.flatnonzero(frames == f)
            if len(now):
                ids = self._add(st, np.asarray(queries[now, 1:], np.float32), f, grays, geometry)
                query_id[now] = ids
                alive = np.concatenate([alive, ids])
                is_query = np.concatenate([is_query, np.zeros(st.n - len(is_query), bool)])
                is_query[ids] = True
        return st.result().subset(query_id)


def _grey_frames(images: np.ndarray) -> list[np.ndarray]:
    import cv2

    return [cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY) for im in images]
