"""Training the flow network on simulated episodes' ground truth. The loss is a robust end-point error on
pixels whose point is still seen in the other frame, with pixels that move in the world (not only with the
camera) weighted up, plus a visibility term. Only tasks DESIGN.md §8 allows for training are accepted."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from mu0.config import MT10_TASKS, VARIETY_TASKS, FlowTrainConfig, TraceExtractConfig
from mu0.episodes import open_episode
from mu0.trace_extract.flow.network import CAMERA_FLOW, FLOW_SCALE, FlowNet, FlowNetConfig, flow_inputs, save_flow_net
from mu0.trace_extract.flow.pairs import FlowPair, episode_pairs

MOVING_PX = 0.5  # a pixel whose true flow differs from the camera's by more than this moves in the world
_TRAINABLE = set(MT10_TASKS) | set(VARIETY_TASKS)


def load_pairs(raw: list[Path], cfg: FlowTrainConfig, geometry: TraceExtractConfig = TraceExtractConfig(),
               log: Callable[[str], None] = print):
    """Every episode's frames and depth (kept in memory) and every training pair of the episodes `raw`. The
    camera flow is computed with the extractor's own depth settings (`geometry`), as the tracker will."""
    frames, depths, pairs, tasks = [], [], [], set()
    for i, path in enumerate(raw):
        ep = open_episode(path)
        task = str(ep.meta.get("task", ""))
        if ep.meta.get("source") == "metaworld" and task not in _TRAINABLE:
            raise ValueError(f"{path}: task {task} is reserved for held-out evaluation (DESIGN.md §8); "
                             "train only on MT10 and the variety tasks")
        if ep.depth is None or ep.body_ids is None:
            raise ValueError(f"{path}: the flow network trains on simulated episodes with depth and gt/ body ids")
        tasks.add(task)
        frames.append(np.array(ep.images))
        depths.append(np.asarray(ep.depth, np.float32))
        pairs += episode_pairs(ep, i, cfg.gaps, cfg.source_every, geometry.depth_window_px,
                               geometry.depth_surface_tol_m)
        if (i + 1) % 20 == 0:
            log(f"pairs: {i + 1}/{len(raw)} episodes, {len(pairs)} pairs")
    return frames, depths, pairs, sorted(tasks)


def make_batch(pairs: list[FlowPair], frames, depths, rng: np.random.Generator):
    """Inputs (b,13,h,w), true flow (b,2,h,w), pixel kinds (b,h,w: 0 no target, 1 still, 2 moving in the
    world), seen (b,h,w) and known (b,h,w); about half of them mirrored, all with a random brightness."""
    xs, flows, kinds, seen, known = [], [], [], [], []
    for p in pairs:
        cam, true = p.cam_flow.astype(np.float32), p.true_flow.astype(np.float32)
        rgb_a, rgb_b, depth_a = frames[p.episode][p.a], frames[p.episode][p.b], depths[p.episode][p.a]
        vis, kn = p.seen, p.known
        if rng.random() < 0.5:  # a mirrored scene is as plausible; its horizontal flow changes sign
            rgb_a, rgb_b, depth_a = rgb_a[:, ::-1], rgb_b[:, ::-1], depth_a[:, ::-1]
            cam, true = cam[:, ::-1] * [-1, 1], true[:, ::-1] * [-1, 1]
            vis, kn = vis[:, ::-1], kn[:, ::-1]
        gain = rng.uniform(0.8, 1.2)
        rgb_a, rgb_b = (np.clip(im * gain, 0, 255).astype(np.uint8) for im in (rgb_a, rgb_b))
        xs.append(flow_inputs(rgb_a, rgb_b, np.ascontiguousarray(depth_a), np.ascontiguousarray(cam, np.float32)))
        good = vis & kn & np.all(np.isfinite(true), axis=2)
        true = np.where(good[..., None], true, 0.0)
        moving = good & (np.linalg.norm(true - np.where(np.isfinite(cam), cam, 0.0), axis=2) > MOVING_PX)
        flows.append(np.moveaxis(true, 2, 0))
        kinds.append(good.astype(np.int8) + moving)
        seen.append(vis & kn)
        known.append(kn)
    def as_tensor(a):
        return torch.from_numpy(np.ascontiguousarray(np.stack(a), np.float32))
    return as_tensor(xs), as_tensor(flows), as_tensor(kinds), as_tensor(seen), as_tensor(known)


def flow_loss(net: FlowNet, batch, cfg: FlowTrainConfig) -> tuple[torch.Tensor, dict]:
    x, true, kinds, seen, known = batch
    residual, vis_logit = net(x)
    pred = x[:, CAMERA_FLOW] * FLOW_SCALE + residual
    weight = torch.where(kinds == 2, cfg.moving_weight, (kinds == 1).float())
    err = torch.sqrt(((pred - true) ** 2).sum(1) + 1e-3)  # Charbonnier: an L1 that is smooth at 0
    epe = (weight * err).sum() / weight.sum().clamp(min=1.0)
    vis = (F.binary_cross_entropy_with_logits(vis_logit, seen, reduction="none") * known).sum() \
        / known.sum().clamp(min=1.0)
    e = err.detach()
    stats = {"epe_moving": float(e[kinds == 2].mean()) if (kinds == 2).any() else float("nan"),
             "epe_still": float(e[kinds == 1].mean()) if (kinds == 1).any() else float("nan")}
    return epe + cfg.visibility_weight * vis, stats


def fit_flow_net(frames, depths, pairs: list[FlowPair], cfg: FlowTrainConfig,
                 net_cfg: FlowNetConfig = FlowNetConfig(), log: Callable[[str], None] = print) -> FlowNet:
    """A flow network trained on `pairs` over the episodes' `frames` and `depths`."""
    if not pairs:
        raise ValueError("no training pairs: the episodes have too few frames with body-id maps")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = FlowNet(net_cfg)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    t0, running = time.perf_counter(), []
    for step in range(1, cfg.steps + 1):
        batch = make_batch([pairs[i] for i in rng.integers(len(pairs), size=cfg.batch)], frames, depths, rng)
        loss, stats = flow_loss(net, batch, cfg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        running.append([float(loss), stats["epe_moving"], stats["epe_still"]])
        if step % 100 == 0 or step == cfg.steps:
            m = np.nanmean(np.array(running), axis=0)
            log(f"step {step}: loss {m[0]:.3f}, moving EPE {m[1]:.2f} px, still EPE {m[2]:.3f} px "
                f"({time.perf_counter() - t0:.0f} s)")
            running = []
    net.eval()
    return net


def train_flow_net(raw: list[Path], out: Path, cfg: FlowTrainConfig = FlowTrainConfig(),
                   geometry: TraceExtractConfig = TraceExtractConfig(), log: Callable[[str], None] = print) -> dict:
    """Train on every pair of the episodes `raw` and save the weights to `out`; returns what it trained on."""
    frames, depths, pairs, tasks = load_pairs(raw, cfg, geometry, log)
    net = fit_flow_net(frames, depths, pairs, cfg, log=log)
    info = {"episodes": len(raw), "pairs": len(pairs), "steps": cfg.steps, "tasks": tasks}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_flow_net(net, out, info)
    return info
