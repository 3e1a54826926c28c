"""Horizontal flipping of poses: the test-time and training-time augmentation of the lifting
literature.

Mirroring the image negates the horizontal coordinate (channel 0, both for normalised 2D
keypoints and camera-frame 3D points) and turns the left limbs into right ones, so the left and
right joints are swapped as well. Flipping twice gives back the input.
"""
from __future__ import annotations

from starpose.data.skeleton import H36M_17, Skeleton


def flip_pose(x, skeleton: Skeleton = H36M_17):
    """Mirror poses ``(..., J, C)`` (numpy or torch): negate channel 0, swap left/right joints.

    Returns a new array/tensor of the same type, shape and dtype.
    """
    perm = skeleton.flip_permutation
    if x.shape[-2] != len(perm):
        raise ValueError(f"flip_pose: expected {len(perm)} joints, got shape {tuple(x.shape)}")
    out = x[..., perm, :]  # fancy indexing copies, so the in-place negation leaves x untouched
    out[..., 0] *= -1
    return out
