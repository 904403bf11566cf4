"""Points moved by their neighbours on the same rigid part (neighbour_motion.py)."""

import dataclasses

import numpy as np

from mu0.config import TraceExtractConfig
from mu0.trace_extract.alignment import DepthPoseGeometry
from mu0.trace_extract.neighbour_motion import shift_since
from mu0.trace_extract.pipeline import point_tracker

from .synthetic import sliding_bar_scene

T = 5  # frames


def _history(then: np.ndarray, frame: int) -> np.ndarray:
    """(k,T,3) positions known only at `frame`."""
    h = np.full((len(then), T, 3), np.nan)
    h[:, frame] = then
    return h


def test_a_point_moves_with_the_donors_near_it_and_a_wrong_donor_is_outvoted():
    part = np.array([[0.0, 0.0, 1.0], [0.01, 0.0, 1.0], [0.0, 0.01, 1.0], [0.01, 0.01, 1.0]])
    now = part + [0.02, 0.0, 0.0]  # the part moved 2 cm along x
    now[0] += [0.0, 0.0, 0.8]  # this donor slid onto the background: its depth reads wrong
    points = np.array([[0.005, 0.005, 1.0], [0.5, 0.0, 1.0], [np.nan, 0.0, 1.0]])
    none = np.zeros((0, 3))
    shift = shift_since(points, np.full(3, 1), _history(part, 1), now, 0.03, 3, none, np.zeros((0, T), bool), 0.0)
    np.testing.assert_allclose(shift[0], [0.02, 0.0, 0.0])
    assert np.isnan(shift[1:]).all()  # no donor near it; its own position unknown


def test_only_donors_near_the_point_at_its_own_frame_count():
    """A donor passes the point's place at frame 3, not at frame 1: it is the point's neighbour for a point
    anchored at 3 only."""
    history = np.full((3, T, 3), np.nan)
    history[:, 1] = [[0.5, 0.0, 1.0]] * 3
    history[:, 3] = [[0.0, 0.0, 1.0], [0.01, 0.0, 1.0], [0.0, 0.01, 1.0]]
    now = history[:, 3] + [0.0, 0.03, 0.0]
    points = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    none = np.zeros((0, 3))
    shift = shift_since(points, np.array([1, 3]), history, now, 0.03, 3, none, np.zeros((0, T), bool), 0.0)
    assert np.isnan(shift[0]).all()
    np.testing.assert_allclose(shift[1], [0.0, 0.03, 0.0])


def test_still_points_seen_near_it_vote_against_the_motion():
    """Three moving donors beside a table point, six static table points around it: below a third moving, it
    stays; a still point not seen at the point's frame does not vote."""
    donors = np.array([[0.0, 0.0, 1.0], [0.01, 0.0, 1.0], [0.0, 0.01, 1.0]])
    still = np.array([[0.0, -0.01 * i, 1.0] for i in range(1, 7)])
    seen = np.ones((6, T), bool)
    point = np.array([[0.0, -0.005, 1.0]])
    args = (point, np.array([2]), _history(donors, 2), donors + [0.02, 0, 0], 0.1, 3)
    assert np.isnan(shift_since(*args, still, seen, 0.34)).all()  # 3 of 9
    np.testing.assert_allclose(shift_since(*args, still, seen, 0.3)[0], [0.02, 0, 0])
    seen[:, 2] = [True, True, False, False, False, False]  # only two seen then: 3 of 5
    np.testing.assert_allclose(shift_since(*args, still, seen, 0.34)[0], [0.02, 0, 0])


def test_the_median_over_donors_matches_numpy_s():
    rng = np.random.default_rng(0)
    donors = rng.normal(0, 0.01, (9, 3)) + [0, 0, 1]
    now = donors + rng.normal(0, 0.01, (9, 3))
    points = donors[:4] + 0.001
    none = np.zeros((0, 3))
    for radius in (0.01, 0.02, 1.0):  # odd and even counts of neighbours
        shift = shift_since(points, np.zeros(4, int), donors[:, None].repeat(T, 1), now, radius, 1, none,
                            np.zeros((0, T), bool), 0.0)
        for i, p in enumerate(points):
            near = np.linalg.norm(donors - p, axis=1) <= radius
            np.testing.assert_allclose(shift[i], np.median((now - donors)[near], axis=0))


