"""Photometric agreement of small patches, for choosing between a point's hypotheses (where the camera
motion alone takes it, where it stays in the image). Shapes: n points."""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.alignment import DEPTH_REL_TOL

SURFACE_TOL_M = 0.02  # a patch pixel is on the point's surface within this (+ DEPTH_REL_TOL of it) of its depth


def _sample(img: np.ndarray, uv: np.ndarray, radius: int, interpolation: int) -> np.ndarray:
    """(n, 2r+1, 2r+1) patches of one image around (n,2) sub-pixel points, borders replicated."""
    import cv2

    off = np.arange(-radius, radius + 1, dtype=np.float32)
    n, k = len(uv), len(off)
    mx = np.broadcast_to(uv[:, 0, None, None].astype(np.float32) + off[None, None, :], (n, k, k))
    my = np.broadcast_to(uv[:, 1, None, None].astype(np.float32) + off[None, :, None], (n, k, k))
    got = cv2.remap(img.astype(np.float32), np.ascontiguousarray(mx.reshape(n * k, k)),
                    np.ascontiguousarray(my.reshape(n * k, k)), interpolation, borderMode=cv2.BORDER_REPLICATE)
    return got.reshape(n, k, k)


def patch_error(img_a: np.ndarray, uv_a: np.ndarray, img_b: np.ndarray, uv_b: np.ndarray, radius: int = 3,
                depth_a: np.ndarray | None = None) -> np.ndarray:
    """(n,) mean absolute grey difference between the (2r+1)² patches of grey images a and b centred on the
    (n,2) points uv_a and uv_b (bilinear); with `depth_a`, only the pixels of a's patch on the point's own
    surface count (a background sliding past a thin part must not decide). inf where a point is not finite."""
    import cv2

    out = np.full(len(uv_a), np.inf)
    ok = np.all(np.isfinite(uv_a), axis=1) & np.all(np.isfinite(uv_b), axis=1)
    if not np.any(ok):
        return out
    linear = cv2.INTER_LINEAR
    diff = np.abs(_sample(img_a, uv_a[ok], radius, linear) - _sample(img_b, uv_b[ok], radius, linear))
    if depth_a is None:
        out[ok] = diff.mean(axis=(1, 2))
        return out
    d = _sample(depth_a, uv_a[ok], radius, cv2.INTER_NEAREST)
    centre = d[:, radius, radius][:, None, None]
    same = (d > 0) & (np.abs(d - centre) <= SURFACE_TOL_M + DEPTH_REL_TOL * centre)
    same[:, radius, radius] = True  # the point itself always counts, with or without depth
    out[ok] = (diff * same).sum(axis=(1, 2)) / same.sum(axis=(1, 2))
    return out
