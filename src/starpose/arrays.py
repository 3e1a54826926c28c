"""numpy/torch dispatch: the few array operations whose spelling differs between the two.

The geometry (:mod:`starpose.data.cameras`) and the metrics (:mod:`starpose.metrics`) are written
once against these helpers, so every formula exists once and works on numpy arrays (CPU, in
float64 where the caller asks for it) and on torch tensors (any device, differentiable). Each
helper answers in the kind of its (first) array argument. Axes are numpy's negative indices.
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]

__all__ = [
    "Array", "is_torch", "like", "coerce", "norm", "cross", "concat", "clip", "diff",
    "sum_keep", "mean_keep", "transpose", "svd", "det",
]


def is_torch(x) -> bool:
    return isinstance(x, torch.Tensor)


def like(value, ref: Array) -> Array:
    """``value`` (array-like) in ``ref``'s library: torch -> ``ref``'s dtype and device; numpy ->
    ``ref``'s dtype when it is a float type, else float64."""
    if is_torch(ref):
        return torch.as_tensor(np.asarray(value), dtype=ref.dtype, device=ref.device)
    return np.asarray(value, dtype=ref.dtype if ref.dtype.kind == "f" else np.float64)


def coerce(first, *others) -> tuple:
    """``first`` and ``others`` as floats of ``first``'s kind.

    torch: ``first`` keeps its dtype and device (an integer tensor becomes float64) and the others
    are converted to them; anything else: float64 numpy arrays.
    """
    if is_torch(first):
        if not first.is_floating_point():
            first = first.double()
        return (first,) + tuple(torch.as_tensor(o, dtype=first.dtype, device=first.device) for o in others)
    return (np.asarray(first, dtype=np.float64),) + tuple(np.asarray(o, dtype=np.float64) for o in others)


def norm(x: Array) -> Array:
    """Euclidean norm over the last axis: ``(..., C) -> (...)``."""
    if is_torch(x):
        return torch.linalg.vector_norm(x, dim=-1)
    return np.linalg.norm(x, axis=-1)


def cross(a: Array, b: Array) -> Array:
    """Cross product over the last axis ``(..., 3)``, broadcasting the leading axes."""
    if is_torch(a):
        a, b = torch.broadcast_tensors(a, b)
        return torch.linalg.cross(a, b, dim=-1)
    return np.cross(a, b)


def concat(parts: list) -> Array:
    """Concatenation along the last axis."""
    return torch.cat(parts, dim=-1) if is_torch(parts[0]) else np.concatenate(parts, axis=-1)


def clip(x: Array, lo: float, hi: float) -> Array:
    return x.clamp(lo, hi) if is_torch(x) else np.clip(x, lo, hi)


def diff(x: Array, order: int, axis: int) -> Array:
    """``order``-th finite difference along ``axis``."""
    if is_torch(x):
        return torch.diff(x, n=order, dim=axis)
    return np.diff(x, n=order, axis=axis)


def sum_keep(x: Array, axis) -> Array:
    """Sum over ``axis`` (an int or a tuple), keeping the summed axes with size 1."""
    return x.sum(dim=axis, keepdim=True) if is_torch(x) else x.sum(axis=axis, keepdims=True)


def mean_keep(x: Array, axis) -> Array:
    """Mean over ``axis`` (an int or a tuple), keeping the averaged axes with size 1."""
    return x.mean(dim=axis, keepdim=True) if is_torch(x) else x.mean(axis=axis, keepdims=True)


def transpose(x: Array) -> Array:
    """Swap the last two axes (the matrix transpose of a stack of matrices)."""
    return x.transpose(-1, -2) if is_torch(x) else np.swapaxes(x, -1, -2)


def svd(x: Array) -> tuple:
    """``(U, S, Vh)`` of a stack of matrices ``(..., M, N)``."""
    return torch.linalg.svd(x) if is_torch(x) else np.linalg.svd(x)


def det(x: Array) -> Array:
    """Determinants of a stack of square matrices ``(..., N, N) -> (...)``."""
    return torch.linalg.det(x) if is_torch(x) else np.linalg.det(x)
