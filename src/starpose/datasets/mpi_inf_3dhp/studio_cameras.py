"""Synthetic pinhole cameras aimed at a capture volume: the rigs of the synthetic MPI-INF-3DHP.

A camera is placed at an azimuth, a distance from the volume's centre and a height, and looks at
a point above the centre; it is an undistorted pinhole :class:`~starpose.data.cameras.Camera`
(world z up, metres; camera x right, y down, z forward). Two kinds of views:

* studio: 2048x2048 images, 3.5-4.5 m from the centre, at heights from near the floor to the
  ceiling (the 3DHP rig mixes low, chest-high and overhead cameras), focal length ~1500 px;
* outdoor: 1920x1080 images, 6-8 m away at eye height, focal length ~1100 px (a wider view in
  which the subject is smaller).
"""
from __future__ import annotations

import numpy as np

from starpose.data.cameras import Camera

#: Heights (m) of the training rig's 8 cameras, from near the floor to overhead.
RIG_HEIGHTS = (1.0, 2.5, 0.5, 1.6, 2.8, 1.2, 0.4, 2.0)


def look_at_rotation(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) whose columns are the camera's x (right), y (down), z (forward) axes in
    the world (z up): it rotates camera coordinates into the world."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1)


def rotation_to_quaternion(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix (3, 3) (Shepperd's method)."""
    trace = np.trace(R)
    if trace > 0:
        s = 2 * np.sqrt(1 + trace)
        q = [0.25 * s, (R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2 * np.sqrt(1 + R[i, i] - R[j, j] - R[k, k])
        q = np.empty(4)
        q[0] = (R[k, j] - R[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (R[j, i] + R[i, j]) / s
        q[1 + k] = (R[k, i] + R[i, k]) / s
    q = np.asarray(q, float)
    return q / np.linalg.norm(q)


def aimed_camera(camera_id: str, size: tuple[int, int], focal: float, azimuth: float,
                 distance: float, height: float, centre, aim_height: float = 0.9) -> Camera:
    """A pinhole camera ``distance`` m from ``centre`` (x, y) at ``azimuth`` (radians), ``height``
    m above the floor, looking at ``centre`` raised to ``aim_height``."""
    centre = np.asarray(centre, float)
    position = np.array([centre[0] + distance * np.cos(azimuth),
                         centre[1] + distance * np.sin(azimuth), height])
    target = np.array([centre[0], centre[1], aim_height])
    zero = np.zeros
    return Camera(id=camera_id, res_w=int(size[0]), res_h=int(size[1]), azimuth=float(azimuth),
                  focal_length=np.array([focal, focal]), center=np.array(size, float) / 2,
                  radial_distortion=zero(3), tangential_distortion=zero(2),
                  orientation=rotation_to_quaternion(look_at_rotation(position, target)),
                  translation=position)


def studio_rig(camera_ids, rng, centre) -> list[Camera]:
    """The training rig: one 2048x2048 camera per id, spread around the volume at the heights of
    :data:`RIG_HEIGHTS`."""
    start = rng.uniform(0, 2 * np.pi)
    cameras = []
    for index, camera_id in enumerate(camera_ids):
        azimuth = start + 2 * np.pi * index / len(camera_ids) + rng.uniform(-0.15, 0.15)
        cameras.append(aimed_camera(camera_id, (2048, 2048), rng.uniform(1400, 1600), azimuth,
                                    rng.uniform(3.5, 4.5), RIG_HEIGHTS[index % len(RIG_HEIGHTS)],
                                    centre))
    return cameras


def studio_view(camera_id: str, rng, centre) -> Camera:
    """One studio test camera (2048x2048), at chest height."""
    return aimed_camera(camera_id, (2048, 2048), rng.uniform(1400, 1600), rng.uniform(0, 2 * np.pi),
                        rng.uniform(3.5, 4.5), rng.uniform(1.0, 1.6), centre)


def outdoor_view(camera_id: str, rng, centre) -> Camera:
    """One outdoor test camera (1920x1080), further away with a wider view, at eye height."""
    return aimed_camera(camera_id, (1920, 1080), rng.uniform(1000, 1200), rng.uniform(0, 2 * np.pi),
                        rng.uniform(6.0, 8.0), rng.uniform(1.2, 1.8), centre)
