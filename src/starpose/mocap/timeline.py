"""A clip's frames on the input's time line, for BVH files (which have no frame numbers).

:func:`uniform_timeline` puts positions on every frame number from the first to the last (the
gaps of ``frame_index``, frames the input lacked, linearly interpolated, so the frames stay
evenly spaced in time) and, for ``"video"``, adds leading frames from frame 0 that hold the
first pose, so that BVH frame n is input frame n in any tool.
"""
from __future__ import annotations

import numpy as np

from starpose.errors import DataError

#: A result whose first frame number is larger than this is not padded (the hold would be
#: longer than the clip is likely to be useful for); the BVH then starts at the first frame.
MAX_LEAD_FRAMES = 100_000


def uniform_timeline(positions: np.ndarray, frame_index, timeline: str) -> tuple[np.ndarray, int]:
    """``positions`` (T, J, 3) on every frame number from the first to the last (gaps linearly
    interpolated), with leading frames from 0 holding the first pose for ``"video"``; returns
    them and the frame number of their first frame."""
    if frame_index is None:
        return positions, 0
    index = np.asarray(frame_index, dtype=np.int64)
    if np.any(np.diff(index) <= 0):
        raise DataError("frame_index must increase")
    grid = np.arange(index[0], index[-1] + 1)
    if len(grid) != len(index):
        flat = positions.reshape(len(positions), -1)
        filled = np.stack([np.interp(grid, index, flat[:, k]) for k in range(flat.shape[1])], 1)
        positions = filled.reshape(len(grid), *positions.shape[1:])
    first = int(index[0])
    if timeline == "video" and 0 < first <= MAX_LEAD_FRAMES:
        positions = np.concatenate([np.repeat(positions[:1], first, axis=0), positions])
        first = 0
    return positions, first
