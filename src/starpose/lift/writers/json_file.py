"""``.json`` results: ``{"positions_3d": [...], <other keys>}``, frames written as they come."""
from __future__ import annotations

import json

import numpy as np

from starpose.lift.writers.base import BlockWriter


class JsonWriter(BlockWriter):
    def __init__(self, path, meta: dict, num_frames: int, num_joints: int):
        super().__init__(path, meta, num_frames, num_joints)
        self._fh = self.path.open("w", newline="", encoding="utf-8")
        self._fh.write('{"positions_3d": [')

    def _write(self, poses: np.ndarray) -> None:
        for t, pose in enumerate(np.round(poses, 6).tolist()):
            self._fh.write((", " if self.written + t else "") + json.dumps(pose))

    def _finish(self) -> None:
        rest = json.dumps(json_ready(self.meta))[1:]
        self._fh.write("]" + (", " + rest if rest != "}" else "}"))
        self._fh.close()

    def abort(self) -> None:
        self._fh.close()


def json_ready(result: dict) -> dict:
    """``result`` with arrays as lists (floats rounded to 6 digits) and tuples as lists."""
    out = {}
    for key, value in result.items():
        if isinstance(value, np.ndarray):
            value = np.round(value, 6).tolist() if value.dtype.kind == "f" else value.tolist()
        out[key] = list(value) if isinstance(value, tuple) else value
    return out
