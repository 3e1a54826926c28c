"""Result files of ``starpose lift``: the lifted 3D joints as ``.npz``, ``.json`` or ``.csv``.

:func:`write_result` writes a :func:`starpose.lift.lift_keypoints` result in the format its
extension names; :func:`read_result` reads ``.npz``/``.json`` results (or a bare ``(T, J, 3)``
array) back and checks them, for rendering and comparisons.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.npz import open_npz
from starpose.errors import DataError
from starpose.formats import read_json
from starpose.lift.writers import open_writer


def write_result(result: dict, path) -> Path:
    """Write a :func:`starpose.lift.lift_keypoints` result to ``path`` (format from its extension), as is.

    ``.npz``: arrays plus ``joint_names``/``source`` strings and ``fps`` (NaN when unknown),
    readable with ``np.load(path)`` (no pickles). ``.json``: the same as lists (``fps`` null
    when unknown). ``.csv``: one row per frame and joint, ``frame, time_s, joint, x, y, z``.
    The same file as :func:`starpose.lift.writers.open_writer`'s writer makes block by block.
    """
    poses = np.asarray(result["positions_3d"], dtype=np.float32)
    meta = {k: v for k, v in result.items() if k != "positions_3d"}
    writer = open_writer(path, meta, len(poses), poses.shape[1])
    try:
        writer.write(poses)
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def read_result(path, num_joints: int | None = None) -> dict:
    """Read a result written by :func:`write_result` (``.npz`` or ``.json``) for rendering.

    Returns ``positions_3d`` ``(T, J, 3)`` (``J`` must be ``num_joints`` when given, else the
    joint count of a known dataset: 17 Human3.6M, 15 HumanEva-I), and
    ``keypoints_2d``, ``image_size``, ``fps``, ``joint_names``, ``frame_index`` (the input's
    frame numbers) and ``time_s`` (their times, NaN where unknown) (None where not stored). A bare
    ``(T, J, 3)`` array in an ``.npz``/``.npy`` is accepted too.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        raw = _read_json_result(path)
    elif suffix in (".npz", ".npy"):
        raw = _read_npz_result(path)
    else:
        raise DataError(f"{path}: expected a lifted result (.npz or .json)")
    return _check_result(raw, path, num_joints)


def _read_json_result(path: Path) -> dict:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object with 'positions_3d'")
    return raw


def _read_npz_result(path: Path) -> dict:
    raw = open_npz(path)
    if "positions_3d" not in raw and len(raw) == 1:
        raw = {"positions_3d": next(iter(raw.values()))}
    return raw


def _check_result(raw: dict, path: Path, num_joints: int | None) -> dict:
    if "positions_3d" not in raw:
        raise DataError(f"{path}: no 'positions_3d' array (not a lifted result)")
    poses = _float_array(raw["positions_3d"], path, "positions_3d")
    counts = (num_joints,) if num_joints else _known_joint_counts()
    if poses.ndim != 3 or poses.shape[2] != 3 or len(poses) == 0 or poses.shape[1] not in counts:
        shapes = " or ".join(f"(T, {n}, 3)" for n in counts)
        raise DataError(f"{path}: positions_3d must have shape {shapes}, got {poses.shape}")
    joints = poses.shape[1]
    result = {"positions_3d": poses, "keypoints_2d": None, "image_size": None, "fps": None,
              "joint_names": _joint_names(raw.get("joint_names"), joints, path)}
    if raw.get("keypoints_2d") is not None:
        kp2d = _float_array(raw["keypoints_2d"], path, "keypoints_2d")
        if kp2d.shape != poses.shape[:2] + (2,):
            raise DataError(f"{path}: keypoints_2d has shape {kp2d.shape}, expected {poses.shape[:2] + (2,)}")
        result["keypoints_2d"] = kp2d
    if raw.get("image_size") is not None:
        size = _float_array(raw["image_size"], path, "image_size")
        result["image_size"] = tuple(int(round(v)) for v in size)
    result["fps"] = _frame_rate(raw.get("fps"), path)
    result.update(_world_fields(raw, path, poses.shape[0], joints))
    result["frame_index"], result["time_s"] = _frame_numbers(raw, len(poses), path)
    return result


def _world_fields(raw: dict, path: Path, frames: int, joints: int) -> dict:
    """The optional per-frame fields of a result, checked: the world motion of :mod:`starpose.world` (``joints_cam``, ``joints_world`` ``(T, J, 3)``,
    ``root_cam`` ``(T, 3)``, ``contacts`` ``(T, 2)``, ``intrinsics`` ``(4,)``); None where absent."""
    shapes = {"joints_cam": (frames, joints, 3),
              "joints_world": (frames, joints, 3), "root_cam": (frames, 3),
              "contacts": (frames, 2), "intrinsics": (4,)}
    out = {}
    for key, shape in shapes.items():
        value = raw.get(key)
        if value is None:
            out[key] = None
            continue
        arr = _float_array(value, path, key)
        if arr.shape != shape:
            raise DataError(f"{path}: {key} has shape {arr.shape}, expected {shape}")
        out[key] = arr
    if out["contacts"] is not None:
        out["contacts"] = out["contacts"] > 0.5
    return out


def _frame_numbers(raw: dict, frames: int, path: Path) -> tuple:
    """``frame_index`` ``(T,)`` int64 and ``time_s`` ``(T,)`` float64 where stored (else None)."""
    index = times = None
    if raw.get("frame_index") is not None:
        index = np.asarray(raw["frame_index"])
        if index.shape != (frames,) or not np.issubdtype(index.dtype, np.integer):
            raise DataError(f"{path}: frame_index must be {frames} integers, one per frame")
        index = index.astype(np.int64)
    if raw.get("time_s") is not None:
        try:
            times = np.asarray(raw["time_s"], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"{path}: time_s is not a numeric array") from None
        if times.shape != (frames,):
            raise DataError(f"{path}: time_s must hold {frames} times, one per frame")
    return index, times


def _known_joint_counts() -> tuple[int, ...]:
    """The joint counts of the known datasets' skeletons, largest first (17, 15)."""
    from starpose.datasets.registry import all_datasets

    return tuple(sorted({d.num_joints for d in all_datasets()}, reverse=True))


def _joint_names(value, joints: int, path: Path) -> tuple[str, ...] | None:
    """The stored joint names (one per joint), or None when the result has none."""
    if value is None:
        return None
    names = np.asarray(value).reshape(-1).tolist()
    if len(names) != joints or not all(isinstance(n, str) for n in names):
        raise DataError(f"{path}: joint_names must be {joints} names, one per joint of positions_3d")
    return tuple(names)


def _frame_rate(value, path: Path) -> float | None:
    """The stored ``fps``; None when absent or unknown (stored as NaN or null)."""
    if value is None:
        return None
    try:
        fps = float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise DataError(f"{path}: fps is not a number") from None
    return fps if np.isfinite(fps) and fps > 0 else None


def _float_array(value, path: Path, key: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {key} is not a numeric array") from None
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: {key} contains NaN or infinite values")
    return arr


def read_ground_truth(path, num_frames: int, num_joints: int = 17, root: int = 0) -> np.ndarray:
    """Root-relative ``(T, J, 3)`` poses from ``path`` (a result or a bare array) of ``num_frames``
    frames and ``num_joints`` joints, relative to joint ``root``."""
    poses = read_result(path, num_joints)["positions_3d"]
    if len(poses) != num_frames:
        raise DataError(f"{path}: {len(poses)} frames, but the lifted result has {num_frames}")
    return poses - poses[:, root:root + 1]
