"""Rotations and forward kinematics of BVH skeletons, vectorised over all frames.

BVH semantics: a joint's local transform is a translation (its OFFSET, where position channels
replace the matching components) followed by its rotation channels composed in the order they
are listed, so ``Zrotation Xrotation Yrotation`` means ``R = Rz @ Rx @ Ry`` acting on column
vectors. A joint's world position is ``p_parent + W_parent @ t_local`` and its world rotation
``W_parent @ R``. Python loops run over joints, never over frames.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from starpose.mocap.bvh import BvhClip

_AXIS = {"X": 0, "Y": 1, "Z": 2}


def axis_rotation(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about axis 0/1/2 (x/y/z) by ``degrees`` (...)."""
    radians = np.radians(degrees)
    c, s = np.cos(radians), np.sin(radians)
    m = np.zeros(np.shape(radians) + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., i, j] = -s
    m[..., j, i] = s
    return m


def euler_to_matrix(degrees: np.ndarray, order: str) -> np.ndarray:
    """(..., k) angles for the axes of ``order`` (e.g. ``"ZXY"``) -> (..., 3, 3), R = R1 R2 R3."""
    result = None
    for k, axis in enumerate(order):
        rot = axis_rotation(_AXIS[axis], degrees[..., k])
        result = rot if result is None else result @ rot
    if result is None:
        return np.broadcast_to(np.eye(3), np.shape(degrees)[:-1] + (3, 3)).copy()
    return result


def matrix_to_euler(rot: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) degrees for the axes of ``order`` with ``R = R1 @ R2 @ R3``
    (inverse of :func:`euler_to_matrix`); the middle angle is in [-90, 90]."""
    i, j, k = (_AXIS[a] for a in order)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # even permutations: XYZ, YZX, ZXY
    middle = np.arcsin(np.clip(sign * rot[..., i, k], -1.0, 1.0))
    first = np.arctan2(-sign * rot[..., j, k], rot[..., k, k])
    last = np.arctan2(-sign * rot[..., i, j], rot[..., i, i])
    return np.degrees(np.stack([first, middle, last], axis=-1))


def unwrap_degrees(angles: np.ndarray) -> np.ndarray:
    """Remove 360-degree jumps along axis 0 (time), so curves stay continuous."""
    return np.degrees(np.unwrap(np.radians(angles), axis=0))


def ancestors_closure(parents: tuple[int, ...], joints: Iterable[int]) -> list[int]:
    """``joints`` and all their ancestors, sorted (parents before children)."""
    needed: set[int] = set()
    for joint in joints:
        while joint >= 0 and joint not in needed:
            needed.add(joint)
            joint = parents[joint]
    return sorted(needed)


def forward_kinematics(clip: BvhClip, joints: Iterable[int] | None = None) -> np.ndarray:
    """World positions (T, len(joints), 3) in file units of ``joints`` (all joints if None).

    Only the joints asked for and their ancestors are computed.
    """
    wanted = list(range(len(clip.names))) if joints is None else list(joints)
    starts = clip.channel_starts
    positions: dict[int, np.ndarray] = {}
    rotations: dict[int, np.ndarray] = {}
    has_children = {p for p in clip.parents if p >= 0}
    for j in ancestors_closure(clip.parents, wanted):
        values = clip.motion[:, starts[j]:starts[j] + len(clip.channels[j])]
        local = np.repeat(clip.offsets[j][None], clip.num_frames, axis=0)
        order = ""
        angles = []
        for k, name in enumerate(clip.channels[j]):
            if name.endswith("position"):
                local[:, _AXIS[name[0]]] = values[:, k]
            else:
                order += name[0]
                angles.append(values[:, k])
        parent = clip.parents[j]
        if parent < 0:
            positions[j] = local
        else:
            positions[j] = positions[parent] + np.einsum("tij,tj->ti", rotations[parent], local)
        if j in has_children:
            local_rot = euler_to_matrix(np.stack(angles, -1), order) if angles else None
            if parent < 0:
                rotations[j] = local_rot if local_rot is not None else _identity(clip.num_frames)
            else:
                rotations[j] = rotations[parent] if local_rot is None \
                    else rotations[parent] @ local_rot
    return np.stack([positions[j] for j in wanted], axis=1)


def _identity(frames: int) -> np.ndarray:
    return np.broadcast_to(np.eye(3), (frames, 3, 3))
