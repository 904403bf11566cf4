"""Motion of uniformly coloured regions, for points LK cannot follow: in a flat-shaded scene a finger pad
or a handle face is one region of near-constant grey, and the region moves as a whole. Each frame is cut
into connected regions of one quantised grey level; a region of the earlier frame is matched to the
later frame's region of the same level that overlaps it most, and a point inside it moves by the shift of
the two regions' centroids. Shapes: n points.
"""

from __future__ import annotations

import numpy as np

LEVEL = 12  # grey levels per quantisation bin: a face's shading varies less, neighbouring parts more
MIN_AREA = 12  # pixels: smaller regions are texture, not parts
MAX_AREA_SHARE = 0.25  # a region covering more of the image is background: its centroid does not track


def regions(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region label per pixel (0 = none), and per label its grey bin and centroid (x, y)."""
    import cv2

    bins = gray.astype(np.int32) // LEVEL
    h, w = bins.shape
    # every bin's 4-connected regions in one labelling: on a doubled grid, (2r, 2c) is pixel (r, c) and the
    # cell between two neighbouring pixels is set only where their bins agree, so regions never cross bins
    grid = np.zeros((2 * h - 1, 2 * w - 1), np.uint8)
    grid[::2, ::2] = 1
    grid[::2, 1::2] = bins[:, 1:] == bins[:, :-1]
    grid[1::2, ::2] = bins[1:, :] == bins[:-1, :]
    count, comp = cv2.connectedComponents(grid, connectivity=4, ltype=cv2.CV_32S)
    comp = comp[::2, ::2].ravel()
    area = np.bincount(comp, minlength=count)
    keep = (area >= MIN_AREA) & (area <= MAX_AREA_SHARE * gray.size)
    keep[0] = False  # label 0 is the grid's empty cells, never a pixel
    level = np.zeros(count, np.int64)
    level[comp] = bins.ravel()
    rows, cols = np.divmod(np.arange(h * w), w)
    area = np.maximum(area, 1)
    centroid = np.stack([np.bincount(comp, cols, count) / area, np.bincount(comp, rows, count) / area], axis=1)
    relabel = np.zeros(count, np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1)
    return (relabel[comp].reshape(h, w), np.concatenate([[0], level[keep]]),
            np.concatenate([np.full((1, 2), np.nan), centroid[keep]]))


def region_shift(prev: tuple, cur: tuple, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New (n,2) positions of points carried by their region's move between two frames' `regions`, and
    whether a matching region was found (same grey bin, overlapping; of equal overlaps the lowest label)."""
    lab0, lev0, cen0 = prev
    lab1, lev1, cen1 = cur
    h, w = lab0.shape
    cols = np.rint(points[:, 0]).astype(int).clip(0, w - 1)
    rows = np.rint(points[:, 1]).astype(int).clip(0, h - 1)
    own = lab0[rows, cols]
    out, ok = points.astype(np.float64).copy(), np.zeros(len(points), bool)
    wanted = np.zeros(len(lev0), bool)
    wanted[own[own > 0]] = True
    overlap = wanted[lab0] & (lab1 > 0) & (lev1[lab1] == lev0[lab0])
    if not np.any(overlap):
        return out, ok
    pairs, counts = np.unique(lab0[overlap].astype(np.int64) * len(lev1) + lab1[overlap], return_counts=True)
    region, under = np.divmod(pairs, len(lev1))
    order = np.lexsort((under, -counts, region))  # per region: most overlap first, then the lowest label
    first = order[np.r_[True, region[order][1:] != region[order][:-1]]]
    match = np.zeros(len(lev0), np.int64)
    match[region[first]] = under[first]
    found = match[own] > 0
    out[found] += cen1[match[own[found]]] - cen0[own[found]]
    ok[found] = True
    return out, ok
