"""Action-labelled demonstrations for the action expert: which episodes, and the samples cut from them.

An episode counts only with `robot.npz` (actions, proprio, success per frame). Handing fine-tuning an
episode without it is an error that names every such episode — silently skipping them would train on
less than asked. A sample is frame t of an episode: its image, instruction and proprio, and the chunk of
actions t..t+c−1, with steps past the episode's end zero-padded and masked out.
Shapes: c chunk, a action dim, p proprio dim.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from mu0.batch import ACTION_VALID, ACTIONS, EPISODE, FRAME, HAND_UV, IMAGE, INSTRUCTION, PROPRIO, WRIST_IMAGE
from mu0.bundle.policy_bundle import hand_unit_uv
from mu0.config import PolicyDataConfig
from mu0.episodes import schema
from mu0.episodes.reader import list_episodes, read_meta


class MissingActionLabelsError(ValueError):
    """Episodes without robot.npz were given to a stage that needs action labels."""


def select_demos(root: Path, cfg: PolicyDataConfig, accepted: set[str] | None = None) -> list[Path]:
    """The demonstrations: episodes of `cfg.camera` (and `cfg.tasks`), `demos_per_task` per task, lowest
    seeds first, successful rollouts only when asked."""
    root = Path(root)
    found = list_episodes(root)
    paths = [p for p in found if accepted is None or p.name in accepted]
    if not paths:
        why = f" ({len(found)} found, none accepted by the validation report)" if found else ""
        raise ValueError(f"{root}: no episodes to fine-tune on{why}")
    metas = {p: read_meta(p) for p in paths}
    paths = [p for p in paths if metas[p].get("camera", cfg.camera) == cfg.camera
             and (not cfg.tasks or metas[p].get("task") in cfg.tasks)]
    if not paths:
        raise ValueError(f"{root}: no episodes of camera '{cfg.camera}'"
                         + (f" and tasks {list(cfg.tasks)}" if cfg.tasks else ""))
    unlabelled = [p.name for p in paths if not (p / schema.ROBOT).exists()]
    if unlabelled:
        shown = ", ".join(unlabelled[:8]) + (f" and {len(unlabelled) - 8} more" if len(unlabelled) > 8 else "")
        raise MissingActionLabelsError(
            f"{root}: {len(unlabelled)} episode(s) have no action labels ({schema.ROBOT}) and cannot train a "
            f"policy: {shown}. Fine-tune on action-labelled episodes (e.g. `mu0 ingest metaworld`), or narrow "
            f"the selection with --policy-data.tasks / --policy-data.camera")
    by_task: dict[str, list[Path]] = defaultdict(list)
    for p in sorted(paths, key=lambda p: (metas[p].get("task", ""), metas[p].get("seed", 0), p.name)):
        if cfg.successful_only and metas[p].get("success") is False:
            continue
        by_task[metas[p].get("task", "")].append(p)
    chosen = [p for task in sorted(by_task) for p in (by_task[task][:cfg.demos_per_task] if cfg.demos_per_task
                                                      else by_task[task])]
    if not chosen:
        raise ValueError(f"{root}: no successful demonstrations among {len(paths)} episodes")
    return chosen


def wrist_views(demos: list[Path], camera: str) -> list[Path]:
    """Each demonstration's episode of the wrist `camera` — the same task and seed, in the same folder; an
    error naming every demonstration that has none."""
    metas = {p: read_meta(p) for p in list_episodes(demos[0].parent)} if demos else {}
    by_key = {(m.get("task"), m.get("seed")): p for p, m in metas.items() if m.get("camera") == camera}
    views, missing = [], []
    for demo in demos:
        meta = read_meta(demo)
        view = by_key.get((meta.get("task"), meta.get("seed")))
        views.append(view)
        if view is None:
            missing.append(demo.name)
    if missing:
        raise ValueError(f"{demos[0].parent}: {len(missing)} demonstration(s) have no '{camera}' episode of the same "
                         f"task and seed for the wrist view: {', '.join(missing[:8])}. Ingest that camera too "
                         f"(--cameras front {camera}) or set --policy-data.wrist-camera")
    return views


def camera_calibration(paths: list[Path], tol: float = 1e-4) -> dict:
    """The one calibration (intrinsics, world-to-camera extrinsics, height, width) of the demonstrations' camera,
    which a policy with hand queries keeps to find the hand's pixel when it runs; an error naming the first
    episode whose camera differs (a moving camera, another rig): such a policy needs one static camera."""
    calib = None
    for path in paths:
        with np.load(path / schema.CAMERAS, allow_pickle=False) as z:
            K, E = np.asarray(z["intrinsics"], np.float64), np.asarray(z["extrinsics"], np.float64)
        meta = read_meta(path)
        if calib is None:
            calib = {"intrinsics": K[0], "extrinsics": E[0], "height": int(meta["height"]), "width": int(meta["width"])}
        same = (np.allclose(K, calib["intrinsics"], atol=tol) and np.allclose(E, calib["extrinsics"], atol=tol)
                and (int(meta["height"]), int(meta["width"])) == (calib["height"], calib["width"]))
        if not same:
            raise ValueError(f"{path / schema.CAMERAS}: the camera differs from {paths[0].name}'s (or moves within "
                             "the episode); a policy with hand queries needs one static, calibrated camera")
    if calib is None:
        raise ValueError("no demonstrations to read a camera calibration from")
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in calib.items()}


def goal_marker(paths: list[Path]) -> bool:
    """Whether the demonstrations show the goal marker (meta.json `goal_marker`), which the policy's rollouts
    must then show too; an error naming the first episode that differs from the others."""
    shown = {p: bool(read_meta(p).get("goal_marker", False)) for p in paths}
    first = shown[paths[0]] if paths else False
    odd = [p for p, s in shown.items() if s != first]
    if odd:
        raise ValueError(f"{odd[0] / schema.META}: goal_marker is {not first}, {paths[0].name} says {first}; "
                         "train a policy on demonstrations rendered one way (--goal-marker at ingestion)")
    return first


def demo_summary(paths: list[Path]) -> dict:
    """Tasks, per-task counts and seeds of the chosen demonstrations (saved with the policy)."""
    out: dict[str, dict] = {}
    for p in paths:
        meta = read_meta(p)
        entry = out.setdefault(meta.get("task", ""), {"episodes": [], "seeds": []})
        entry["episodes"].append(p.name)
        entry["seeds"].append(meta.get("seed"))
    return out


class ActionChunkDataset(torch.utils.data.Dataset):
    """One sample per frame of every demonstration; arrays stay memory-mapped until indexed."""

    def __init__(self, paths: list[Path], chunk: int, action_dim: int, proprio_dim: int,
                 wrist_paths: list[Path] | None = None, hand_xyz: tuple[int, int, int] | None = None,
                 sample_ids: bool = False) -> None:
        """`wrist_paths`: each demonstration's wrist-camera episode (`wrist_views`), whose frames become the
        samples' `wrist_image`; `hand_xyz`: the proprio entries of the hand's world position, whose pixel in each
        frame's camera becomes the samples' `hand_uv`; `sample_ids`: samples carry their `episode` and `frame`
        (a trace policy then reuses μ_0's reading of each, `PolicyDataConfig.reuse_forecasts`)."""
        self.paths, self.chunk, self.sample_ids = list(paths), chunk, sample_ids
        self.images, self.robot, self.instructions, index = [], [], [], []
        self.hand_uv: list[np.ndarray] | None = [] if hand_xyz is not None else None
        self.wrist = [np.load(p / schema.IMAGES, mmap_mode="r") for p in wrist_paths] if wrist_paths else None
        for e, path in enumerate(self.paths):
            with np.load(path / schema.ROBOT, allow_pickle=False) as z:
                robot = {k: np.asarray(z[k], np.float32) for k in ("actions", "proprio")}
            for key, dim in (("actions", action_dim), ("proprio", proprio_dim)):
                if robot[key].ndim != 2 or robot[key].shape[1] != dim:
                    raise ValueError(f"{path / schema.ROBOT}: {key} has shape {robot[key].shape}, the policy "
                                     f"expects (T, {dim}) (--policy.{key.rstrip('s')}-dim)")
            images = np.load(path / schema.IMAGES, mmap_mode="r")
            if len(images) != len(robot["actions"]):
                raise ValueError(f"{path / schema.ROBOT}: {len(robot['actions'])} actions for {len(images)} frames")
            if self.wrist is not None and len(self.wrist[e]) != len(images):
                raise ValueError(f"{wrist_paths[e] / schema.IMAGES}: {len(self.wrist[e])} wrist frames for "
                                 f"{len(images)} frames of {path.name}")
            if self.hand_uv is not None:
                self.hand_uv.append(self._hand_uv(path, robot["proprio"], hand_xyz, images.shape[1:3]))
            self.images.append(images)
            self.robot.append(robot)
            self.instructions.append(list(json.loads((path / schema.META).read_text()).get("instructions", [])) or [""])
            index += [(e, t) for t in range(len(images))]
        self.index = index

    @staticmethod
    def _hand_uv(path: Path, proprio: np.ndarray, hand_xyz: tuple[int, int, int], hw: tuple[int, int]) -> np.ndarray:
        with np.load(path / schema.CAMERAS, allow_pickle=False) as z:
            K, E = z["intrinsics"], z["extrinsics"]
        if len(K) != len(proprio):
            raise ValueError(f"{path / schema.CAMERAS}: {len(K)} cameras for {len(proprio)} proprio readings")
        uv = hand_unit_uv(proprio, hand_xyz, K, E, hw)
        if not np.isfinite(uv).all():
            raise ValueError(f"{path / schema.ROBOT}: the hand (proprio {list(hand_xyz)}) is behind the camera in "
                             f"frame {int(np.flatnonzero(~np.isfinite(uv).all(-1))[0])}; check --policy.hand-xyz")
        return uv

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key) -> dict:
        idx = key[0] if isinstance(key, tuple) else key
        e, t = self.index[idx]
        actions = self.robot[e]["actions"]
        chunk = np.zeros((self.chunk, actions.shape[1]), np.float32)
        part = actions[t:t + self.chunk]
        chunk[:len(part)] = part
        valid = np.arange(self.chunk) < len(part)
        texts = self.instructions[e]
        sample = {IMAGE: torch.from_numpy(np.array(self.images[e][t])).permute(2, 0, 1),
                  INSTRUCTION: texts[idx % len(texts)],
                  PROPRIO: torch.from_numpy(self.robot[e]["proprio"][t]),
                  ACTIONS: torch.from_numpy(chunk), ACTION_VALID: torch.from_numpy(valid)}
        if self.wrist is not None:
            sample[WRIST_IMAGE] = torch.from_numpy(np.array(self.wrist[e][t])).permute(2, 0, 1)
        if self.hand_uv is not None:
            sample[HAND_UV] = torch.from_numpy(self.hand_uv[e][t])
        if self.sample_ids:
            sample[EPISODE], sample[FRAME] = torch.tensor(e), torch.tensor(t)
        return sample

    def proprio_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        allp = np.concatenate([r["proprio"] for r in self.robot])
        return torch.from_numpy(allp.mean(0)), torch.from_numpy(allp.std(0))
