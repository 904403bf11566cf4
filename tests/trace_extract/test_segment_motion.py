"""Uniform regions and their shifts (segment_motion.py) on images whose regions are drawn by hand."""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.segment_motion import LEVEL, region_shift, regions


def _scene(dx: int = 0) -> np.ndarray:
    """A 40×40 image: background halves of one grey bin split by a grey-200 stripe, two separate grey-100
    blocks, and a grey-150 block touching the first of them."""
    img = np.full((40, 40), 20, np.uint8)
    img[:, 20] = 200
    img[5:10, 2 + dx:8 + dx] = 100  # block A, 30 px
    img[5:10, 8 + dx:12 + dx] = 150  # block C, touching A, another bin
    img[25:31, 25:31] = 100  # block B, same bin as A, not touching it
    return img


def test_regions_split_by_bin_and_by_connectivity() -> None:
    labels, level, centroid = regions(_scene())
    a, b, c = labels[7, 4], labels[27, 27], labels[7, 9]
    assert min(a, b, c) > 0 and len({a, b, c}) == 3  # same bin but apart: two regions; touching but other bin: one more
    assert level[a] == level[b] == 100 // LEVEL and level[c] == 150 // LEVEL
    np.testing.assert_allclose(centroid[a], [4.5, 7.0])
    np.testing.assert_allclose(centroid[b], [27.5, 27.5])
    assert (labels == a).sum() == 30
    assert labels[0, 0] == 0  # each half of the background is over the size cap
    assert level[0] == 0 and np.all(np.isnan(centroid[0]))


def test_small_and_huge_regions_are_not_regions() -> None:
    img = np.full((40, 40), 20, np.uint8)  # one region covering everything: background, not a part
    img[3:5, 3:5] = 100  # 4 px: texture, not a part
    labels, level, _ = regions(img)
    assert np.all(labels == 0) and len(level) == 1


def test_points_move_with_their_region() -> None:
    before, after = regions(_scene()), regions(_scene(dx=3))
    points = np.array([[4.0, 7.0], [9.0, 6.0], [27.0, 27.0], [20.0, 30.0]])  # A, C, B (still), the stripe
    moved, found = region_shift(before, after, points)
    assert found.tolist() == [True, True, True, True]
    np.testing.assert_allclose(moved[0], [7.0, 7.0])
    np.testing.assert_allclose(moved[1], [12.0, 6.0])
    np.testing.assert_allclose(moved[2], [27.0, 27.0])
    np.testing.assert_allclose(moved[3], [20.0, 30.0])


def test_a_region_without_an_overlapping_match_is_not_found() -> None:
    img = _scene()
    gone = img.copy()
    gone[5:10, 2:8] = 20  # block A vanished into the background's bin
    moved, found = region_shift(regions(img), regions(gone), np.array([[4.0, 7.0], [27.0, 27.0]]))
    assert found.tolist() == [False, True]
    np.testing.assert_allclose(moved[0], [4.0, 7.0])