def test_a_uniform_stretch_slides_with_its_textured_end():
    """A flat, uniformly coloured bar slides along itself: at every point of its uniform stretch each frame looks
    like the last in colour, depth and orientation, so LK's checks alone keep those points where they started
    (18 px behind at the end). The textured cap's points are followed; with them as neighbours the uniform
    points within reach (3–5 cm) follow the bar too."""
    scene = sliding_bar_scene()
    t = scene.images.shape[0]
    geometry = DepthPoseGeometry(scene.depth, scene.intrinsics.astype(np.float64), np.repeat(np.eye(4)[None], t, 0))
    uniform = np.array([[0, 38.0, v] for v in (29.0, 32.0, 35.0)])
    capped = np.array([[0, u, v] for u in (48.0, 54.0) for v in (29.0, 32.0, 35.0)])
    queries = np.concatenate([uniform, capped])
    truth = queries[:, 1:] + [0.8 * (t - 1), 0.0]

    def final_error(radius_m: float) -> np.ndarray:
        cfg = dataclasses.replace(TraceExtractConfig(), neighbour_radius_m=radius_m)
        tracks = point_tracker(cfg).track_queries(scene.images, queries, geometry)
        assert tracks.visible[:, -1].all()
        return np.linalg.norm(tracks.uv_px[:, -1] - truth, axis=1)

    alone, together = final_error(0.0), final_error(0.05)
    assert (alone[3:] < 1.0).all() and (together[3:] < 1.0).all()  # the cap: texture enough for LK
    assert (alone[:3] > 15.0).all()
    assert (together[:3] < 2.0).all()


def test_a_lost_moving_point_goes_where_its_neighbours_carried_its_part_and_is_seen_again_there():
    """Four moving points 1 cm apart slide 1 cm a frame along x before a wall 1 m away (a still camera). A
    moving point among them that LK lost at frame 3 is placed where they carried it since frame 2 and seen again
    there; one lost far from any of them stays unseen, kept; one lost longer than the limit is let go."""
    from mu0.trace_extract.lk_state import LKTrackState
    from mu0.trace_extract.neighbour_motion import NeighbourMotion

    t, h, w, f = 4, 48, 64, 3
    K = np.array([[60.0, 0, (w - 1) / 2], [0, 60.0, (h - 1) / 2], [0, 0, 1]])
    geometry = DepthPoseGeometry(np.ones((t, h, w), np.float32), np.repeat(K[None], t, 0),
                                 np.repeat(np.eye(4)[None], t, 0))
    st = LKTrackState(t)
    part = np.array([[0.0, 0.0, 1.0], [0.01, 0.0, 1.0], [0.0, 0.01, 1.0], [0.01, 0.01, 1.0]])
    donors = st.add(np.zeros((4, 2), np.float32), 0, part)
    lost = st.add(np.zeros((3, 2), np.float32), 0, np.array([[0.005, 0.005, 1.0], [0.3, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    st.static[:] = False
    for k in range(t):
        st.xyz[donors, k] = part + [0.01 * k, 0.0, 0.0]
        st.visible[donors, k] = True
    st.visible[lost[:2], : f] = True  # last seen at frame 2 (their anchors: where they were then) ...
    st.visible[lost[2], 0] = True  # ... and this one at frame 0
    st.anchor[lost[0]] += [0.02, 0.0, 0.0]
    st.xyz[lost[0], 2] = st.anchor[lost[0]]
    alive = np.concatenate([donors, lost])
    kept = NeighbourMotion(lambda g: g, 0.03, 3, 0.34, 1.0).carry_lost(st, lost, alive, f, geometry, max_frames=2)
    assert list(kept) == list(lost[:2])
    assert st.visible[lost[0], f] and not st.visible[lost[1], f]
    np.testing.assert_allclose(st.anchor[lost[0]], [0.035, 0.005, 1.0], atol=1e-6)  # one frame on: +1 cm in x
    np.testing.assert_allclose(st.uv[lost[0], f], [(w - 1) / 2 + 60 * 0.035, (h - 1) / 2 + 60 * 0.005], atol=1e-3)
