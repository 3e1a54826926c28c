"""Scores of world motion against ground truth: root error, W-MPJPE and foot sliding.

* Root error: the mean distance (metres) between estimated and true root positions in camera
  coordinates, and the mean of that distance divided by the true root's distance from the
  camera (a fraction: 0.05 is 5 cm per metre of distance).
* W-MPJPE: the mean joint distance (metres) between estimated and true world joints after the
  rigid motion (rotation and translation, no scale) that best aligns the first two frames'
  joints, applied to all frames: what drifts after the start is counted, the choice of world
  frame is not.
* Foot sliding: :func:`starpose.world.foot_sliding.foot_sliding` over given contacts (for
  evaluation, the contacts of the ground truth, so estimates before and after locking are
  measured over the same frames).
"""
from __future__ import annotations

import numpy as np


def root_errors(estimate: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """``(mean error m, mean error / distance)`` of root positions ``(T, 3)``."""
    error = np.linalg.norm(estimate - truth, axis=-1)
    return float(error.mean()), float((error / np.linalg.norm(truth, axis=-1)).mean())


def rigid_alignment(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(R, t)`` minimising ``|source @ R.T + t - target|`` over points ``(N, 3)`` (Kabsch,
    a proper rotation)."""
    mu_s, mu_t = source.mean(0), target.mean(0)
    u, _, vt = np.linalg.svd((source - mu_s).T @ (target - mu_t))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rotation, mu_t - mu_s @ rotation.T


def w_mpjpe(estimate: np.ndarray, truth: np.ndarray, align_frames: int = 2) -> float:
    """Mean joint error (m) of world joints ``(T, J, 3)`` after aligning the first
    ``align_frames`` frames rigidly."""
    head = slice(0, align_frames)
    rotation, t = rigid_alignment(estimate[head].reshape(-1, 3), truth[head].reshape(-1, 3))
    aligned = estimate @ rotation.T + t
    return float(np.linalg.norm(aligned - truth, axis=-1).mean())
