"""``.csv`` results: rows ``frame, time_s, joint, x, y, z`` as they come (``time_s`` empty where
the frame rate is unknown; frames numbered by ``frame_index``, else from 0)."""
from __future__ import annotations

import csv

import numpy as np

from starpose.lift.writers.base import BlockWriter


class CsvWriter(BlockWriter):
    def __init__(self, path, meta: dict, num_frames: int, num_joints: int):
        super().__init__(path, meta, num_frames, num_joints)
        self._fh = self.path.open("w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(["frame", "time_s", "joint", "x", "y", "z"])

    def _write(self, poses: np.ndarray) -> None:
        fps, names = self.meta.get("fps"), self.meta["joint_names"]
        index = self.meta.get("frame_index")
        for t, pose in enumerate(poses, start=self.written):
            frame = int(index[t]) if index is not None else t
            time_s = f"{frame / fps:.6f}" if fps else ""
            for name, (x, y, z) in zip(names, pose):
                self._csv.writerow([frame, time_s, name, f"{x:.6f}", f"{y:.6f}", f"{z:.6f}"])

    def _finish(self) -> None:
        self._fh.close()

    def abort(self) -> None:
        self._fh.close()
