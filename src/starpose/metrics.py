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

import numpy as np

from starpose import arrays as A
from starpose.arrays import Array

__all__ = [
    "mpjpe",
    "weighted_mpjpe",
    "p_mpjpe",
    "n_mpjpe",
    "per_joint_error",
    "frames_needed",
    "procrustes_align",
    "mean_velocity_error",
    "acceleration_error",
    "mean_acceleration",
    "pck",
    "auc",
    "AUC_THRESHOLDS",
]


# --------------------------------------------------------------------------- helpers
# Wrong shapes or axes are programmer errors (the data loaders validate user files), hence
# ValueError rather than a StarposeError.


def _check_poses(pred, target, name: str) -> None:
    if pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"{name}: expected poses of shape (..., J, 3), got {tuple(pred.shape)}")
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"{name}: prediction and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}"
        )


def _finish(per_joint: Array, reduce: bool):
    """Average ``(..., J)`` errors over everything (``reduce``) or over the joints only."""
    if A.is_torch(per_joint):
        return per_joint.mean() if reduce else per_joint.mean(dim=-1)
    return float(per_joint.mean()) if reduce else per_joint.mean(axis=-1)


def _time_axis(ndim: int, axis: int, name: str) -> int:
    """Normalise ``axis`` and make sure it is a leading axis, not the joint or coordinate axis."""
    leading = ndim - 2
    if not -ndim <= axis < ndim or (axis % ndim) >= leading:
        raise ValueError(
            f"{name}: time axis {axis} must be one of the leading axes of a (..., J, 3) array "
            f"with {ndim} dimensions"
        )
    return axis % ndim


# --------------------------------------------------------------------------- position errors


def mpjpe(pred: Array, target: Array, reduce: bool = True):
    """Mean per-joint position error: mean Euclidean distance over all poses and joints.

    pred, target: ``(..., J, 3)``. Returns a scalar, or ``(...)`` per pose with ``reduce=False``.
    """
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, "mpjpe")
    return _finish(A.norm(pred - target), reduce)


def weighted_mpjpe(pred: Array, target: Array, weights, reduce: bool = True):
    """MPJPE with a weight per joint: mean over all of ``weights[j] * ||pred - target||``.

    pred, target: ``(..., J, 3)``; weights: ``(J,)``. The weights are not normalised (as in
    MixSTE's training loss), so a uniform weight of 1 gives plain MPJPE.
    """
    pred, target, weights = A.coerce(pred, target, weights)
    _check_poses(pred, target, "weighted_mpjpe")
    if tuple(weights.shape) != (pred.shape[-2],):
        raise ValueError(
            f"weighted_mpjpe: expected {pred.shape[-2]} joint weights, got shape {tuple(weights.shape)}"
        )
    return _finish(weights * A.norm(pred - target), reduce)


def n_mpjpe(pred: Array, target: Array, reduce: bool = True):
    """Scale-normalised MPJPE: MPJPE of ``s * pred`` with the least-squares scale of each pose.

    ``s = sum_j <p_j, t_j> / sum_j <p_j, p_j>`` minimises ``||s * pred - target||^2`` per pose
    (no centring, as in VideoPose3D). pred, target: ``(..., J, 3)``.
    """
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, "n_mpjpe")
    scale = (pred * target).sum(-1).sum(-1) / (pred * pred).sum(-1).sum(-1)
    return _finish(A.norm(scale[..., None, None] * pred - target), reduce)


def p_mpjpe(pred: Array, target: Array, reduce: bool = True):
    """Procrustes-aligned MPJPE: MPJPE after the best similarity transform of each pose.

    Each predicted ``(J, 3)`` pose is rotated, uniformly scaled and translated onto its target
    by :func:`procrustes_align`. pred, target: ``(..., J, 3)``.
    """
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, "p_mpjpe")
    # The SVD runs in float64 whatever the input (numpy inputs are float64 already).
    if A.is_torch(pred):
        aligned = procrustes_align(pred.double(), target.double()).to(pred.dtype)
    else:
        aligned = procrustes_align(pred, target)
    return _finish(A.norm(aligned - target), reduce)


