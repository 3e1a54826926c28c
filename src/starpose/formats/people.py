"""Every person of every frame of a multi-person keypoint file (COCO-17 JSON, an OpenPose
folder), for tracking (:mod:`starpose.lift.people_files`) instead of keeping one person.

:func:`read_people` returns the per-frame lists the readers build before they pick one person
(:mod:`.track`), with the frame numbers, the layout and what the file says of the image size and
frame rate.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from starpose.errors import DataError
from starpose.formats.detect import detect_format
from starpose.formats.json_io import fps_from, read_json, size_from

#: The formats that hold several people per frame and the tracking reads.
MULTI_PERSON_FORMATS = ("coco", "openpose")


class People(NamedTuple):
    """``frames[t]``: a list of ``(K, 3)`` people (x, y, confidence) in ``layout``; ``index``
    ``(T,)`` the frame numbers; ``size`` ``(w, h)`` and ``fps`` as the file states them (None)."""

    frames: list
    index: np.ndarray
    layout: str
    size: tuple
    fps: float | None


def read_people(path, fmt: str = "auto") -> People:
    """All people of the COCO or OpenPose file ``path`` (``fmt`` ``auto`` detects it)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in MULTI_PERSON_FORMATS:
        raise DataError(f"{path}: a {fmt} file holds one person per frame; tracking several "
                        f"people reads {' and '.join(MULTI_PERSON_FORMATS)} files")
    if fmt == "coco":
        from starpose.formats.coco import _coco_people_per_frame, _confidence_from_scores

        obj = read_json(Path(path))
        ordered = _coco_people_per_frame(obj, Path(path))
        for frame in ordered.frames:
            for person in frame:
                person[:, 2] = _confidence_from_scores(person[:, 2])
        size, fps = size_from(obj), fps_from(obj)
    else:
        from starpose.formats.frames import order_frames
        from starpose.formats.openpose import _openpose_files, _openpose_frame

        folder = Path(path)
        if not folder.is_dir() or not _openpose_files(folder):
            raise DataError(f"{folder}: OpenPose input must be a folder of *_keypoints.json files")
        ordered = order_frames({f.stem: _openpose_frame(f) for f in _openpose_files(folder)})
        size, fps = (None, None), None
    index = (np.arange(len(ordered.frames)) if ordered.index is None
             else np.asarray(ordered.index, np.int64))
    return People(ordered.frames, index, fmt, size, fps)
