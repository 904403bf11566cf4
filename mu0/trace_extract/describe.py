"""What each entity did in each motion chunk, measured from its tracks, for the captioner.

The agent is the entity active in the most frames (the arm or hand that does the manipulating);
other entities are named by colour. Displacements are medians over an entity's tracks between the
chunk's first and last frame where they are known, in the camera of the chunk's first frame.
Shapes: k tracks, t frames.
"""

from __future__ import annotations

import numpy as np

from mu0.trace_extract.alignment import project
from mu0.trace_extract.captions import EntityMotion, colour_name
from mu0.trace_extract.segments import Chunk
from mu0.trace_extract.tracks import Tracks3D

AGENT_NAMES = {"human": "the hand", "unknown": "the arm", "none": "the arm"}


def agent_name(embodiment: str) -> str:
    return AGENT_NAMES.get(embodiment, "the robot gripper")


def entity_names(t3: Tracks3D, cluster_ids: np.ndarray, images: np.ndarray, agent: int | None,
                 agent_label: str) -> dict[int, str]:
    names = {}
    for e in np.unique(cluster_ids[cluster_ids > 0]):
        if e == agent:
            names[int(e)] = agent_label
            continue
        rows = np.flatnonzero(cluster_ids == e)
        first = t3.tracks.start[rows]
        uv = np.rint(t3.tracks.uv_px[rows, first]).astype(int)
        rgb = np.median(images[first, uv[:, 1], uv[:, 0]], axis=0)
        names[int(e)] = f"the {colour_name(rgb)} object"
    # two entities of one colour would read the same: number them
    seen: dict[str, int] = {}
    for e, n in names.items():
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[e] = n.replace(" object", f" object {seen[n]}")
    return names


def _endpoints(pos: np.ndarray, ok: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Median position over the entity's tracks at the first and last frame of [start, end] it is known."""
    frames = [f for f in range(start, end + 1) if ok[:, f].any()]
    if len(frames) < 2:
        return None
    a, b = frames[0], frames[-1]
    both = ok[:, a] & ok[:, b]
    if not both.any():
        return np.median(pos[ok[:, a], a], axis=0), np.median(pos[ok[:, b], b], axis=0)
    return np.median(pos[both, a], axis=0), np.median(pos[both, b], axis=0)


def chunk_motions(t3: Tracks3D, cluster_ids: np.ndarray, chunks: list[Chunk], names: dict[int, str],
                  T_world_cam: np.ndarray, K: np.ndarray, use_depth: bool) -> list[list[EntityMotion]]:
    out = []
    for c in chunks:
        motions = []
        centres = {}
        for e in sorted(c.active):
            rows = cluster_ids == e
            pos = t3.xyz_world[rows] if use_depth else t3.tracks.uv_px[rows].astype(np.float64)
            ok = t3.has_depth[rows] if use_depth else t3.tracks.visible[rows]
            ends = _endpoints(pos, ok, c.start, c.end)
            if ends is None:
                continue
            centres[e] = ends
            if use_depth:
                (uv0, uv1), (z0, z1) = zip(*(project(p, T_world_cam[c.start], K[c.start]) for p in ends), strict=True)
                disp = (float(uv1[0] - uv0[0]), float(uv1[1] - uv0[1]), float(z1 - z0))
            else:
                disp = (float(ends[1][0] - ends[0][0]), float(ends[1][1] - ends[0][1]), 0.0)
            motions.append(EntityMotion(int(e), names[int(e)], disp, None))
        out.append(_with_targets(motions, centres, cluster_ids, t3, c, names, use_depth))
    return out


def _with_targets(motions, centres, cluster_ids, t3, c, names, use_depth) -> list[EntityMotion]:
    """Mark a moving entity as going toward another entity it got at least 30% closer to."""
    result = []
    for m in motions:
        target = None
        for e, name in names.items():
            if e == m.entity:
                continue
            rows = cluster_ids == e
            pos = t3.xyz_world[rows] if use_depth else t3.tracks.uv_px[rows].astype(np.float64)
            ok = t3.has_depth[rows] if use_depth else t3.tracks.visible[rows]
            other = _endpoints(pos, ok, c.start, c.end) or _endpoints(pos, ok, 0, ok.shape[1] - 1)
            if other is None:
                continue
            before = np.linalg.norm(centres[m.entity][0] - other[0])
            after = np.linalg.norm(centres[m.entity][1] - other[1])
            if after < 0.7 * before:
                target = name
                break
        result.append(EntityMotion(m.entity, m.name, m.displacement, target))
    return result
