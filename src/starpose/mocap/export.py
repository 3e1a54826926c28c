"""Human3.6M joint positions out as a BVH animation (``starpose mocap export``, ``write_bvh``).

Conventions of the written file:

* world: y up, metres (or centimetres with ``unit="cm"``); camera coordinates (x right, y down,
  z forward) are turned by 180 degrees about x, so (x, y, z) -> (x, -y, -z): the camera looks
  along -z and a person facing it faces +z;
* skeleton: the 17 Human3.6M joints with their parents (``Neck/Nose`` is written ``Neck_Nose``),
  End Sites after the feet, wrists and head; bone lengths are the medians over the frames,
  left and right averaged;
* rest pose: the first frame's bone directions (all rotations of frame 0 are zero);
* channels: the root ``Xposition Yposition Zposition`` and three rotations, every other joint
  three rotations, in the Euler order (per joint) whose middle angle stays furthest from the
  gimbal lock at 90 degrees over the clip (``ZXY`` when several tie); angles unwrapped over
  time.

Rotations: each joint's world rotation maps its first-frame frame onto its current frame, a
frame being built from the bone to the primary child and a twist reference: the pelvis from the
hip line and the spine, the chest from the shoulder line and the neck, the spine and neck from
the shoulder line, the limbs from the plane of upper and lower limb (falling back on the
parent's turned rest plane when the limb is straight). Each bone to a primary child is
reproduced exactly; the other children of the pelvis and the chest are exact when those
triangles keep their shape.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from starpose.data.skeleton import H36M_17
from starpose.io import atomic_path
from starpose.mocap.kinematics import matrix_to_euler, unwrap_degrees

PARENTS = H36M_17.parents
BVH_NAMES = tuple(name.replace("/", "_") for name in H36M_17.names)
_SCALE = {"m": 1.0, "cm": 100.0}
_LEAVES = (3, 6, 10, 13, 16)
#: joint -> (primary child vector (a, b): p[b] - p[a], twist reference)
_HINGE_LIMBS = {1: (2, 3), 2: (2, 3), 4: (5, 6), 5: (5, 6), 11: (12, 13), 12: (12, 13),
                14: (15, 16), 15: (15, 16)}
_FRAMES = {0: ((1, 4), (0, 7)), 7: ((7, 8), (14, 11)), 8: ((14, 11), (8, 9)),
           9: ((9, 10), (14, 11))}
_HINGE_WEIGHT = 0.1


def camera_to_bvh(positions: np.ndarray) -> np.ndarray:
    """Camera coordinates (x right, y down, z forward) -> BVH world (y up): (x, -y, -z)."""
    return positions * np.array([1.0, -1.0, -1.0])


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """(17,) median length of the bone to each joint from its parent, left/right averaged."""
    lengths = np.zeros(17)
    for joint, parent in enumerate(PARENTS):
        if parent >= 0:
            lengths[joint] = np.median(np.linalg.norm(positions[:, joint] - positions[:, parent],
                                                      axis=-1))
    for left, right in zip(H36M_17.joints_left, H36M_17.joints_right):
        lengths[left] = lengths[right] = (lengths[left] + lengths[right]) / 2
    return lengths


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _frame(primary: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T, 3, 3) orthonormal frames, columns: primary, reference orthogonalised, their cross.

    The reference's sign is kept continuous over time (a hinge normal reverses when a limb
    straightens and bends the other way; flipping it back keeps the twist from jumping 180
    degrees), by the running product of the signs of consecutive dot products.
    """
    e1 = _unit(primary)
    e2 = _unit(reference - np.sum(reference * e1, -1, keepdims=True) * e1)
    turns = np.sum(e2[1:] * e2[:-1], axis=-1) < 0
    sign = np.cumprod(np.where(np.concatenate([[False], turns]), -1.0, 1.0))
    e2 = e2 * sign[:, None]
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def solve_rotations(p: np.ndarray) -> np.ndarray:
    """World rotations (T, 17, 3, 3) with W(0) = I such that W_j(t) maps frame 0's bone
    directions at joint j onto frame t's (see the module docstring)."""
    T = len(p)
    world = np.empty((T, 17, 3, 3))
    rest_hinge = {}
    for j, parent in enumerate(PARENTS):
        if j in _LEAVES:
            world[:, j] = world[:, parent]
            continue
        if j in _FRAMES:
            (a, b), (c, d) = _FRAMES[j]
            frames = _frame(p[:, b] - p[:, a], p[:, d] - p[:, c])
        else:
            upper, lower = _HINGE_LIMBS[j]
            limb = _limb_start(upper)
            u, w = _unit(p[:, upper] - p[:, limb]), _unit(p[:, lower] - p[:, upper])
            normal = np.cross(u, w)
            if upper not in rest_hinge:
                # The plane's normal at frame 0 (or the parent's side axis if straight there),
                # carried along by the parent: the fallback when the limb straightens.
                side = _frame_axis(p, _parent_of_limb(upper))
                rest_hinge[upper] = normal[0] if np.linalg.norm(normal[0]) > 0.2 else side
            fallback = np.einsum("tij,j->ti", world[:, _parent_of_limb(upper)], rest_hinge[upper])
            primary = u if j == limb else w
            frames = _frame(primary, normal + _HINGE_WEIGHT * fallback)
        world[:, j] = frames @ frames[0].T
    return world


