"""``.npz`` results: the poses go to a hidden ``.npy`` beside the output (header first, then the
blocks), which is copied into the archive at the end; the other entries are written as
``np.savez`` writes them (no pickles), readable with ``np.load(path)``."""
from __future__ import annotations

import math
import os
import shutil
import zipfile

import numpy as np

from starpose.io import held_temp_beside
from starpose.lift.writers.base import BlockWriter
from starpose.world.motion import WORLD_KEYS


class NpzWriter(BlockWriter):
    def __init__(self, path, meta: dict, num_frames: int, num_joints: int):
        super().__init__(path, meta, num_frames, num_joints)
        self._npy, fd = held_temp_beside(self.path, suffix=".npy")
        self._fh = os.fdopen(fd, "wb")  # holds the temporary's lock until closed
        header = {"descr": "<f4", "fortran_order": False, "shape": (self.num_frames, num_joints, 3)}
        np.lib.format.write_array_header_1_0(self._fh, header)

    def _write(self, poses: np.ndarray) -> None:
        self._fh.write(np.ascontiguousarray(poses, dtype="<f4").tobytes())

    def _finish(self) -> None:
        self._fh.close()
        try:
            with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                with zf.open("positions_3d.npy", "w", force_zip64=True) as out, self._npy.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                for key, value in npz_entries(self.meta).items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as out:
                        np.lib.format.write_array(out, value, allow_pickle=False)
        finally:
            self._npy.unlink(missing_ok=True)

    def abort(self) -> None:
        self._fh.close()
        self._npy.unlink(missing_ok=True)


def npz_entries(meta: dict) -> dict:
    """The archive's entries besides ``positions_3d``: arrays, strings as 0-d arrays, fps NaN when unknown."""
    fps = meta["fps"]
    entries = {
        "keypoints_2d": meta["keypoints_2d"],
        "confidence": meta["confidence"],
        "filled": meta["filled"],
        "joint_names": np.array(meta["joint_names"]),
        "fps": np.float64(math.nan if fps is None else fps),
        "image_size": np.array(meta["image_size"], dtype=np.float64),
        "source": np.array(str(meta["source"])),
        "source_format": np.array(meta["source_format"]),
        "name": np.array(meta["name"]),
    }
    if meta.get("track") is not None:  # a video's person (starpose.lift.video_output)
        entries["track"] = np.int64(meta["track"])
    if meta.get("frame_index") is not None:
        entries["frame_index"] = np.asarray(meta["frame_index"], dtype=np.int64)
        time_s = meta.get("time_s")
        entries["time_s"] = (np.full(len(entries["frame_index"]), math.nan) if time_s is None
                             else np.asarray(time_s, dtype=np.float64))
    for key in WORLD_KEYS:  # the world motion (starpose.lift.world), where it was computed
        if meta.get(key) is not None:
            entries[key] = np.asarray(meta[key])
    if meta.get("root_method") is not None:
        entries["root_method"] = np.array(meta["root_method"])
    return entries
