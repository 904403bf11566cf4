"""Hierarchical captions: one per motion chunk, merged ones for adjacent chunks and the episode.

The default captioner needs no model: it describes what the tracks did — which entity moved, in
which direction in the camera's view, toward which other entity, and whether the agent (the entity
that moves most, i.e. the arm or hand) carried or pushed another one — with three phrasings each.
Entities are named by their colour. A VLM captioner implements the same `caption_chunks`.
Output follows the released `captions.json`: chunk_texts / merged_texts with start_idx, end_idx and
instruction_1..3, plus the episode's own instructions.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from mu0.trace_extract.segments import Chunk

_COLOURS = {"red": (200, 30, 30), "green": (40, 170, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40),
            "orange": (230, 130, 30), "purple": (130, 50, 160), "cyan": (40, 190, 200), "black": (25, 25, 25),
            "white": (230, 230, 230), "grey": (128, 128, 128), "brown": (120, 80, 45)}


def colour_name(rgb: np.ndarray) -> str:
    names = list(_COLOURS)
    ref = np.array([_COLOURS[n] for n in names], np.float64)
    return names[int(np.argmin(np.linalg.norm(ref - np.asarray(rgb, np.float64), axis=1)))]


@dataclasses.dataclass(frozen=True)
class EntityMotion:
    """What one entity did over one chunk, in the chunk's first camera (pixels, metres)."""

    entity: int
    name: str  # e.g. "the robot gripper", "the red object"
    displacement: tuple[float, float, float]  # du (px, right +), dv (px, down +), dz (m, away +)
    closer_to: str | None  # name of an entity it moved toward, if any


class Captioner(Protocol):
    def caption_chunks(self, chunks: list[Chunk], motions: list[list[EntityMotion]]) -> list[tuple[str, str, str]]:
        ...


def direction_words(d: tuple[float, float, float], image_px: float, min_frac: float = 0.04) -> str:
    du, dv, dz = d
    parts = []
    if abs(dv) > min_frac * image_px:
        parts.append("up" if dv < 0 else "down")
    if abs(du) > min_frac * image_px:
        parts.append("to the left" if du < 0 else "to the right")
    if abs(dz) > 0.03:
        parts.append("away from the camera" if dz > 0 else "toward the camera")
    return " and ".join(parts[:2]) if parts else "slightly"


class MotionCaptioner:
    """Template captions from track motion; `image_px` sets what counts as a visible displacement."""

    def __init__(self, image_px: float, agent_name: str) -> None:
        self.image_px, self.agent_name = image_px, agent_name

    def _one(self, motions: list[EntityMotion]) -> tuple[str, str, str]:
        if not motions:
            return ("hold still", f"{self.agent_name} pauses", "nothing moves for a moment")
        agent = next((m for m in motions if m.name == self.agent_name), None)
        others = [m for m in motions if m is not agent]
        if agent is not None and others:
            obj, way = others[0].name, direction_words(others[0].displacement, self.image_px)
            return (f"move {obj} {way}", f"{self.agent_name} moves {obj} {way}", f"shift {obj} {way} with the arm")
        m = agent or others[0]
        way = direction_words(m.displacement, self.image_px)
        toward = f" toward {m.closer_to}" if m.closer_to else ""
        if agent is not None:
            return (f"move the gripper {way}{toward}", f"{m.name} moves {way}{toward}",
                    f"bring the gripper {way}{toward}")
        return (f"{m.name} moves {way}", f"{m.name} slides {way}", f"watch {m.name} move {way}")

    def caption_chunks(self, chunks: list[Chunk], motions: list[list[EntityMotion]]) -> list[tuple[str, str, str]]:
        return [self._one(m) for m in motions]


def _entry(start: int, end: int, texts: tuple[str, str, str]) -> dict:
    return {"start_idx": int(start), "end_idx": int(end), "instruction_1": texts[0], "instruction_2": texts[1],
            "instruction_3": texts[2]}


def build_captions(chunks: list[Chunk], texts: list[tuple[str, str, str]], episode_instructions: list[str]) -> dict:
    """captions.json: chunk captions, merged captions of adjacent chunk pairs and of the whole episode."""
    chunk_texts = [_entry(c.start, c.end, t) for c, t in zip(chunks, texts, strict=True)]
    merged = [
        _entry(a.start, b.end, tuple(f"{x}, then {y}" for x, y in zip(ta, tb, strict=True)))  # type: ignore[arg-type]
        for a, b, ta, tb in zip(chunks[:-1], chunks[1:], texts[:-1], texts[1:], strict=True)
    ]
    if chunks:
        whole = [s for s in episode_instructions if s.strip()]
        whole = (whole * 3)[:3] if whole else [", then ".join(t[i] for t in texts) for i in range(3)]
        merged.append(_entry(chunks[0].start, chunks[-1].end, tuple(whole)))  # type: ignore[arg-type]
    return {"instructions": episode_instructions, "chunk_texts": chunk_texts, "merged_texts": merged}
