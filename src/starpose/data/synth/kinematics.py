"""Forward kinematics of the 32-joint Human3.6M tree from named joint angles.

Joint angles are in degrees (the root's yaw in radians), named like ``knee_l`` or ``spine_flex``;
:data:`LIMITS` gives each one's range (``_l``/``_r`` share it), and :func:`clip_to_limits`
softly clips them so velocities stay continuous. Body frame: x forward, y left, z up.
"""
from __future__ import annotations

import numpy as np

from starpose.data.skeleton import H36M_32


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) about a body axis (0 x, 1 y, 2 z) by ``angle`` (T,) radians."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1
    m[..., i, i], m[..., j, j] = c, c
    m[..., i, j], m[..., j, i] = -s, s
    return m


def forward_kinematics(offsets: np.ndarray, root: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Joint positions (T, 32, 3) from rest ``offsets`` (32, 3), root positions (T, 3) and
    per-bone local rotations (T, 32, 3, 3): bone j turns by ``rotations[:, j]`` relative to its
    parent's frame (entry 0 is the root's orientation in the world)."""
    T = len(root)
    world_rot = np.empty((T, 32, 3, 3))
    pos = np.empty((T, 32, 3))
    world_rot[:, 0], pos[:, 0] = rotations[:, 0], root
    for j, parent in enumerate(H36M_32.parents[1:], start=1):  # parents precede children
        world_rot[:, j] = world_rot[:, parent] @ rotations[:, j]
        pos[:, j] = pos[:, parent] + world_rot[:, j] @ offsets[j]
    return pos


def bone_rotations(a: dict, T: int) -> np.ndarray:
    """Local rotations (T, 32, 3, 3) from the joint angles ``a`` (degrees, root yaw radians)."""
    d = {k: np.radians(v) for k, v in a.items() if k != "yaw"}
    rot = np.broadcast_to(np.eye(3), (T, 32, 3, 3)).copy()
    rot[:, 0] = _rot(2, a["yaw"]) @ _rot(1, d["pelvis_pitch"]) @ _rot(0, d["pelvis_roll"]) \
        @ _rot(2, d["pelvis_twist"])
    for side, sign, (thigh, shank, foot) in (("r", -1, (2, 3, 4)), ("l", 1, (7, 8, 9))):
        # Flexion brings the thigh forward (negative turn about y), abduction outwards.
        rot[:, thigh] = _rot(1, -d["hip_flex_" + side]) @ _rot(0, sign * d["hip_abd_" + side]) \
            @ _rot(2, sign * d["hip_rot_" + side])
        rot[:, shank] = _rot(1, d["knee_" + side])
        rot[:, foot] = _rot(1, d["ankle_" + side])
    rot[:, 12] = _rot(1, d["spine_flex"]) @ _rot(0, d["spine_lat"]) @ _rot(2, d["spine_twist"])
    rot[:, 13] = _rot(1, d["chest_flex"]) @ _rot(0, d["chest_lat"]) @ _rot(2, d["chest_twist"])
    rot[:, 14] = _rot(2, d["neck_twist"]) @ _rot(1, d["neck_flex"]) @ _rot(0, d["neck_lat"])
    rot[:, 15] = _rot(1, d["head_flex"])
    for side, sign, (root, clavicle, upper, fore, thumb, hand) in (
            ("l", 1, (16, 17, 18, 19, 20, 22)), ("r", -1, (24, 25, 26, 27, 28, 30))):
        # The clavicle root turns with the chest, so it stays on the thorax (as in Human3.6M).
        rot[:, root] = rot[:, 13]
        rot[:, clavicle] = _rot(0, sign * d["clav_" + side])  # elevation lifts the shoulder
        # Internal rotation turns the (bent) forearm towards the body's midline.
        rot[:, upper] = _rot(1, -d["sh_flex_" + side]) @ _rot(0, sign * d["sh_abd_" + side]) \
            @ _rot(2, -sign * d["sh_rot_" + side])
        rot[:, fore] = _rot(1, -d["elbow_" + side])
        rot[:, thumb] = rot[:, hand] = _rot(1, -d["wrist_" + side])
    return rot


# (min, max) in degrees; angles are softly clipped into these ranges.
LIMITS = {
    "pelvis_pitch": (-20, 30), "pelvis_roll": (-12, 12), "pelvis_twist": (-30, 30),
    "hip_flex": (-25, 125), "hip_abd": (-20, 45), "hip_rot": (-35, 35), "knee": (0, 145),
    "ankle": (-30, 40), "spine_flex": (-20, 55), "spine_lat": (-20, 20), "spine_twist": (-30, 30),
    "chest_flex": (-15, 35), "chest_lat": (-15, 15), "chest_twist": (-25, 25),
    "neck_flex": (-35, 45), "neck_lat": (-25, 25), "neck_twist": (-70, 70),
    "head_flex": (-20, 25), "clav": (-10, 25), "sh_flex": (-50, 170), "sh_abd": (-5, 160),
    "sh_rot": (-60, 100), "elbow": (0, 150), "wrist": (-60, 60),
}


def _soft_clip(x: np.ndarray, lo: float, hi: float, softness: float = 4.0) -> np.ndarray:
    """Clip to [lo, hi] with smooth (C-infinity) corners, so velocities stay continuous."""
    return x - softness * (np.logaddexp(0, (x - hi) / softness)
                           - np.logaddexp(0, (lo - x) / softness))


def clip_to_limits(angles: dict) -> None:
    """Softly clip every named angle track (T,) of ``angles`` into its :data:`LIMITS`, in place."""
    for name, values in angles.items():
        lo, hi = LIMITS[name.rsplit("_", 1)[0] if name[-2:] in ("_l", "_r") else name]
        angles[name] = _soft_clip(values, lo, hi)
