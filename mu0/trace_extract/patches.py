"""Photometric agreement of small patches, for choosing between a point's hypotheses (where the camera
motion alone takes it, where it stays in the image). Shapes: n points."""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.alignment import DEPTH_REL_TOL

SURFACE_TOL_M = 0.02  # a patch pixel is on the point's surface within this (+ DEPTH_REL_TOL of it) of its depth


def _sample(img: np.ndarray, uv: np.ndarray, radius: int, interpolation: int) -> np.ndarray:
    """(n, 2r+1, 2r+1[, c]) patches of one image around (n,2) sub-pixel points, borders replicated."""
    import cv2

    off = np.arange(-radius, radius + 1, dtype=np.float32)
    n, k = len(uv), len(off)
    if not n:  # remap refuses an empty map; a source may hold no usable point
        return np.zeros((0, k, k, *img.shape[2:]), np.float32)
    mx = np.broadcast_to(uv[:, 0, None, None].astype(np.float32) + off[None, None, :], (n, k, k))
    my = np.broadcast_to(uv[:, 1, None, None].astype(np.float32) + off[None, :, None], (n, k, k))
    got = cv2.remap(img.astype(np.float32, copy=False), np.ascontiguousarray(mx.reshape(n * k, k)),
                    np.ascontiguousarray(my.reshape(n * k, k)), interpolation, borderMode=cv2.BORDER_REPLICATE)
    return got.reshape(n, k, k, *img.shape[2:])


def patch_errors(img_a: np.ndarray, uv_a: np.ndarray, img_b: np.ndarray, candidates: list[np.ndarray],
                 radius: int = 3, depth_a: np.ndarray | None = None) -> np.ndarray:
    """(k, n) mean absolute grey difference (over channels too) between the (2r+1)² patches of image a
    centred on the (n,2) points uv_a and of image b centred on each of k (n,2) candidate places (bilinear);
    with `depth_a`, only the pixels of a's patch on the point's own surface count (a background sliding past
    a thin part must not decide). inf where a point is not finite."""
    return patch_errors_grouped([(img_a, uv_a, depth_a)], img_b, candidates, radius)


def patch_errors_grouped(sources: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]], img_b: np.ndarray,
                         candidates: list[np.ndarray], radius: int = 3) -> np.ndarray:
    """`patch_errors` of points from several images at once: `sources` are (image, (n_i,2) points, depth or
    None), the k candidates (N,2) places in b for all N = Σ n_i points in that order; (k, N). Each source
    and the candidates are sampled in one call each."""
    import cv2

    k, linear = len(candidates), cv2.INTER_LINEAR
    uv_a = np.concatenate([uv for _, uv, _ in sources])
    out = np.full((k, len(uv_a)), np.inf)
    ok_a = np.all(np.isfinite(uv_a), axis=1)
    ok = np.stack([ok_a & np.all(np.isfinite(uv_b), axis=1) for uv_b in candidates])  # (k, N)
    if not np.any(ok):
        return out
    patches, same = [], []
    for img, uv, depth in sources:
        uv = uv[np.all(np.isfinite(uv), axis=1)]
        patches.append(_sample(img, uv, radius, linear))
        if depth is None:
            same.append(np.ones((len(uv),) + (2 * radius + 1,) * 2, bool))
            continue
        d = _sample(depth, uv, radius, cv2.INTER_NEAREST)
        centre = d[:, radius, radius][:, None, None]
        on_surface = (d > 0) & (np.abs(d - centre) <= SURFACE_TOL_M + DEPTH_REL_TOL * centre)
        on_surface[:, radius, radius] = True  # the point itself always counts, with or without depth
        same.append(on_surface)
    a, mask = np.concatenate(patches), np.concatenate(same)
    places = np.concatenate([np.nan_to_num(uv_b[ok_a]) for uv_b in candidates])  # unusable ones are masked below
    diff = np.abs(_sample(img_b, places, radius, linear).reshape(k, *a.shape) - a[None])
    if diff.ndim == 5:  # several channels: their mean difference
        diff = diff.mean(axis=-1)
    out[:, ok_a] = (diff * mask[None]).sum(axis=(2, 3)) / mask.sum(axis=(1, 2))[None]
    out[~ok] = np.inf
    return out