def procrustes_align(pred: Array, target: Array) -> Array:
    """``pred`` ``(..., J, 3)`` moved onto ``target`` by the optimal similarity transform of each
    pose (orthogonal Procrustes with uniform scale; reflections are excluded by flipping the last
    singular vector when the determinant is negative). numpy or torch, computed in the input's
    dtype; the result has the input's shape."""
    mu_t, mu_p = A.mean_keep(target, -2), A.mean_keep(pred, -2)
    t0, p0 = target - mu_t, pred - mu_p
    # Normalising both point sets first keeps the SVD well conditioned whatever the units.
    norm_t = A.clip(A.sum_keep(t0**2, (-2, -1)) ** 0.5, 1e-12, None)
    norm_p = A.clip(A.sum_keep(p0**2, (-2, -1)) ** 0.5, 1e-12, None)
    t0, p0 = t0 / norm_t, p0 / norm_p

    u, s, vt = A.svd(A.transpose(t0) @ p0)  # covariance (..., 3, 3)
    v = A.transpose(vt)
    # det(R) = -1 means the best orthogonal map is a reflection: take the best rotation instead,
    # by negating the last singular vector and value (out of place, which keeps autograd happy).
    flip = A.like(np.ones(s.shape), s)
    flip[..., -1] = 1 - 2 * (A.det(v @ A.transpose(u)) < 0)
    v = v * flip[..., None, :]
    s = s * flip
    rot = v @ A.transpose(u)  # applied on the right: pred @ rot

    scale = s.sum(-1)[..., None, None] * norm_t / norm_p
    shift = mu_t - scale * (mu_p @ rot)
    return scale * (pred @ rot) + shift


def per_joint_error(pred: Array, target: Array):
    """Mean Euclidean error of each joint over all poses: ``(..., J, 3) -> (J,)``.

    numpy: a float64 ``ndarray``; torch: a tensor in the input's dtype.
    """
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, "per_joint_error")
    errors = A.norm(pred - target).reshape(-1, pred.shape[-2])
    return errors.mean(0)


# --------------------------------------------------------------------------- temporal errors

# Order of the finite difference each temporal metric takes along the time axis.
_DIFF_ORDER = {"mean_velocity_error": 1, "acceleration_error": 2, "mean_acceleration": 2}


def frames_needed(metric) -> int:
    """The fewest frames along the time axis that ``metric`` (a function of this module) accepts:
    one more than the order of its finite differences, 1 for the position errors."""
    return _DIFF_ORDER.get(metric.__name__, 0) + 1


def mean_velocity_error(pred: Array, target: Array, axis: int = 0, reduce: bool = True):
    """MPJVE: mean Euclidean norm of the difference between predicted and true velocities.

    Velocities are first differences along the time ``axis`` (a leading axis, default the first),
    in units per frame. pred, target: ``(..., J, 3)``. With ``reduce=False`` the result has the
    leading shape with the time axis one shorter.
    """
    return _derivative_error(pred, target, axis, reduce, "mean_velocity_error")


def acceleration_error(pred: Array, target: Array, axis: int = 0, reduce: bool = True):
    """Mean Euclidean norm of the difference between predicted and true accelerations.

    Accelerations are second differences along the time ``axis`` (units per frame squared); this
    is the usual jitter-versus-ground-truth measure. pred, target: ``(..., J, 3)``.
    """
    return _derivative_error(pred, target, axis, reduce, "acceleration_error")


def mean_acceleration(pred: Array, axis: int = 0, reduce: bool = True):
    """Jitter of a prediction alone: mean Euclidean norm of its second differences along ``axis``.

    pred: ``(..., J, 3)``. A smooth sequence scores close to zero, a jittery one high.
    """
    (pred,) = A.coerce(pred)
    _check_poses(pred, pred, "mean_acceleration")
    axis = _time_axis(pred.ndim, axis, "mean_acceleration")
    order = _check_length(pred.shape[axis], "mean_acceleration")
    return _finish(A.norm(A.diff(pred, order, axis)), reduce)


