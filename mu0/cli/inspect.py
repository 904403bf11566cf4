"""`mu0 inspect DIR [--episode ID --save sheet.png]`: what is in a folder of episodes, and a look at one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import numpy as np
import tyro

from mu0.cli.common import console, parse, results


@dataclasses.dataclass(frozen=True)
class InspectArgs:
    # Folder of episodes (e.g. data/raw).
    root: Annotated[Path, tyro.conf.Positional] = Path("data/raw")
    # Episode id to look at in detail; lists every episode when empty.
    episode: str = ""
    # Save a contact sheet (RGB and depth at 6 moments of the episode) to this PNG.
    save: Path | None = None
    # Re-hash every file against the content hash in meta.json.
    verify: bool = False


def _list(root: Path, verify: bool) -> int:
    from rich.table import Table

    from mu0.episodes import EpisodeFormatError, list_episodes, open_episode

    table = Table("episode", "task", "camera", "frames", "size", "depth", "success", title=str(root))
    bad = 0
    for path in list_episodes(root):
        try:
            ep = open_episode(path, verify_hash=verify)
        except EpisodeFormatError as exc:
            table.add_row(path.name, f"[red]{exc.problem}[/red]", exc.field, "", "", "", "")
            bad += 1
            continue
        m = ep.meta
        table.add_row(ep.episode_id, m["task"], m["camera"], str(ep.num_frames), f"{m['width']}x{m['height']}",
                      "yes" if ep.depth is not None else "no", str(m.get("success", "-")))
    results.print(table)
    return 1 if bad else 0


def contact_sheet(ep, columns: int = 6) -> np.ndarray:
    """RGB frames over depth maps (near = bright) at evenly spaced moments, as one (2h, cols*w, 3) image."""
    idx = np.linspace(0, ep.num_frames - 1, columns).round().astype(int)
    rgb = np.concatenate([ep.frame(i) for i in idx], axis=1)
    if ep.depth is None:
        return rgb
    depth = np.concatenate([np.asarray(ep.depth[i], np.float32) for i in idx], axis=1)
    valid = depth > 0
    lo, hi = (np.percentile(depth[valid], [1, 99]) if valid.any() else (0.0, 1.0))
    shade = np.where(valid, 1 - np.clip((depth - lo) / max(hi - lo, 1e-6), 0, 1), 0)
    return np.concatenate([rgb, np.repeat((shade * 255).astype(np.uint8)[..., None], 3, -1)], axis=0)


def run(args: list[str]) -> int:
    parsed = parse(InspectArgs, InspectArgs(), args, "mu0 inspect", "List episodes or look at one.")
    if not parsed.episode:
        return _list(parsed.root, parsed.verify)
    from PIL import Image

    from mu0.episodes import open_episode

    ep = open_episode(parsed.root / parsed.episode, verify_hash=parsed.verify)
    results.print(ep)
    results.print_json(data={k: v for k, v in ep.meta.items()})
    if parsed.save is not None:
        parsed.save.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(contact_sheet(ep)).save(parsed.save)
        console.print(f"contact sheet → {parsed.save}")
    return 0
