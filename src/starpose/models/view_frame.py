"""The view frame of a window of camera rays: the camera turned to look at the person.

A model whose ``input_norm`` is ``"view"`` (:mod:`starpose.data.model_input`) is fed camera rays
``(u - c) / f`` like a ``"rays"`` model, and lifts in a virtual camera at the same place whose
optical axis goes through the person: :func:`view_rotation` finds that camera for each window
(its z axis the mean over the window's frames of the ray through the keypoints' box centre, the
smallest rotation that takes the real camera's z axis there), :func:`to_view` re-projects the
rays into it, and the model's output is turned back to the real camera's frame (:func:`to_camera`).
A person at the edge of a wide picture is then lifted as one in its middle, seen from the same
place: how the camera turns to the person (up to ~40 degrees at the edges of a phone's picture)
is exact geometry instead of something the network must learn from where the keypoints lie.

All functions take torch tensors; rotations ``R`` ``(B, 3, 3)`` map view-frame coordinates to
camera coordinates (``X_cam = R @ X_view``).
"""
from __future__ import annotations

import torch


def view_rotation(rays: torch.Tensor) -> torch.Tensor:
    """``(B, F, J, 2)`` rays -> ``(B, 3, 3)``: the smallest rotation taking the camera's optical
    axis ``(0, 0, 1)`` to the mean (over frames) unit ray through the keypoints' box centre."""
    centre = (rays.amax(dim=2) + rays.amin(dim=2)) / 2  # (B, F, 2)
    ray = torch.cat([centre, torch.ones_like(centre[..., :1])], dim=-1)
    ray = ray / torch.linalg.vector_norm(ray, dim=-1, keepdim=True)
    d = ray.mean(dim=1)
    d = d / torch.linalg.vector_norm(d, dim=-1, keepdim=True)
    x, y, z = d.unbind(-1)
    k = 1 / (1 + z)  # z > 0: the person is in front of the camera
    rows = [torch.stack([1 - x * x * k, -x * y * k, x], -1),
            torch.stack([-x * y * k, 1 - y * y * k, y], -1),
            torch.stack([-x, -y, z], -1)]
    return torch.stack(rows, dim=-2)


def to_view(rays: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Rays ``(B, F, J, 2)`` of the real camera -> rays of the view camera ``rotation`` ``(B, 3, 3)``."""
    points = torch.cat([rays, torch.ones_like(rays[..., :1])], dim=-1)
    turned = points @ rotation[:, None]  # row vectors: (R^T p)^T = p^T R
    return turned[..., :2] / turned[..., 2:]


def to_camera(poses: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Poses ``(B, F, J, 3)`` in the view frame -> the real camera's frame."""
    return poses @ rotation.transpose(1, 2)[:, None]


__all__ = ["view_rotation", "to_view", "to_camera"]
