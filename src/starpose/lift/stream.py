"""Writing a result file incrementally: the lifted poses arrive in blocks of frames.

:class:`ResultWriter` writes ``.npz``, ``.json`` or ``.csv`` results while
:func:`starpose.inference.predictors.stream_sequence` produces them, so that lifting a long recording never
holds its 3D poses in memory. :func:`starpose.lift.write_result` is the one-block case, so a
result written at once and one written in blocks are the same file.

* ``.npz``: the poses go to a hidden ``.npy`` beside the output (header first, then the blocks),
  which is copied into the archive at the end; the other entries are written as ``np.savez``
  writes them (no pickles).
* ``.json``: ``{"positions_3d": [...], <other keys>}``, frames written as they come.
* ``.csv``: rows ``frame, time_s, joint, x, y, z`` as they come.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np

from starpose.errors import StarposeError
from starpose.io import temp_beside


class ResultWriter:
    """Write a result of ``num_frames`` frames to ``path`` block by block.

    ``meta`` is the result dict of :func:`starpose.lift.lift_keypoints` without ``positions_3d``
    (``frame_index`` ``(T,)``, when present, numbers the CSV rows and gives their ``time_s``;
    without it the rows count from 0). Call
    :meth:`write` with consecutive ``(n, J, 3)`` blocks, then :meth:`close`.
    """

    def __init__(self, path, meta: dict, num_frames: int, num_joints: int = 17):
        self.path, self.meta, self.num_frames = Path(path), meta, int(num_frames)
        self.suffix = self.path.suffix.lower()
        if self.suffix not in (".npz", ".json", ".csv"):
            raise StarposeError(f"{self.path}: unknown result format; use .npz, .json or .csv")
        self.written = 0
        self._fh = self.path.open("w", newline="", encoding="utf-8") if self.suffix != ".npz" else None
        if self.suffix == ".npz":
            self._npy = temp_beside(self.path, suffix=".npy")
            self._fh = self._npy.open("wb")
            header = {"descr": "<f4", "fortran_order": False, "shape": (self.num_frames, num_joints, 3)}
            np.lib.format.write_array_header_1_0(self._fh, header)
        elif self.suffix == ".json":
            self._fh.write('{"positions_3d": [')
        else:
            self._csv = csv.writer(self._fh)
            self._csv.writerow(["frame", "time_s", "joint", "x", "y", "z"])

    def write(self, poses: np.ndarray) -> None:
        """Append ``poses`` ``(n, J, 3)``, the next ``n`` frames."""
        poses = np.asarray(poses, dtype=np.float32)
        if self.suffix == ".npz":
            self._fh.write(np.ascontiguousarray(poses, dtype="<f4").tobytes())
        elif self.suffix == ".json":
            for t, pose in enumerate(np.round(poses, 6).tolist()):
                self._fh.write((", " if self.written + t else "") + json.dumps(pose))
        else:
            self._write_csv_rows(poses)
        self.written += len(poses)

    def _write_csv_rows(self, poses: np.ndarray) -> None:
        fps, names = self.meta.get("fps"), self.meta["joint_names"]
        index = self.meta.get("frame_index")
        for t, pose in enumerate(poses, start=self.written):
            frame = int(index[t]) if index is not None else t
            time_s = f"{frame / fps:.6f}" if fps else ""  # empty where the frame rate is unknown
            for name, (x, y, z) in zip(names, pose):
                self._csv.writerow([frame, time_s, name, f"{x:.6f}", f"{y:.6f}", f"{z:.6f}"])

    def close(self) -> Path:
        """Finish the file; every frame must have been written."""
        if self.written != self.num_frames:
            raise ValueError(f"{self.written} of {self.num_frames} frames written")
        if self.suffix == ".json":
            rest = json.dumps(_json_ready(self.meta))[1:]
            self._fh.write("]" + (", " + rest if rest != "}" else "}"))
        self._fh.close()
        if self.suffix == ".npz":
            self._write_npz()
        return self.path

    def abort(self) -> None:
        """Close without finishing (the caller removes the output)."""
        self._fh.close()
        if self.suffix == ".npz":
            self._npy.unlink(missing_ok=True)

    def _write_npz(self) -> None:
        try:
            with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                with zf.open("positions_3d.npy", "w", force_zip64=True) as out, self._npy.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                for key, value in _npz_entries(self.meta).items():
                    with zf.open(f"{key}.npy", "w", force_zip64=True) as out:
                        np.lib.format.write_array(out, value, allow_pickle=False)
        finally:
            self._npy.unlink(missing_ok=True)


def _npz_entries(meta: dict) -> dict:
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
    return entries


def _json_ready(result: dict) -> dict:
    out = {}
    for key, value in result.items():
        if isinstance(value, np.ndarray):
            value = np.round(value, 6).tolist() if value.dtype.kind == "f" else value.tolist()
        out[key] = list(value) if isinstance(value, tuple) else value
    return out
