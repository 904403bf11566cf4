"""`is_moving`: world motion that lasts is motion; one frame's depth read off the far side of an edge is not."""

import numpy as np

from mu0.trace_extract.motion import is_moving
from mu0.trace_extract.tracks import Tracks2D, Tracks3D


def _tracks(xyz: np.ndarray) -> Tracks3D:
    k, t = xyz.shape[:2]
    known = np.all(np.isfinite(xyz), axis=2)
    t2 = Tracks2D(np.zeros((k, t, 2), np.float32), known, np.zeros(k, np.int32), np.full(t, np.nan))
    return Tracks3D(t2, xyz, xyz, known)


def test_a_depth_spike_is_not_motion_but_lasting_motion_is():
    t = 20
    xyz = np.zeros((4, t, 3))
    xyz[:, :, 2] = 5.3  # a far background point
    xyz[0, 7, 2] = 5.22  # one frame's depth from the surface next to it: 8 cm off
    xyz[1, 10:, 0] = 0.03  # a part that moves 3 cm and stays there
    xyz[2, 6:9, 0] = 0.03  # moved for three frames, then back
    xyz[3, :, :] = np.nan
    xyz[3, [2, 9], 2] = [5.3, 5.22]  # two readings only: nothing tells a spike from motion
    moving = is_moving(_tracks(xyz), threshold_m=0.015, threshold_px=3.0, use_depth=True)
    assert moving.tolist() == [False, True, True, False]
    gaps = xyz.copy()
    gaps[1, 1::2] = np.nan  # unseen frames between the readings do not matter: the known ones are filtered
    assert is_moving(_tracks(gaps), 0.015, 3.0, True).tolist() == [False, True, True, False]
