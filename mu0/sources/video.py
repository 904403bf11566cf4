"""Video source: mp4/webm files or image folders, decoded with PyAV, with optional sidecars.

Beside `clip.mp4` (or an image folder `clip/`) the source looks for:
- `clip.json`: {"fps", "instruction" or "instructions", "task", "embodiment", "depth_scale",
  "intrinsics": 3x3 or per-frame list, "extrinsics": 4x4 or per-frame list (world-to-camera)};
- `clip.depth.npy` (t,h,w) in metres, or `clip.depth/` with one 16-bit PNG per frame (× depth_scale).
Without depth the episode is 2D-only (meta has_depth = false). Without intrinsics, K comes from
`default_hfov_deg`; without extrinsics every pose is the identity and meta says camera_poses =
"unknown" (TraceExtract estimates them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from mu0.config import VideoSourceConfig
from mu0.episodes import EpisodeData, EpisodeFormatError
from mu0.episodes.schema import check_depth_values
from mu0.sources.base import SourceError

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.name.encode() if path.is_dir() else b"")
        with open(f, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def video_episode_id(path: Path, digest: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.name.split(".")[0]).strip("-")[:80] or "video"
    return f"vid-{stem}-{digest[:10]}"


def decode_video(path: Path) -> tuple[np.ndarray, float | None]:
    """All frames (t,h,w,3) uint8 RGB and the container's frame rate (None if unknown)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise SourceError(f"{path}: no video stream")
            stream = container.streams.video[0]
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
            fps = float(stream.average_rate) if stream.average_rate else None
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: corrupt or unreadable video ({type(exc).__name__}: {exc})") from None
    if not frames:
        raise SourceError(f"{path}: the video has no decodable frames (truncated or empty)")
    return np.stack(frames), fps


def _read_image(path: Path, flags: int) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), flags)
    if img is None:
        raise SourceError(f"{path}: unreadable image")
    return img


def read_image_folder(folder: Path) -> np.ndarray:
    import cv2

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SourceError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} images in the folder")
    frames = [cv2.cvtColor(_read_image(f, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for f in files]
    if len({f.shape for f in frames}) != 1:
        raise SourceError(f"{folder}: images have different sizes")
    return np.stack(frames)


def read_sidecar(path: Path) -> dict:
    sidecar = sidecar_paths(path)["json"]
    if not sidecar.exists():
        return {}
    try:
        data = json.loads(sidecar.read_text())
    except ValueError as exc:
        raise SourceError(f"{sidecar}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SourceError(f"{sidecar}: must hold a JSON object")
    return data


def sidecar_paths(path: Path) -> dict[str, Path]:
    base = path.parent / path.name.split(".")[0]
    return {"json": Path(f"{base}.json"), "depth_npy": Path(f"{base}.depth.npy"), "depth_png": Path(f"{base}.depth")}


def read_depth(path: Path, scale: float) -> np.ndarray | None:
    """Depth in metres from the .npy or PNG-folder sidecar, or None when there is none."""
    import cv2

    side = sidecar_paths(path)
    if side["depth_npy"].exists():
        try:
            depth = np.load(side["depth_npy"], allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise SourceError(f"{side['depth_npy']}: not a readable .npy file ({exc})") from None
        return depth.astype(np.float32)
    if side["depth_png"].is_dir():
        files = sorted(side["depth_png"].glob("*.png"))
        imgs = [_read_image(f, cv2.IMREAD_UNCHANGED) for f in files]
        if not imgs or any(i.dtype != np.uint16 or i.ndim != 2 for i in imgs):
            raise SourceError(f"{side['depth_png']}: depth PNGs must be single-channel 16-bit")
        return np.stack(imgs).astype(np.float32) * scale
    return None


def _per_frame(value: object, t: int, shape: tuple[int, int], name: str, sidecar: Path) -> np.ndarray:
    arr = np.asarray(value, np.float64)
    if arr.shape == shape:
        arr = np.broadcast_to(arr, (t, *shape))
    if arr.shape != (t, *shape):
        raise SourceError(f"{sidecar}: '{name}' must be {shape} or ({t}, {shape[0]}, {shape[1]}), got {arr.shape}")
    return arr.astype(np.float32)


def default_intrinsics(height: int, width: int, hfov_deg: float) -> np.ndarray:
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]], np.float64)


def _resize(images: np.ndarray, depth: np.ndarray | None, K: np.ndarray, max_side: int):
    import cv2

    h, w = images.shape[1:3]
    s = max_side / max(h, w)
    if max_side == 0 or s >= 1:
        return images, depth, K
    size = (max(1, round(w * s)), max(1, round(h * s)))
    images = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in images])
    if depth is not None:  # nearest: never blend foreground and background depth at edges
        depth = np.stack([cv2.resize(d, size, interpolation=cv2.INTER_NEAREST) for d in depth])
    K = K.copy()
    sx, sy = size[0] / w, size[1] / h
    K[:, 0, 0] *= sx
    K[:, 1, 1] *= sy
    K[:, 0, 2] = (K[:, 0, 2] + 0.5) * sx - 0.5
    K[:, 1, 2] = (K[:, 1, 2] + 0.5) * sy - 0.5
    return images, depth, K


