"""The 2D detector interface of the video path, and the table that picks one.

A detector is any object with ``detect(rgb (H, W, 3) uint8) -> (P, 17, 3)`` float32: the COCO-17
keypoints (:data:`COCO17`; x, y in pixels, confidence in [0, 1]) of the ``P >= 0`` people it
found, frame after frame of one video (a detector may follow people between calls), and
``close()``. ``name`` says what it is, for the summary.

:func:`open_detector` picks: no model file -> BlazePose from the MediaPipe wheel
(:mod:`.blazepose`, several people by :mod:`.people`); ``.task`` -> a MediaPipe Tasks pose
landmarker (:mod:`.task_model`); ``.onnx`` -> a YOLO-pose model on ONNX Runtime
(:mod:`.onnx_pose`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from starpose.errors import StarposeError

COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
#: The COCO joints' indices among MediaPipe/BlazePose's 33 landmarks.
BLAZEPOSE_TO_COCO = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


class DetectorError(StarposeError):
    """A detector that cannot run: its package is missing, or a model file is not a pose model."""


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


def no_people() -> np.ndarray:
    """The ``(0, 17, 3)`` result of a frame without anybody."""
    return np.zeros((0, len(COCO17), 3), np.float32)


def boxes_of(people: np.ndarray, min_confidence: float = 0.3) -> np.ndarray:
    """Boxes ``(P, 4)`` ``x0, y0, x1, y1`` around each person's confident keypoints (all of them
    where none is confident); ``people`` ``(P, K, 3)``."""
    people = np.asarray(people, np.float32)
    out = np.zeros((len(people), 4), np.float32)
    for i, person in enumerate(people):
        sure = person[person[:, 2] >= min_confidence, :2]
        pts = sure if len(sure) >= 2 else person[:, :2]
        out[i] = (*pts.min(axis=0), *pts.max(axis=0))
    return out


def open_detector(model: str | None = None, *, max_people: int = 4) -> Detector:
    """The detector for ``model`` (None: the bundled BlazePose); ``max_people`` per frame."""
    if model is None:
        from starpose.video.people import BlazePosePeople

        return BlazePosePeople(max_people=max_people)
    path = Path(model)
    if not path.is_file():
        raise DetectorError(f"{path}: no such detector model file")
    opener = _OPENERS.get(path.suffix.lower())
    if opener is None:
        raise DetectorError(f"{path}: unknown detector model; give a MediaPipe .task file or a "
                            "YOLO-pose .onnx file")
    return opener(path, max_people)


def _task(path, max_people):
    from starpose.video.task_model import TaskDetector

    return TaskDetector(path, max_people=max_people)


def _onnx(path, max_people):
    from starpose.video.onnx_pose import OnnxPoseDetector

    return OnnxPoseDetector(path, max_people=max_people)


_OPENERS = {".task": _task, ".onnx": _onnx}
