"""A MediaPipe Tasks pose landmarker file (``pose_landmarker_*.task``, which the user downloads
themselves) run by the MediaPipe wheel: several people per frame natively (``num_poses``).

Input: the frame as RGB; output per person: the 33 BlazePose landmarks, of which the COCO-17 are
kept (pixels, visibility). A file the landmarker cannot load (not a pose ``.task`` bundle) is
refused in one line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.video.blazepose import import_mediapipe, landmarks_to_coco, quiet_stderr
from starpose.video.detector import DetectorError, no_people


class TaskDetector:
    """``detect(rgb) -> (P, 17, 3)`` with a pose landmarker ``.task`` file (video mode)."""

    def __init__(self, path, *, max_people: int = 4, fps: float = 30.0):
        import_mediapipe()  # the install hint when MediaPipe is missing
        from mediapipe.tasks.python import BaseOptions, vision

        self.path = Path(path)
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.path)),
            running_mode=vision.RunningMode.VIDEO, num_poses=int(max_people))
        try:
            with quiet_stderr():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except TypeError:  # MediaPipe's graph set-up with a protobuf newer than it was built for
            import google.protobuf

            raise DetectorError(f"{self.path}: the MediaPipe Tasks API cannot run with protobuf "
                                f"{google.protobuf.__version__} installed here (MediaPipe 0.10.21 "
                                "was built for protobuf 4.x); the built-in detector still works "
                                "without a model file") from None
        except (RuntimeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DetectorError(f"{self.path}: not a MediaPipe pose landmarker .task file "
                                f"({first[:160]})") from None
        self.name = f"MediaPipe pose landmarker {self.path.name}"
        self._step_ms, self._time_ms = 1000.0 / fps, 0.0

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb, np.uint8))
        result = self._landmarker.detect_for_video(image, int(self._time_ms))
        self._time_ms += self._step_ms
        if not result.pose_landmarks:
            return no_people()
        h, w = rgb.shape[:2]
        return np.stack([landmarks_to_coco(marks, w, h) for marks in result.pose_landmarks])

    def close(self) -> None:
        self._landmarker.close()
