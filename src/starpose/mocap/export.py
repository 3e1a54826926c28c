"""Human3.6M joint positions out as a BVH animation (``starpose mocap export``, ``write_bvh``).

Conventions of the written file:

* world: y up, metres (or centimetres with ``unit="cm"``); camera coordinates (x right, y down,
  z forward) are turned by 180 degrees about x, so (x, y, z) -> (x, -y, -z): the camera looks
  along -z and a person facing it faces +z. A result's ``joints_world`` (gravity-aligned,
  feet on y = 0) is written as it is;
* skeleton: :mod:`starpose.mocap.rig_bones` (the 17 joints plus zero-length hip, lower back,
  neck and collar joints, so every bone has its own rotation), named after starpose's joints or
  Mixamo's bones; End Sites after the feet (pointing forward), wrists and head;
* rest pose: a T-pose with the skeleton's median bone lengths, left and right averaged;
* channels: the root ``Xposition Yposition Zposition`` (joint 0's trajectory) and three
  rotations, every other joint three rotations (:mod:`starpose.mocap.bone_rotations`), in the
  Euler order (per joint) whose middle angle stays furthest from the gimbal lock at 90 degrees
  over the clip (``ZXY`` when several tie); angles unwrapped over time.

Every bone's direction is exact at every frame; a joint's position is exact when the bone
lengths are constant (otherwise off by the length changes along its chain).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from starpose.data.skeleton import H36M_17
from starpose.errors import DataError
from starpose.io import atomic_path
from starpose.mocap.bone_rotations import local_rotations, world_rotations
from starpose.mocap.kinematics import matrix_to_euler, unwrap_degrees
from starpose.mocap.rig_bones import BONES, END_SITES, T_POSE, bone_names, joint_rows

PARENTS = H36M_17.parents
_SCALE = {"m": 1.0, "cm": 100.0}
NAMINGS = ("starpose", "mixamo")


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


def rest_offsets(lengths: np.ndarray) -> np.ndarray:
    """(B, 3) T-pose OFFSET of every row of :data:`BONES` (metres): zero where a row sits at
    its parent's joint, else the parent's rest bone direction times the bone's length."""
    offsets = np.zeros((len(BONES), 3))
    for row, (_, joint, parent, _, _) in enumerate(BONES):
        if parent >= 0 and BONES[parent][1] != joint:
            assert BONES[parent][3] == (BONES[parent][1], joint)
            offsets[row] = np.asarray(T_POSE[BONES[parent][0]][0]) * lengths[joint]
    return offsets


def rest_positions(lengths: np.ndarray) -> np.ndarray:
    """(17, 3) the T-pose's joint positions (metres, y up) with the root at the origin."""
    offsets = rest_offsets(lengths)
    heads = np.zeros((len(BONES), 3))
    for row, (_, _, parent, _, _) in enumerate(BONES):
        if parent >= 0:
            heads[row] = heads[parent] + offsets[row]
    return heads[list(joint_rows())]


def bvh_text(positions: np.ndarray, fps: float, unit: str = "m",
             naming: str = "starpose") -> str:
    """The BVH text for world positions (T, 17, 3) in metres, y up (see the module docstring)."""
    scale = _SCALE[unit]
    lengths = bone_lengths(positions)
    local = local_rotations(world_rotations(positions))
    orders = [_euler_order(local[:, row]) for row in range(len(BONES))]
    angles = [unwrap_degrees(matrix_to_euler(local[:, row], orders[row]))
              for row in range(len(BONES))]
    motion = np.concatenate([positions[:, 0] * scale] + angles, axis=1)
    buffer = io.StringIO()
    np.savetxt(buffer, motion, fmt="%.6f")
    rest = rest_positions(lengths)
    root = np.array([0.0, -min(rest[3, 1], rest[6, 1]), 0.0])  # the T-pose stands on y = 0
    return (_hierarchy(rest_offsets(lengths) * scale, root * scale, orders, bone_names(naming),
                       scale)
            + f"MOTION\nFrames: {len(positions)}\nFrame Time: {1.0 / fps:.8f}\n"
            + buffer.getvalue())


_ORDERS = ("ZXY", "XYZ", "YZX", "XZY", "YXZ", "ZYX")


def _euler_order(rot: np.ndarray) -> str:
    """The order whose middle angle's largest magnitude over the frames is smallest."""
    def worst(order: str) -> float:
        return float(np.abs(matrix_to_euler(rot, order)[:, 1]).max())

    best = min(_ORDERS, key=worst)
    return "ZXY" if worst("ZXY") <= worst(best) + 1e-6 else best


def _hierarchy(offsets, root, orders, names, scale) -> str:
    lines = ["HIERARCHY"]

    def fmt(v) -> str:
        return " ".join(f"{x:.6f}" for x in v)

    def emit(row: int, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if row == 0 else 'JOINT'} {names[row]}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {fmt(root if row == 0 else offsets[row])}")
        channels = " ".join(f"{axis}rotation" for axis in orders[row])
        channels = ("6 Xposition Yposition Zposition " if row == 0 else "3 ") + channels
        lines.append(f"{pad}  CHANNELS {channels}")
        children = [c for c, bone in enumerate(BONES) if bone[2] == row]
        for child in children:
            emit(child, depth + 1)
        if not children:
            tip = np.asarray(END_SITES[BONES[row][0]]) * scale
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {fmt(tip)}",
                          pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    return "\n".join(lines) + "\n"


def write_bvh(path, positions, fps: float, *, camera_coordinates: bool = True,
              unit: str = "m", stand_on_floor: bool = True, naming: str = "starpose") -> Path:
    """Write ``positions`` (T, 17, 3) metres as a BVH animation at ``fps``; returns the path.

    ``camera_coordinates``: the positions are in camera coordinates (y down, as ``starpose
    lift`` writes ``positions_3d``) and are turned into the y-up BVH world; else they already
    are y up (``joints_world``). ``stand_on_floor``: a root-relative result (joint 0 at the
    origin in every frame) is lifted so that its lowest foot touches y = 0. ``naming``:
    ``"starpose"`` or ``"mixamo"`` bone names. Written atomically.
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
    bone_names(naming)
    world = camera_to_bvh(positions) if camera_coordinates else positions.copy()
    if stand_on_floor and not np.any(positions[:, 0]):
        world[:, :, 1] -= world[:, (3, 6), 1].min()
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: exists and is not a regular file")
    text = bvh_text(world, fps, unit, naming)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
