"""The floor under a clip, from where the feet rest, and the gravity-aligned world on it.

Up, first guess: the direction from the ankles' midpoint to the thorax, averaged over the
clip (people stand upright most of the time). The floor: a plane through the ankle positions of
the frames where the lower ankle is at its lowest (within :data:`LOW_BAND` of the clip's 10th
percentile of the lower ankle's height), the normal being the smallest-variance direction of
those points regularised towards the first guess (:data:`PRIOR_M` of spread along the guess):
where the feet rest at places spread over the floor (a walk), the plane follows them; where they
do not (standing, a straight line), the body's up fills the missing direction. The plane is
then moved down by the ankle height (:func:`starpose.world.body.ankle_height`), so the floor is
where the soles are.

The world: y up along the floor's normal, the floor at y = 0, z pointing back towards the
camera (the camera's viewing direction projected on the floor is -z, as in the BVH files
starpose writes, so a person facing the camera faces +z), x = y cross z; the origin under the
root at the first frame.
"""
from __future__ import annotations

import numpy as np

from starpose.world.body import ANKLES, ankle_height

#: Lower-ankle heights within this much (m) of the clip's low percentile count as resting.
LOW_BAND = 0.05
#: Regularisation of the floor's normal towards the body's up: the spread (m) that a direction
#: needs among the resting ankle points before it overrules the body.
PRIOR_M = 0.15


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def body_up(joints: np.ndarray) -> np.ndarray:
    """(3,) the mean direction from the ankles' midpoint to the thorax (joint 8)."""
    direction = joints[:, 8] - joints[:, list(ANKLES)].mean(1)
    return _unit(np.mean(direction / np.linalg.norm(direction, axis=-1, keepdims=True), 0))


def resting_points(joints: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(N, 3) the lower ankle's positions in the frames where it is at its lowest."""
    ankles = joints[:, list(ANKLES)]
    heights = ankles @ up
    lower = np.argmin(heights, axis=1)
    low = heights[np.arange(len(joints)), lower]
    keep = low <= np.percentile(low, 10) + LOW_BAND
    return ankles[np.arange(len(joints)), lower][keep]


def fit_floor(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The floor of ``joints`` ``(T, 17, 3)`` (any coordinates, metres): ``(normal, point)``,
    the unit normal pointing up (towards the body) and a point on the floor."""
    up = body_up(joints)
    points = resting_points(joints, up)
    centre = points.mean(0)
    spread = np.cov((points - centre).T, bias=True) if len(points) > 1 else np.zeros((3, 3))
    matrix = spread + PRIOR_M ** 2 * (np.eye(3) - np.outer(up, up))
    values, vectors = np.linalg.eigh(matrix)
    normal = vectors[:, 0]
    normal = normal if normal @ up >= 0 else -normal
    return normal, centre - ankle_height(joints) * normal


def world_frame(normal: np.ndarray, point: np.ndarray, root0: np.ndarray,
                forward=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """``(R, t)`` with ``world = camera @ R.T + t``: y along ``normal``, the floor at y = 0,
    -z along the camera's ``forward`` projected on the floor, the origin under ``root0``."""
    y = _unit(normal)
    forward = np.asarray(forward, np.float64)
    along = forward - (forward @ y) * y
    if np.linalg.norm(along) < 1e-6:  # looking straight down: any heading
        along = np.cross(y, [1.0, 0.0, 0.0])
    z = -_unit(along)
    x = np.cross(y, z)
    rotation = np.stack([x, y, z])
    t = -rotation @ point
    origin = rotation @ root0 + t
    t -= np.array([origin[0], 0.0, origin[2]])
    return rotation, t


def to_world(joints_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-coordinate joints ``(T, 17, 3)`` -> ``(joints_world, R, t)`` on the fitted floor."""
    normal, point = fit_floor(joints_cam)
    rotation, t = world_frame(normal, point, joints_cam[0, 0])
    return joints_cam @ rotation.T + t, rotation, t
