"""The MixSTE training loss.

``total = wmpjpe + tc_weight * tc + velocity_weight * mpjve`` with

* ``wmpjpe``: MPJPE weighted per joint (extremities count more, see :data:`H36M_JOINT_WEIGHTS`);
* ``tc``: temporal consistency, the weighted mean squared frame-to-frame motion of the
  prediction (penalises jitter);
* ``mpjve``: mean per-joint velocity error against the ground truth.

All functions take torch tensors of shape ``(B, F, J, 3)`` (batch, frames, joints, xyz).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from starpose.datasets.h36m.layout import H36M_JOINT_WEIGHTS
from starpose.metrics import mean_velocity_error, weighted_mpjpe

__all__ = [
    "H36M_JOINT_WEIGHTS",
    "LossTerms",
    "weighted_mpjpe_loss",
    "temporal_consistency",
    "mpjve",
    "mixste_loss",
]



@dataclass(frozen=True)
class LossTerms:
    """The total loss (to back-propagate) and its parts (0-d tensors)."""

    total: torch.Tensor
    wmpjpe: torch.Tensor
    tc: torch.Tensor
    mpjve: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """Detached Python floats, for logging."""
        return {name: float(getattr(self, name).detach()) for name in ("total", "wmpjpe", "tc", "mpjve")}


# Shape and weight mismatches are programmer errors (the models produce these tensors): ValueError.
def _weights_like(weights: Sequence[float] | torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(weights, dtype=pred.dtype, device=pred.device)
    if w.shape != (pred.shape[-2],):
        raise ValueError(f"expected {pred.shape[-2]} joint weights, got shape {tuple(w.shape)}")
    return w


def _check_sequences(pred: torch.Tensor, name: str) -> None:
    if pred.ndim != 4 or pred.shape[-1] != 3:
        raise ValueError(f"{name}: expected a tensor of shape (B, F, J, 3), got {tuple(pred.shape)}")


def weighted_mpjpe_loss(pred: torch.Tensor, target: torch.Tensor, weights=H36M_JOINT_WEIGHTS) -> torch.Tensor:
    """Mean over batch, frames and joints of ``weights[j] * ||pred - target||``; ``(B, F, J, 3)``."""
    _check_sequences(pred, "weighted_mpjpe_loss")
    return weighted_mpjpe(pred, target, _weights_like(weights, pred))


def temporal_consistency(pred: torch.Tensor, weights=H36M_JOINT_WEIGHTS) -> torch.Tensor:
    """Mean over ``(B, F-1, J, 3)`` of ``weights[j] * (pred[:, 1:] - pred[:, :-1])**2``.

    pred: ``(B, F, J, 3)``. Zero when there is a single frame (nothing moves).
    """
    _check_sequences(pred, "temporal_consistency")
    if pred.shape[1] < 2:
        return pred.sum() * 0  # keeps the graph (and device/dtype) without producing NaN
    motion = (pred[:, 1:] - pred[:, :-1]).square()
    return (motion * _weights_like(weights, pred)[:, None]).mean()


def mpjve(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance between predicted and true frame-to-frame velocities.

    pred, target: ``(B, F, J, 3)``; differences are taken along the frame axis. Zero when F = 1.
    """
    _check_sequences(pred, "mpjve")
    if pred.shape[1] < 2:
        return pred.sum() * 0
    return mean_velocity_error(pred, target, axis=1)


def mixste_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weights=H36M_JOINT_WEIGHTS,
    tc_weight: float = 0.5,
    velocity_weight: float = 2.0,
) -> LossTerms:
    """MixSTE's loss: ``wmpjpe + tc_weight * tc + velocity_weight * mpjve``.

    pred, target: ``(B, F, J, 3)`` (root-relative poses, in metres for Human3.6M);
    weights: ``(J,)`` joint weights used by both the position and the consistency term.
    """
    _check_sequences(pred, "mixste_loss")
    w = _weights_like(weights, pred)
    terms = {
        "wmpjpe": weighted_mpjpe_loss(pred, target, w),
        "tc": temporal_consistency(pred, w),
        "mpjve": mpjve(pred, target),
    }
    total = terms["wmpjpe"] + tc_weight * terms["tc"] + velocity_weight * terms["mpjve"]
    return LossTerms(total=total, **terms)
