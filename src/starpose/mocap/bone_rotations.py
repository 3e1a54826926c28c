"""World and local rotations of the exported BVH's joints from 17 joint positions over time.

Each BVH joint that turns a bone gets the frame (bone direction, twist reference
orthogonalised, their cross product) at every frame, and its world rotation is the one that
carries the same frame built from its T-pose directions (:data:`~starpose.mocap.rig_bones.T_POSE`)
onto it: ``W(t) = F(t) @ F_rest^T``. The bone's rest direction therefore lands exactly on the
bone's direction at every frame, whatever the other bones do. Frame joints (the pelvis, the
chest) use their two lines the same way; leaves keep their parent's rotation.

Twist references of limbs are the normals of the limb's plane. They vanish as a limb
straightens, so the parent's rotation of the rest reference is added with weight
:data:`HINGE_FALLBACK`, and the reference's sign is kept continuous over time (a hinge normal
reverses when a limb straightens and bends the other way; flipping it back keeps the twist
from jumping 180 degrees), starting on the side of that fallback.
"""
from __future__ import annotations

import numpy as np

from starpose.mocap.rig_bones import BONES, T_POSE

HINGE_FALLBACK = 0.1


def unit(v: np.ndarray) -> np.ndarray:
    """``v / |v|`` along the last axis (zero vectors stay near zero)."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def frames_from(primary: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(..., 3, 3) orthonormal frames, columns: primary, reference orthogonalised, cross."""
    e1 = unit(primary)
    e2 = unit(reference - np.sum(reference * e1, -1, keepdims=True) * e1)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def _continuous_sign(reference: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """``reference`` (T, 3) with its sign flipped where it turned by more than 90 degrees
    from the previous frame, and overall so that frame 0 agrees with ``fallback``."""
    turns = np.sum(reference[1:] * reference[:-1], axis=-1) < 0
    sign = np.cumprod(np.where(np.concatenate([[False], turns]), -1.0, 1.0))
    if np.dot(reference[0] * sign[0], fallback[0]) < 0:
        sign = -sign
    return reference * sign[:, None]


def _vector(p: np.ndarray, pair) -> np.ndarray:
    return p[:, pair[1]] - p[:, pair[0]]


def world_rotations(p: np.ndarray) -> np.ndarray:
    """World rotations (T, B, 3, 3) of the rows of :data:`BONES` for positions ``p``
    (T, 17, 3), BVH world; the T-pose has all rotations identity."""
    world = np.empty((len(p), len(BONES), 3, 3))
    for row, (key, _, parent, bone, reference) in enumerate(BONES):
        if reference is None:  # a leaf: no bone of its own to turn
            world[:, row] = world[:, parent]
            continue
        rest_primary, rest_reference = (np.asarray(v) for v in T_POSE[key])
        if reference[0] == "frame":
            first, second = reference[1]
            current = frames_from(_vector(p, first[1]), _vector(p, second[1]))
        elif reference[0] == "vec":
            current = frames_from(_vector(p, bone), _vector(p, reference[1]))
        else:
            a, b, c = reference[1]
            normal = np.cross(unit(p[:, b] - p[:, a]), unit(p[:, c] - p[:, b]))
            fallback = world[:, parent] @ rest_reference
            direction = unit(_vector(p, bone))
            twist = normal + HINGE_FALLBACK * fallback
            twist -= np.sum(twist * direction, -1, keepdims=True) * direction
            current = frames_from(direction, _continuous_sign(unit(twist), fallback))
        rest = frames_from(rest_primary, rest_reference)
        world[:, row] = current @ rest.T
    return world


def local_rotations(world: np.ndarray) -> np.ndarray:
    """(T, B, 3, 3) rotations relative to each row's BVH parent (the root's is its world)."""
    local = world.copy()
    for row, (_, _, parent, _, _) in enumerate(BONES):
        if parent >= 0:
            local[:, row] = np.swapaxes(world[:, parent], -1, -2) @ world[:, row]
    return local
