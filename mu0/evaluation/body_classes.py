"""Which kind of thing a simulator body is, by its MuJoCo name (Meta-World's Sawyer scenes): the gripper
(fingers, pads, hand), the arm's links, articulated parts of fixtures (doors, drawers, windows, buttons,
handles …) or a free object. Tracking is scored per class, since each fails differently."""

from __future__ import annotations

CLASSES = ("gripper", "object", "articulated", "arm")
_GRIPPER = {"hand", "right_hand", "leftpad", "rightpad", "leftclaw", "rightclaw"}
_ARM_PREFIXES = ("right_l", "right_arm", "right_wrist", "right_torso", "torso", "head", "pedestal", "base")
_ARTICULATED = ("door", "drawer", "window", "button", "handle", "lever", "faucet", "dial", "switch", "lock",
                "lid", "coffee", "stick", "hammerblock", "shelf", "nail")


def body_class(name: str) -> str:
    lower = name.lower()
    if lower in _GRIPPER:
        return "gripper"
    if lower.startswith(_ARM_PREFIXES):
        return "arm"
    if any(part in lower for part in _ARTICULATED):
        return "articulated"
    return "object"
