"""What every output writer shares: the frame count check."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class BlockWriter:
    """Write a result of ``num_frames`` frames to ``path`` block by block.

    ``meta`` is the result dict of :func:`starpose.lift.lift_keypoints` without ``positions_3d``
    (``frame_index`` ``(T,)``, when present, numbers the frames). Call :meth:`write` with
    consecutive ``(n, J, 3)`` blocks, then :meth:`close` (or :meth:`abort`).
    """

    #: Whether the file is a complete lift result that :func:`starpose.lift.read_result` reads.
    is_result = True

    def __init__(self, path, meta: dict, num_frames: int, num_joints: int):
        self.path, self.meta = Path(path), meta
        self.num_frames, self.num_joints = int(num_frames), int(num_joints)
        self.written = 0

    def write(self, poses: np.ndarray) -> None:
        """Append ``poses`` ``(n, J, 3)``, the next ``n`` frames."""
        poses = np.asarray(poses, dtype=np.float32)
        self._write(poses)
        self.written += len(poses)

    def close(self) -> Path:
        """Finish the file; every frame must have been written."""
        if self.written != self.num_frames:
            raise ValueError(f"{self.written} of {self.num_frames} frames written")
        self._finish()
        return self.path

    def abort(self) -> None:
        """Close without finishing (the caller removes the output)."""

    def _write(self, poses: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError
