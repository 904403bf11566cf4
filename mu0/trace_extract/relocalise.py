"""Moving points pulled back onto their own patch of the frame they were seeded in.

Frame-to-frame LK steps drift (each adds a fraction of a pixel). A moving point's patch in its seed frame sits
exactly on it, so LK from there to the current frame, started where the step put the point, pulls it back — if
the match is near (a far one is another place that looks alike) and fits the point's own surface better than
the step's place does. Shapes: n points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mu0.trace_extract.lk_state import LKTrackState
from mu0.trace_extract.patches import patch_errors_grouped
from mu0.trace_extract.point_tracker import SceneGeometry

# the seed match must fit the point's surface better than the step's place by this many grey levels: on a uniform
# stretch both fit alike, and the seed patch would pull a point that moved with its part back to where it started
BETTER_BY_GREY = 0.5
# LK between two frames far apart, from a to b, started at a guess: (n,2) positions and whether LK converged
FarLK = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class SeedRelocaliser:
    def __init__(self, far_lk: FarLK, lk_image: Callable[[np.ndarray], np.ndarray], max_px: float) -> None:
        self.far_lk, self.lk_image, self.max_px = far_lk, lk_image, max_px

    def relocalise(self, st: LKTrackState, ids: np.ndarray, p1: np.ndarray, ok: np.ndarray,
                   grays: list[np.ndarray], f: int, geometry: SceneGeometry | None) -> np.ndarray:
        """(n,2) positions at frame f of the tracks `ids` found (`ok`) at `p1` by the step: the moving ones
        matched back onto their seed patch (`seed_match`) where that is taken."""
        sel = np.flatnonzero(ok & ~st.static[ids])
        sel = sel[st.start[ids[sel]] < f - 1]  # seeded in the previous frame: the step was that match
        if not len(sel):
            return p1
        q, better = self.seed_match(st, ids[sel], p1[sel], grays, f, geometry)
        p1 = p1.copy()
        p1[sel[better]] = q[better]
        return p1

    def seed_match(self, st: LKTrackState, ids: np.ndarray, guess: np.ndarray, grays: list[np.ndarray], f: int,
                   geometry: SceneGeometry | None) -> tuple[np.ndarray, np.ndarray]:
        """LK from each track's patch in its seed frame to frame f, started at (n,2) `guess`: the matches and
        whether each is taken — LK converged, within `max_px` of the guess and fitting the point's own surface
        (its seed patch's pixels at its depth) better than the guess does: next to a silhouette LK's window
        also holds the background, which would pull the point towards it."""
        q, starts = guess.copy(), st.start[ids]
        rows, sources = [], []
        for s in np.unique(starts):
            m = np.flatnonzero(starts == s)
            seed = st.uv[ids[m], s]
            found, ok = self.far_lk(grays[s], grays[f], seed, guess[m])
            good = np.flatnonzero(ok & (np.linalg.norm(found - guess[m], axis=1) < self.max_px))
            if not len(good):
                continue
            q[m[good]] = found[good]
            rows.append(m[good])
            sources.append((self.lk_image(grays[s]), seed[good],
                            geometry.depth_map(s) if geometry is not None else None))
        taken = np.zeros(len(ids), bool)
        rows = np.concatenate(rows) if rows else np.zeros(0, int)
        if len(rows):
            e_match, e_guess = patch_errors_grouped(sources, self.lk_image(grays[f]), [q[rows], guess[rows]])
            taken[rows] = e_match + BETTER_BY_GREY < e_guess
        return q, taken
