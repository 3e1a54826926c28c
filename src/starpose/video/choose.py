"""Which detector: :func:`open_detector` picks by the model file the user gives.

No model file -> BlazePose from the MediaPipe wheel (:mod:`.blazepose`, several people by
:mod:`.people`); ``.task`` -> a MediaPipe Tasks pose landmarker (:mod:`.task_model`); ``.onnx`` ->
a YOLO-pose model on ONNX Runtime (:mod:`.onnx_pose`). A plain table maps the extension.
"""
from __future__ import annotations

from pathlib import Path

from starpose.video.detector import Detector, DetectorError


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
