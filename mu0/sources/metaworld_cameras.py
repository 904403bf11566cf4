"""Cameras for Meta-World scenes: static ones aimed at the table by us, plus the scene's own.

Meta-World's built-in corner cameras render rotated, so the static views are free cameras
(look-at point, distance, azimuth, elevation) chosen to frame the table and the arm. The scene's
named cameras (gripperPOV moves with the wrist) are used as they are.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AimedCamera:
    lookat: tuple[float, float, float]  # metres, world frame
    distance: float  # metres from the look-at point
    azimuth: float  # degrees about world z
    elevation: float  # degrees, negative looks down


AIMED_CAMERAS: dict[str, AimedCamera] = {
    # Diagonal view from the far side of the table: sees the arm, the objects and the handles facing it.
    "front": AimedCamera(lookat=(0.0, 0.65, 0.1), distance=1.0, azimuth=-120.0, elevation=-30.0),
    "side": AimedCamera(lookat=(0.0, 0.65, 0.1), distance=1.0, azimuth=180.0, elevation=-30.0),
    "overhead": AimedCamera(lookat=(0.0, 0.65, 0.05), distance=1.2, azimuth=-90.0, elevation=-75.0),
}
# Cameras that ship with every Meta-World v3 scene (gripperPOV and behindGripper move with the hand).
SCENE_CAMERAS = ("gripperPOV", "behindGripper", "topview", "corner", "corner2", "corner3", "corner4")
MOVING_CAMERAS = frozenset({"gripperPOV", "behindGripper"})


def valid_camera_names() -> list[str]:
    return [*AIMED_CAMERAS, *SCENE_CAMERAS]


def make_camera(name: str, model):  # -> mujoco.MjvCamera
    """A MuJoCo camera for `name`, aimed (free) or one of the scene's fixed cameras."""
    import mujoco

    cam = mujoco.MjvCamera()
    if name in AIMED_CAMERAS:
        spec = AIMED_CAMERAS[name]
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = spec.lookat
        cam.distance, cam.azimuth, cam.elevation = spec.distance, spec.azimuth, spec.elevation
        return cam
    cam_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name)
    if cam_id < 0:
        raise ValueError(f"unknown camera '{name}'; valid: {', '.join(valid_camera_names())}")
    cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
    cam.fixedcamid = cam_id
    return cam