def _instructions(sidecar: dict, default: str) -> list[str]:
    value = sidecar.get("instructions", sidecar.get("instruction", default))
    items = [value] if isinstance(value, str) else list(value)
    return [s for s in items if isinstance(s, str) and s.strip()]


@dataclasses.dataclass(frozen=True)
class VideoFile:
    """One video file or image folder → one episode."""

    path: Path
    cfg: VideoSourceConfig = VideoSourceConfig()
    source_uri: str = ""  # where it came from, if not the local path (e.g. s3://...)

    @property
    def label(self) -> str:
        return self.source_uri or str(self.path)

    @property
    def episode_ids(self) -> list[str]:
        return [video_episode_id(self.path, file_digest(self.path))] if self.path.exists() else [
            video_episode_id(self.path, "missing")]

    def build(self) -> list[EpisodeData]:
        return [load_video_episode(self.path, self.cfg, self.source_uri)]


def _checked_depth(path: Path, sidecar: dict, cfg: VideoSourceConfig, t: int, h: int, w: int) -> np.ndarray | None:
    side = sidecar_paths(path)
    depth = read_depth(path, float(sidecar.get("depth_scale", cfg.png_depth_scale)))
    if depth is None:
        return None
    depth_file = side["depth_npy"] if side["depth_npy"].exists() else side["depth_png"]
    if depth.shape != (t, h, w):
        raise EpisodeFormatError(depth_file, "depth", f"shape is {depth.shape}, expected {(t, h, w)} as the video")
    check_depth_values(depth, depth_file)
    return depth


def _cameras(path: Path, sidecar: dict, cfg: VideoSourceConfig, t: int, h: int, w: int):
    """Per-frame K (t,3,3) and world-to-camera (t,4,4) from the sidecar, or the documented defaults."""
    where = sidecar_paths(path)["json"]
    if "intrinsics" in sidecar:
        K = _per_frame(sidecar["intrinsics"], t, (3, 3), "intrinsics", where)
    else:
        K = np.broadcast_to(default_intrinsics(h, w, cfg.default_hfov_deg), (t, 3, 3)).astype(np.float32)
    if "extrinsics" in sidecar:
        E = _per_frame(sidecar["extrinsics"], t, (4, 4), "extrinsics", where)
    else:
        E = np.broadcast_to(np.eye(4), (t, 4, 4)).astype(np.float32)
    return K, E


def load_video_episode(path: Path, cfg: VideoSourceConfig, source_uri: str = "") -> EpisodeData:
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    sidecar = read_sidecar(path)
    images, fps = (read_image_folder(path), None) if path.is_dir() else decode_video(path)
    t, h, w = images.shape[:3]
    depth = _checked_depth(path, sidecar, cfg, t, h, w)
    K, E = _cameras(path, sidecar, cfg, t, h, w)
    keep = slice(None, None, cfg.frame_stride)
    images, K, E = images[keep], K[keep], E[keep]
    depth = depth[keep] if depth is not None else None
    images, depth, K = _resize(images, depth, K, cfg.max_side)
    digest = file_digest(path)
    meta = {
        "episode_id": video_episode_id(path, digest),
        "source": "video",
        "source_uri": source_uri or str(path),
        "source_sha256": digest,
        "task": str(sidecar.get("task", path.name.split(".")[0])),
        "fps": float(sidecar.get("fps") or fps or cfg.fps) / cfg.frame_stride,
        "instructions": _instructions(sidecar, cfg.default_instruction),
        "embodiment": str(sidecar.get("embodiment", "unknown")),
        "camera": str(sidecar.get("camera", "video")),
        "camera_moving": bool(sidecar.get("camera_moving", "extrinsics" in sidecar)),
        "camera_poses": "given" if "extrinsics" in sidecar else "unknown",
        "intrinsics_source": "sidecar" if "intrinsics" in sidecar else f"default hfov {cfg.default_hfov_deg} deg",
    }
    return EpisodeData(meta=meta, images=np.ascontiguousarray(images), intrinsics=np.ascontiguousarray(K, np.float32),
                       extrinsics=np.ascontiguousarray(E, np.float32), depth=depth)


def find_videos(paths: list[Path]) -> list[Path]:
    """Expand folders: a folder of videos gives its videos; a folder of images is itself one episode."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES))
        else:
            found.append(path)
    return found
