"""The departure checks (departures.py): which of them a moving camera's static points are put to."""

import numpy as np
import pytest

from mu0.trace_extract.departures import Departures
from mu0.trace_extract.lk_state import LKTrackState


def _lk_that_finds_every_point_3px_right(prev, cur, points, guesses, window):
    """LK over the gap as it errs on a grazing table: a confident match (no forward-backward error) 3 px off."""
    return points + np.float32([3.0, 0.0]), np.zeros(len(points))


def _run(camera_moves: bool, gap_on_moving_camera: bool, offset_m: float) -> tuple[np.ndarray, int]:
    """Two static points checked at frames 2, 4, 6 (gap 2, two departures in a row make a move); returns which
    stayed static and how many times LK was asked."""
    asked = []

    def lk(*args):
        asked.append(1)
        return _lk_that_finds_every_point_3px_right(*args)

    t = 8
    st = LKTrackState(t)
    uv = np.float32([[10, 10], [20, 12]])
    ids = st.add(uv, 0, np.array([[0.0, 0.0, 1.0], [0.1, 0.0, 1.0]]))
    st.uv[ids, :], st.visible[ids, :] = uv[:, None], True
    checks = Departures(lk, (3, 3), fb_max=1.0, static_px=1.0, check_gap=2, confirm=2, departure_surface=False,
                        depth_departure_m=0.01, gap_on_moving_camera=gap_on_moving_camera)
    checks.begin(camera_moves)
    grays = [np.zeros((32, 32), np.uint8)] * t
    for f in (2, 4, 6):
        statics = ids[st.static[ids]]
        checks.find(st, statics, uv[statics], np.ones(len(statics), bool), f, grays, None,
                    np.full(len(statics), offset_m))
    return st.static[ids], len(asked)


@pytest.mark.parametrize("gap_on_moving_camera", [False, True])
def test_a_still_camera_s_static_points_depart_where_lk_over_the_gap_finds_them_elsewhere(gap_on_moving_camera):
    static, asked = _run(camera_moves=False, gap_on_moving_camera=gap_on_moving_camera, offset_m=0.0)
    assert not static.any() and asked == 2


def test_a_moving_camera_s_static_points_are_not_put_to_the_gap_check_by_default():
    static, asked = _run(camera_moves=True, gap_on_moving_camera=False, offset_m=0.0)
    assert static.all() and asked == 0
    static, asked = _run(camera_moves=True, gap_on_moving_camera=True, offset_m=0.0)
    assert not static.any() and asked == 2


def test_a_moving_camera_s_static_points_still_depart_by_their_depth():
    static, asked = _run(camera_moves=True, gap_on_moving_camera=False, offset_m=0.05)
    assert not static.any() and asked == 0
