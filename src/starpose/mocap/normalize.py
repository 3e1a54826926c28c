"""From retargeted joints in the file's units and axes to a Human3.6M take.

Units are detected from the stature (the unit that brings it closest to 1.7 m) unless given;
the up axis is turned into Human3.6M's world z; the floor is put an ankle height below the
lowest ankle of the clip; the root's walk is centred in the capture volume; time is resampled
to the wanted rate; the 17 joints are spread into the 32-joint layout of the published files.
All functions take and return arrays ``(T, J, 3)``.
"""
from __future__ import annotations

import numpy as np

from starpose.data.skeleton import H36M_32, JOINTS_KEPT_FOR_17, JOINTS_REMOVED_FOR_17
from starpose.data.synth.motion import VOLUME_CENTRE
from starpose.errors import DataError

#: Metres per file unit. ``cmu`` is the CMU database's ASF unit (1/0.45 inch), in which its
#: BVH conversions are written (a person is about 30 units tall).
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
TYPICAL_STATURE_M = 1.7
#: Ankle height over the floor as a fraction of the stature (Winter).
ANKLE_FRACTION = 0.039
_ANKLES = (3, 6)


def detect_unit(stature: float) -> str:
    """The unit of :data:`UNITS` that makes ``stature`` (file units) closest to 1.7 m."""
    if not stature > 0:
        raise ValueError(f"stature must be positive, got {stature}")
    return min(UNITS, key=lambda u: abs(np.log(stature * UNITS[u] / TYPICAL_STATURE_M)))


def to_world(joints: np.ndarray, scale: float, up: str) -> np.ndarray:
    """File units and axes -> metres, z up (a proper rotation: y-up (x, y, z) -> (x, -z, y))."""
    if up not in ("y", "z"):
        raise ValueError(f"up must be 'y' or 'z', got {up!r}")
    metres = joints * scale
    if up == "z":
        return metres
    return np.stack([metres[..., 0], -metres[..., 2], metres[..., 1]], axis=-1)


def place_on_floor(world: np.ndarray, stature_m: float) -> np.ndarray:
    """Shift vertically so the lowest ankle of the clip is an ankle height above z = 0, and
    horizontally so the centre of the root's path is the centre of the capture volume."""
    out = world.copy()
    out[..., 2] -= world[:, _ANKLES, 2].min() - ANKLE_FRACTION * stature_m
    root = world[:, 0, :2]
    centre = (root.min(0) + root.max(0)) / 2
    out[..., :2] += np.asarray(VOLUME_CENTRE) - centre
    return out


def resample(joints: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linear interpolation in time: frame k of the output is at time k / fps_out."""
    if not (fps_in > 0 and fps_out > 0):
        raise ValueError("frame rates must be positive")
    duration = (len(joints) - 1) / fps_in
    count = int(np.floor(duration * fps_out + 1e-9)) + 1
    position = np.arange(count) * (fps_in / fps_out)
    lower = np.minimum(np.floor(position).astype(np.int64), len(joints) - 1)
    upper = np.minimum(lower + 1, len(joints) - 1)
    weight = (position - lower)[:, None, None]
    return joints[lower] * (1 - weight) + joints[upper] * weight


def to_32_joints(joints_17: np.ndarray) -> np.ndarray:
    """(T, 17, 3) -> (T, 32, 3): the 15 unused joints copy their parents, as in the real files."""
    out = np.zeros((len(joints_17), 32, 3), dtype=joints_17.dtype)
    out[:, list(JOINTS_KEPT_FOR_17)] = joints_17
    for joint in sorted(JOINTS_REMOVED_FOR_17):  # parents precede children
        out[:, joint] = out[:, H36M_32.parents[joint]]
    return out


def check_length(frames: int, minimum: int, path: str, fps: float) -> None:
    if frames < minimum:
        raise DataError(f"{path}: only {frames} frames at {fps:g} fps, fewer than the "
                        f"{minimum} frames of the smallest model window")