def _derivative_error(pred, target, axis: int, reduce: bool, name: str):
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, name)
    axis = _time_axis(pred.ndim, axis, name)
    order = _check_length(pred.shape[axis], name)
    return _finish(A.norm(A.diff(pred, order, axis) - A.diff(target, order, axis)), reduce)


def _check_length(length: int, name: str) -> int:
    """The difference order of metric ``name``, once ``length`` frames are known to suffice."""
    # Fewer frames than order + 1 leaves nothing to average, which would silently give NaN.
    order = _DIFF_ORDER[name]
    if length <= order:
        raise ValueError(f"{name}: needs at least {order + 1} frames along the time axis, got {length}")
    return order


# --------------------------------------------------------------------------- 3D PCK and AUC
# As the MPI-INF-3DHP evaluation (``mpii_compute_3d_pck``) counts them: a (joint, frame) pair is
# correct when its Euclidean error is strictly below the threshold; with joint groups the total is
# the mean of the groups' PCKs weighted by their joint counts.

#: The AUC thresholds of the MPI-INF-3DHP evaluation: 0, 5, ..., 150 (millimetres), 31 values.
AUC_THRESHOLDS: tuple[float, ...] = tuple(float(t) for t in range(0, 151, 5))


def _joint_groups(joints, num_joints: int) -> list[list[int]]:
    """``joints`` as a list of groups: None -> one group of all joints, indices -> one group,
    ``{name: indices}`` -> its groups in order."""
    if joints is None:
        return [list(range(num_joints))]
    groups = [list(g) for g in joints.values()] if isinstance(joints, dict) else [list(joints)]
    for group in groups:
        if not group or any(not -num_joints <= j < num_joints for j in group):
            raise ValueError(f"pck: joint group {group} is empty or outside {num_joints} joints")
    return groups


def _pck_of_errors(errors, threshold: float, groups: list[list[int]]):
    """Group-weighted percentage of ``errors`` ``(..., J)`` strictly below ``threshold``."""
    total, count = 0.0, 0
    for group in groups:
        below = errors[..., group] < threshold
        fraction = below.double().mean() if A.is_torch(errors) else float(below.mean())
        total = total + len(group) * fraction
        count += len(group)
    return 100.0 * total / count


def pck(pred: Array, target: Array, threshold: float = 150.0, joints=None):
    """Percentage of correct keypoints: the share of (joint, pose) pairs whose Euclidean error is
    strictly below ``threshold`` (in the poses' units; 150 assumes millimetres), in percent.

    pred, target: ``(..., J, 3)``. ``joints``: None (all joints), a list of joint indices, or joint
    groups ``{name: indices}``, whose total weights each group's PCK by its joint count (the
    official MPI-INF-3DHP total). numpy: a float; torch: a 0-d float64 tensor.
    """
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, "pck")
    return _pck_of_errors(A.norm(pred - target), threshold, _joint_groups(joints, pred.shape[-2]))


def auc(pred: Array, target: Array, thresholds=AUC_THRESHOLDS, joints=None):
    """Area under the PCK curve: the mean of :func:`pck` over ``thresholds`` (default 0, 5, ...,
    150, in the poses' units), in percent. pred, target: ``(..., J, 3)``; ``joints`` as in
    :func:`pck`."""
    pred, target = A.coerce(pred, target)
    _check_poses(pred, target, "auc")
    thresholds = [float(t) for t in thresholds]
    if not thresholds:
        raise ValueError("auc: needs at least one threshold")
    errors = A.norm(pred - target)
    groups = _joint_groups(joints, pred.shape[-2])
    curve = [_pck_of_errors(errors, t, groups) for t in thresholds]
    return sum(curve) / len(curve)
