"""World motion of a lifted clip: the root trajectory, the floor, contacts and foot locking.

:func:`world_motion` takes the lifted root-relative poses, the 2D keypoints and the camera
intrinsics, and returns the fields a result carries:

* ``root_cam`` ``(T, 3)``: the root in camera coordinates (x right, y down, z forward, metres),
  from a trajectory model when its estimate is given, else :func:`~starpose.world.root_geometric.root_from_pose`
  (smoothed over :data:`SMOOTH_FRAMES` frames);
* ``joints_cam`` ``(T, J, 3)``: the poses placed at the root;
* ``joints_world`` ``(T, J, 3)``: gravity-aligned (y up), the floor at y = 0
  (:mod:`~starpose.world.floor`), feet in contact locked (:mod:`~starpose.world.foot_sliding`)
  unless switched off;
* ``contacts`` ``(T, 2)`` bool, right and left foot (:mod:`~starpose.world.contacts`);
* ``intrinsics`` ``(4,)`` ``[fx, fy, cx, cy]``; ``world_from_camera`` ``(4, 4)``;
* ``foot_sliding_m`` ``(2,)``: sliding (m per frame in contact) before and after locking.
"""
from __future__ import annotations

import numpy as np

from starpose.world.contacts import foot_contacts
from starpose.world.floor import to_world
from starpose.world.foot_sliding import DRIFT_SECONDS, foot_sliding, remove_sliding
from starpose.world.root_geometric import root_from_pose, smooth_trajectory

SMOOTH_FRAMES = 5
WORLD_KEYS = ("joints_cam", "root_cam", "joints_world", "contacts", "intrinsics",
              "world_from_camera", "foot_sliding_m")


def world_motion(positions_3d: np.ndarray, keypoints_2d: np.ndarray, intrinsics: np.ndarray,
                 fps: float, *, root_cam: np.ndarray | None = None, weights=None,
                 lock_feet: bool = True, root: int = 0) -> dict:
    """The world-motion fields (see the module docstring) of root-relative ``positions_3d``
    ``(T, 17, 3)`` (camera coordinates, metres) seen at ``keypoints_2d`` ``(T, 17, 2)`` pixels
    at ``fps`` frames per second; ``weights`` ``(T, 17)`` the 2D confidences."""
    poses = np.asarray(positions_3d, np.float64)
    poses = poses - poses[:, root:root + 1]
    if root_cam is None:
        root_cam = smooth_trajectory(root_from_pose(poses, keypoints_2d, intrinsics, weights),
                                     SMOOTH_FRAMES)
    joints_cam = poses + root_cam[:, None]
    world, rotation, t = to_world(joints_cam)
    contacts = foot_contacts(world, fps)
    before = foot_sliding(world, contacts)
    if lock_feet:
        world = remove_sliding(world, contacts, int(round(DRIFT_SECONDS * fps)) | 1)
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, t
    return {"joints_cam": joints_cam.astype(np.float32), "root_cam": root_cam.astype(np.float32),
            "joints_world": world.astype(np.float32), "contacts": contacts,
            "intrinsics": np.asarray(intrinsics, np.float64),
            "world_from_camera": transform,
            "foot_sliding_m": np.array([before, foot_sliding(world, contacts)])}
