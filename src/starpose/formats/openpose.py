"""Reader for a folder of OpenPose BODY_25 ``*_keypoints.json`` files, one per frame.

Files are ordered by the frame number in their names (gaps are frames without a person);
``people[i].pose_keypoints_2d`` holds 25 * (x, y, confidence), where (0, 0, 0) means "not
detected".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.errors import DataError
from starpose.formats.frames import order_frames
from starpose.formats.json_io import number, read_json
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, Keypoints2D
from starpose.formats.track import from_people


def _openpose_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json"))


def read_openpose(path, min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read a folder of OpenPose BODY_25 ``*_keypoints.json`` files, one per frame.

    Files are ordered by the frame number in their names, which becomes ``frame_index``
    (``clip_000000000005_keypoints.json`` is frame 5; a missing file is a frame without a
    person); ``people[i].pose_keypoints_2d`` holds 25 * (x, y, confidence), where confidence 0
    means "not detected".
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: OpenPose input must be a folder of *_keypoints.json files")
    files = _openpose_files(folder)
    if not files:
        raise DataError(f"{folder}: no OpenPose *_keypoints.json files in this folder")
    ordered = order_frames({f.stem: _openpose_frame(f) for f in files})
    return [from_people(ordered.frames, "openpose", folder, folder.name, min_confidence,
                        frame_index=ordered.index, notes=ordered.notes(folder.name))]


def _openpose_frame(file: Path) -> list:
    obj = read_json(file)
    if not isinstance(obj, dict) or not isinstance(obj.get("people"), list):
        raise DataError(f"{file}: not an OpenPose keypoint file (no 'people' list)")
    people = []
    for i, person in enumerate(obj["people"]):
        values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(values, list):
            raise DataError(f"{file}: person {i} has no 'pose_keypoints_2d' list")
        if len(values) != 75:
            raise DataError(
                f"{file}: person {i}: expected 25 BODY_25 keypoints (75 numbers), got "
                f"{len(values)} numbers ({len(values) // 3} joints)"
            )
        arr = np.array([number(v, "a keypoint value", file) for v in values]).reshape(25, 3)
        arr[arr[:, 2] <= 0, :2] = np.nan  # OpenPose writes (0, 0, 0) for undetected joints
        arr[:, 2] = np.clip(arr[:, 2], 0.0, 1.0)
        if np.isfinite(arr[:, :2]).any():
            people.append(arr)
    return people

