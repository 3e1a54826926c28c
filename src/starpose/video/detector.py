"""The 2D detector interface of the video path, and the table that picks one.

A detector is any object with ``detect(rgb (H, W, 3) uint8) -> (P, 17, 3)`` float32: the COCO-17
keypoints (:data:`COCO17`; x, y in pixels, confidence in [0, 1]) of the ``P >= 0`` people it
found, frame after frame of one video (a detector may follow people between calls), and
``close()``. ``name`` says what it is, for the summary.

:func:`starpose.video.choose.open_detector` picks one for a model file (or none).
"""
from __future__ import annotations

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


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``x0, y0, x1, y1`` boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