def _limb_start(upper: int) -> int:
    return PARENTS[upper]


def _parent_of_limb(upper: int) -> int:
    return PARENTS[_limb_start(upper)]


def _frame_axis(p: np.ndarray, joint: int) -> np.ndarray:
    """Frame 0's side axis at the pelvis or chest (right -> left)."""
    a, b = (1, 4) if joint == 0 else (14, 11)
    return _unit(p[0, b] - p[0, a])


def bvh_text(positions: np.ndarray, fps: float, unit: str = "m") -> str:
    """The BVH text for world positions (T, 17, 3) in metres, y up (see the module docstring)."""
    scale = _SCALE[unit]
    lengths = bone_lengths(positions)
    world = solve_rotations(positions)
    local = world.copy()
    for j, parent in enumerate(PARENTS):
        if parent >= 0:
            local[:, j] = np.swapaxes(world[:, parent], -1, -2) @ world[:, j]
    offsets = np.zeros((17, 3))
    for j, parent in enumerate(PARENTS):
        if parent >= 0:
            offsets[j] = lengths[j] * _unit(positions[0, j] - positions[0, parent])
    orders = [_euler_order(local[:, j]) for j in range(17)]
    angles = [unwrap_degrees(matrix_to_euler(local[:, j], orders[j])) for j in range(17)]
    motion = np.concatenate([positions[:, 0] * scale] + angles, axis=1)
    buffer = io.StringIO()
    np.savetxt(buffer, motion, fmt="%.6f")
    return (_hierarchy(offsets * scale, lengths * scale, orders)
            + f"MOTION\nFrames: {len(positions)}\nFrame Time: {1.0 / fps:.8f}\n"
            + buffer.getvalue())


_ORDERS = ("ZXY", "XYZ", "YZX", "XZY", "YXZ", "ZYX")


def _euler_order(rot: np.ndarray) -> str:
    """The order whose middle angle's largest magnitude over the frames is smallest."""
    def worst(order: str) -> float:
        return float(np.abs(matrix_to_euler(rot, order)[:, 1]).max())

    best = min(_ORDERS, key=worst)
    return "ZXY" if worst("ZXY") <= worst(best) + 1e-6 else best


def _hierarchy(offsets: np.ndarray, lengths: np.ndarray, orders: list[str]) -> str:
    lines = ["HIERARCHY"]

    def emit(joint: int, depth: int) -> None:
        pad = "  " * depth
        keyword = "ROOT" if joint == 0 else "JOINT"
        lines.append(f"{pad}{keyword} {BVH_NAMES[joint]}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offsets[joint])}")
        channels = " ".join(f"{axis}rotation" for axis in orders[joint])
        if joint == 0:
            channels = "6 Xposition Yposition Zposition " + channels
        else:
            channels = "3 " + channels
        lines.append(f"{pad}  CHANNELS {channels}")
        children = [c for c, p in enumerate(PARENTS) if p == joint]
        for child in children:
            emit(child, depth + 1)
        if not children:
            # The End Site continues the bone into the joint by a fifth of its length.
            tip = offsets[joint] * 0.2 if lengths[joint] > 0 else np.array([0, 0.01, 0])
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {' '.join(f'{v:.6f}' for v in tip)}", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    return "\n".join(lines) + "\n"


def write_bvh(path, positions, fps: float, *, camera_coordinates: bool = True,
              unit: str = "m", stand_on_floor: bool = True) -> Path:
    """Write ``positions`` (T, 17, 3) metres as a BVH animation at ``fps``; returns the path.

    ``camera_coordinates``: the positions are in camera coordinates (y down, as ``starpose
    lift`` writes them) and are turned into the y-up BVH world; else they already are y up.
    ``stand_on_floor``: a root-relative result (joint 0 at the origin in every frame) is
    lifted so that its lowest foot touches y = 0. Written atomically.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (17, 3) or len(positions) == 0:
        raise ValueError(f"positions must have shape (T, 17, 3), got {positions.shape}")
    if not np.isfinite(positions).all():
        raise ValueError("positions contain NaN or infinite values")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    if unit not in _SCALE:
        raise ValueError(f"unit must be one of {', '.join(_SCALE)}, got {unit!r}")
    world = camera_to_bvh(positions) if camera_coordinates else positions.copy()
    if stand_on_floor and not np.any(positions[:, 0]):
        world[:, :, 1] -= world[:, (3, 6), 1].min()
    path = Path(path)
    text = bvh_text(world, fps, unit)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
