"""The root's position in camera coordinates from the 2D keypoints and the lifted 3D pose.

The lifted pose is root-relative but metric: its size is a human body's. Placed at the
translation ``t``, joint j projects to ``((X_j + t_x) / (Z_j + t_z), (Y_j + t_y) / (Z_j + t_z))``
in normalised image coordinates (:func:`~starpose.world.intrinsics.to_rays`). Asking that this
be the detected ray ``(x_j, y_j)`` gives two equations per joint, linear in ``t``::

    t_x - x_j t_z = x_j Z_j - X_j
    t_y - y_j t_z = y_j Z_j - Y_j

solved per frame by weighted least squares (weights: the detector's confidences, if any). The
depth comes out as body size over image size, with the perspective of every joint.
"""
from __future__ import annotations

import numpy as np

from starpose.world.intrinsics import to_rays


def root_from_pose(positions_3d: np.ndarray, keypoints_2d: np.ndarray, intrinsics: np.ndarray,
                   weights: np.ndarray | None = None) -> np.ndarray:
    """``(T, 3)`` root positions (camera coordinates, metres) for root-relative poses
    ``positions_3d`` ``(T, J, 3)`` seen at pixels ``keypoints_2d`` ``(T, J, 2)`` through
    ``intrinsics`` ``[fx, fy, cx, cy]``; ``weights`` ``(T, J)`` (default all 1)."""
    rays = to_rays(np.asarray(keypoints_2d, np.float64), intrinsics)
    p = np.asarray(positions_3d, np.float64)
    frames, joints = p.shape[:2]
    w = np.ones((frames, joints)) if weights is None else np.clip(weights, 1e-3, None)
    # A: (T, 2J, 3), b: (T, 2J) for the unknown (t_x, t_y, t_z).
    a = np.zeros((frames, 2 * joints, 3))
    a[:, :joints, 0] = 1
    a[:, joints:, 1] = 1
    a[:, :joints, 2] = -rays[..., 0]
    a[:, joints:, 2] = -rays[..., 1]
    b = np.concatenate([rays[..., 0] * p[..., 2] - p[..., 0],
                        rays[..., 1] * p[..., 2] - p[..., 1]], axis=1)
    ww = np.concatenate([w, w], axis=1)[..., None]
    normal = np.einsum("tki,tkj->tij", a * ww, a)
    rhs = np.einsum("tki,tk->ti", a * ww, b)
    return np.linalg.solve(normal, rhs[..., None])[..., 0]


def smooth_trajectory(root: np.ndarray, frames: int) -> np.ndarray:
    """``root`` ``(T, 3)`` averaged over a centred window of ``frames`` frames (shrunk at the
    ends); ``frames`` <= 1 returns it unchanged."""
    if frames <= 1 or len(root) < 2:
        return root.copy()
    half = frames // 2
    padded = np.concatenate([root[:1].repeat(half, 0), root, root[-1:].repeat(half, 0)])
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(3)], 1)
