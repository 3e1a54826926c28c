"""Pose-error metrics for 3D human pose estimation.

Every function accepts numpy arrays or torch tensors of shape ``(..., J, 3)`` (any number of
leading dimensions: frames, batch, ...) and answers in the kind of its first argument:

* numpy: the work is done in float64; a reduced result is a Python ``float``, a per-pose result
  an ``ndarray`` of the leading shape ``(...)``;
* torch: the work stays in the input's dtype and device (so losses can back-propagate, except
  through :func:`p_mpjpe`, which solves an SVD in float64); a reduced result is a 0-d tensor.

Units are those of the input (Human3.6M poses are in metres; multiply by 1000 for millimetres).
With ``reduce=False`` the metrics return the error of each pose, averaged over its joints only.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

from starpose.errors import StarposeError

Array = Union[np.ndarray, torch.Tensor]

__all__ = [
    "mpjpe",
    "weighted_mpjpe",
    "p_mpjpe",
    "n_mpjpe",
    "mean_velocity_error",
    "acceleration_error",
    "mean_acceleration",
]


# --------------------------------------------------------------------------- helpers


def _is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def _coerce(pred, *others):
    """Convert ``others`` to the kind of ``pred`` (numpy -> float64, torch -> pred's dtype/device)."""
    if _is_torch(pred):
        if not pred.is_floating_point():
            pred = pred.double()
        return (pred,) + tuple(torch.as_tensor(o, dtype=pred.dtype, device=pred.device) for o in others)
    return (np.asarray(pred, dtype=np.float64),) + tuple(np.asarray(o, dtype=np.float64) for o in others)


def _check_poses(pred, target, name: str) -> None:
    if pred.ndim < 2 or pred.shape[-1] != 3:
        raise StarposeError(f"{name}: expected poses of shape (..., J, 3), got {tuple(pred.shape)}")
    if tuple(pred.shape) != tuple(target.shape):
        raise StarposeError(
            f"{name}: prediction and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )


def _norm(x: Array) -> Array:
    """Euclidean norm over the last axis: ``(..., 3) -> (...)``."""
    if _is_torch(x):
        return torch.linalg.vector_norm(x, dim=-1)
    return np.linalg.norm(x, axis=-1)


def _finish(per_joint: Array, reduce: bool):
    """Average ``(..., J)`` errors over everything (``reduce``) or over the joints only."""
    if _is_torch(per_joint):
        return per_joint.mean() if reduce else per_joint.mean(dim=-1)
    return float(per_joint.mean()) if reduce else per_joint.mean(axis=-1)


def _time_axis(ndim: int, axis: int, name: str) -> int:
    """Normalise ``axis`` and make sure it is a leading axis, not the joint or coordinate axis."""
    leading = ndim - 2
    if not -ndim <= axis < ndim or (axis % ndim) >= leading:
        raise StarposeError(
            f"{name}: time axis {axis} must be one of the leading axes of a (..., J, 3) array "
            f"with {ndim} dimensions"
        )
    return axis % ndim


def _diff(x: Array, axis: int, order: int) -> Array:
    if _is_torch(x):
        return torch.diff(x, n=order, dim=axis)
    return np.diff(x, n=order, axis=axis)


# --------------------------------------------------------------------------- position errors


def mpjpe(pred: Array, target: Array, reduce: bool = True):
    """Mean per-joint position error: mean Euclidean distance over all poses and joints.

    pred, target: ``(..., J, 3)``. Returns a scalar, or ``(...)`` per pose with ``reduce=False``.
    """
    pred, target = _coerce(pred, target)
    _check_poses(pred, target, "mpjpe")
    return _finish(_norm(pred - target), reduce)


def weighted_mpjpe(pred: Array, target: Array, weights, reduce: bool = True):
    """MPJPE with a weight per joint: mean over all of ``weights[j] * ||pred - target||``.

    pred, target: ``(..., J, 3)``; weights: ``(J,)``. The weights are not normalised (as in
    MixSTE's training loss), so a uniform weight of 1 gives plain MPJPE.
    """
    pred, target, weights = _coerce(pred, target, weights)
    _check_poses(pred, target, "weighted_mpjpe")
    if tuple(weights.shape) != (pred.shape[-2],):
        raise StarposeError(
            f"weighted_mpjpe: expected {pred.shape[-2]} joint weights, got shape {tuple(weights.shape)}"
        )
    return _finish(weights * _norm(pred - target), reduce)


def n_mpjpe(pred: Array, target: Array, reduce: bool = True):
    """Scale-normalised MPJPE: MPJPE of ``s * pred`` with the least-squares scale of each pose.

    ``s = sum_j <p_j, t_j> / sum_j <p_j, p_j>`` minimises ``||s * pred - target||^2`` per pose
    (no centring, as in VideoPose3D). pred, target: ``(..., J, 3)``.
    """
    pred, target = _coerce(pred, target)
    _check_poses(pred, target, "n_mpjpe")
    scale = (pred * target).sum(-1).sum(-1) / (pred * pred).sum(-1).sum(-1)
    return _finish(_norm(scale[..., None, None] * pred - target), reduce)


def p_mpjpe(pred: Array, target: Array, reduce: bool = True):
    """Procrustes-aligned MPJPE: MPJPE after the best similarity transform of each pose.

    Each predicted ``(J, 3)`` pose is rotated, uniformly scaled and translated onto its target
    (orthogonal Procrustes; reflections are excluded by flipping the last singular vector when
    the determinant is negative). pred, target: ``(..., J, 3)``.
    """
    pred, target = _coerce(pred, target)
    _check_poses(pred, target, "p_mpjpe")
    if _is_torch(pred):
        aligned = _procrustes_align_torch(pred.double(), target.double()).to(pred.dtype)
    else:
        aligned = _procrustes_align_numpy(pred, target)
    return _finish(_norm(aligned - target), reduce)


def _procrustes_align_numpy(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``pred`` ``(..., J, 3)`` moved onto ``target`` by the optimal similarity transform."""
    mu_t = target.mean(axis=-2, keepdims=True)
    mu_p = pred.mean(axis=-2, keepdims=True)
    t0, p0 = target - mu_t, pred - mu_p
    # Normalising both point sets first keeps the SVD well conditioned whatever the units.
    norm_t = np.sqrt((t0**2).sum(axis=(-2, -1), keepdims=True))
    norm_p = np.sqrt((p0**2).sum(axis=(-2, -1), keepdims=True))
    norm_t, norm_p = np.maximum(norm_t, 1e-12), np.maximum(norm_p, 1e-12)
    t0, p0 = t0 / norm_t, p0 / norm_p

    u, s, vt = np.linalg.svd(np.swapaxes(t0, -1, -2) @ p0)  # covariance (..., 3, 3)
    v = np.swapaxes(vt, -1, -2)
    sign = np.where(np.linalg.det(v @ np.swapaxes(u, -1, -2)) < 0, -1.0, 1.0)
    # det(R) = -1 means the best orthogonal map is a reflection: take the best rotation instead.
    v[..., :, -1] *= sign[..., None]
    s[..., -1] *= sign
    rot = v @ np.swapaxes(u, -1, -2)  # applied on the right: pred @ rot

    scale = s.sum(axis=-1)[..., None, None] * norm_t / norm_p
    shift = mu_t - scale * (mu_p @ rot)
    return scale * (pred @ rot) + shift


def _procrustes_align_torch(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`_procrustes_align_numpy` (same algorithm, float64 input expected)."""
    mu_t = target.mean(dim=-2, keepdim=True)
    mu_p = pred.mean(dim=-2, keepdim=True)
    t0, p0 = target - mu_t, pred - mu_p
    norm_t = t0.square().sum(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
    norm_p = p0.square().sum(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
    t0, p0 = t0 / norm_t, p0 / norm_p

    u, s, vt = torch.linalg.svd(t0.transpose(-1, -2) @ p0)
    v = vt.transpose(-1, -2)
    det = torch.linalg.det(v @ u.transpose(-1, -2))
    sign = torch.where(det < 0, -1.0, 1.0).to(s.dtype)
    # Out-of-place sign flip of the last column / singular value (keeps autograd happy).
    flip = torch.ones_like(s)
    flip[..., -1] = sign
    v = v * flip[..., None, :]
    s = s * flip
    rot = v @ u.transpose(-1, -2)

    scale = s.sum(dim=-1)[..., None, None] * norm_t / norm_p
    shift = mu_t - scale * (mu_p @ rot)
    return scale * (pred @ rot) + shift


# --------------------------------------------------------------------------- temporal errors


def mean_velocity_error(pred: Array, target: Array, axis: int = 0, reduce: bool = True):
    """MPJVE: mean Euclidean norm of the difference between predicted and true velocities.

    Velocities are first differences along the time ``axis`` (a leading axis, default the first),
    in units per frame. pred, target: ``(..., J, 3)``. With ``reduce=False`` the result has the
    leading shape with the time axis one shorter.
    """
    return _derivative_error(pred, target, axis, 1, reduce, "mean_velocity_error")


def acceleration_error(pred: Array, target: Array, axis: int = 0, reduce: bool = True):
    """Mean Euclidean norm of the difference between predicted and true accelerations.

    Accelerations are second differences along the time ``axis`` (units per frame squared); this
    is the usual jitter-versus-ground-truth measure. pred, target: ``(..., J, 3)``.
    """
    return _derivative_error(pred, target, axis, 2, reduce, "acceleration_error")


def mean_acceleration(pred: Array, axis: int = 0, reduce: bool = True):
    """Jitter of a prediction alone: mean Euclidean norm of its second differences along ``axis``.

    pred: ``(..., J, 3)``. A smooth sequence scores close to zero, a jittery one high.
    """
    (pred,) = _coerce(pred)
    _check_poses(pred, pred, "mean_acceleration")
    axis = _time_axis(pred.ndim, axis, "mean_acceleration")
    _check_length(pred.shape[axis], 2, "mean_acceleration")
    return _finish(_norm(_diff(pred, axis, 2)), reduce)


def _derivative_error(pred, target, axis: int, order: int, reduce: bool, name: str):
    pred, target = _coerce(pred, target)
    _check_poses(pred, target, name)
    axis = _time_axis(pred.ndim, axis, name)
    _check_length(pred.shape[axis], order, name)
    return _finish(_norm(_diff(pred, axis, order) - _diff(target, axis, order)), reduce)


def _check_length(length: int, order: int, name: str) -> None:
    # Fewer frames than order + 1 leaves nothing to average, which would silently give NaN.
    if length <= order:
        raise StarposeError(f"{name}: needs at least {order + 1} frames along the time axis, got {length}")
