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


def regions(gray: np.ndarray, only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Region label per pixel (0 = none), and per label its grey bin and centroid (x, y); with `only`, the
    regions of those grey bins alone (the rest of the image is labelled 0)."""
    import cv2

    bins = (gray.astype(np.int32) // LEVEL).astype(np.int32)
    labels = np.zeros(gray.shape, np.int32)
    levels, centroids = [np.zeros(1, np.int64)], [np.full((1, 2), np.nan)]
    limit = MAX_AREA_SHARE * gray.size
    for b in np.unique(bins) if only is None else np.unique(only):
        mask = bins == b
        count, comp, stats, cent = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
        area = stats[:, cv2.CC_STAT_AREA]
        keep = np.flatnonzero((area >= MIN_AREA) & (area <= limit))
        keep = keep[keep > 0]
        if not len(keep):
            continue
        lut = np.zeros(count, np.int32)
        lut[keep] = sum(len(x) for x in levels) + np.arange(len(keep))
        labels = np.where(mask, lut[comp], labels)
        levels.append(np.full(len(keep), b, np.int64))
        centroids.append(cent[keep])
    return labels, np.concatenate(levels), np.concatenate(centroids).astype(np.float64)


def bins_at(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The grey bins (as `regions` quantises) under (n,2) points."""
    h, w = gray.shape
    cols = np.rint(points[:, 0]).astype(int).clip(0, w - 1)
    rows = np.rint(points[:, 1]).astype(int).clip(0, h - 1)
    return gray[rows, cols].astype(np.int32) // LEVEL


def region_shift(prev: tuple, cur: tuple, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New (n,2) positions of points carried by their region's move between two frames' `regions`, and
    whether a matching region was found (same grey bin, overlapping)."""
    lab0, lev0, cen0 = prev
    lab1, lev1, cen1 = cur
    h, w = lab0.shape
    cols = np.rint(points[:, 0]).astype(int).clip(0, w - 1)
    rows = np.rint(points[:, 1]).astype(int).clip(0, h - 1)
    own = lab0[rows, cols]
    out, ok = points.astype(np.float64).copy(), np.zeros(len(points), bool)
    for region in np.unique(own[own > 0]):
        under = lab1[lab0 == region]
        under = under[(under > 0) & (lev1[under] == lev0[region])]
        if not len(under):
            continue
        match = np.bincount(under).argmax()
        sel = own == region
        out[sel] += cen1[match] - cen0[region]
        ok[sel] = True
    return out, ok
