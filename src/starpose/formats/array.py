"""Reader for a plain keypoint array in the lifting model's joint order (format ``h36m``).

A ``.npy``, or an ``.npz`` holding one array or a ``keypoints`` array, of shape ``(T, J, 2)``
(pixels) or ``(T, J, 3)`` (pixels and confidence), its joints in the order of the model's dataset:
the Human3.6M 17 joints by default, HumanEva-I's 15 for a HumanEva-I model.
:func:`starpose.formats.layout.to_layout` checks ``J`` against the model. Pickled arrays are refused.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.npz import load_array
from starpose.errors import DataError
from starpose.formats.keypoints import Keypoints2D, make_sequence


def read_h36m_array(path) -> list[Keypoints2D]:
    """Read ``(T, J, 2|3)`` pixel keypoints in the model's joint order; the third channel is
    confidence. The joints stay unnamed (the model's dataset names them)."""
    path = Path(path)
    arr = load_array(path, "keypoints")
    if arr.ndim != 3 or arr.shape[1] == 0 or arr.shape[2] not in (2, 3):
        raise DataError(
            f"{path}: expected an array of shape (T, 17, 2) or (T, 17, 3) in Human3.6M joint "
            f"order (or (T, J, 2|3) in the order of the model's dataset), got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    conf = np.clip(np.nan_to_num(arr[..., 2]), 0, 1) if arr.shape[2] == 3 else np.ones(arr.shape[:2])
    return [make_sequence(arr[..., :2], conf, "h36m", path.stem, path, joint_names=())]
