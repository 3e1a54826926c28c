"""BlazePose (MediaPipe Pose, the full landmark model) as it ships in the ``mediapipe`` wheel: one
person per call, no download at run time.

Only ``model_complexity=1`` is usable offline: the wheel ships ``pose_detection.tflite`` and
``pose_landmark_full.tflite``; the lite and heavy models are fetched from the network on first
use, which starpose never does. :class:`SinglePose` wraps one ``mp.solutions.pose.Pose`` graph
and returns the COCO-17 subset of its 33 landmarks in pixels (confidence: the landmark's
visibility). MediaPipe's native logging (TFLite, absl) is kept off the terminal.
"""
from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from starpose.video.detector import BLAZEPOSE_TO_COCO, DetectorError, no_people

INSTALL_HINT = "pip install 'starpose[video]'"


_QUIET_LOCK = threading.Lock()
_QUIET = {"depth": 0, "saved": None, "python": None}


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 (MediaPipe's C++ logs) and ``sys.stderr`` (what its bindings print
    while importing) to nowhere meanwhile; exceptions still propagate. Safe from several threads
    at once (graphs run in parallel): the first to enter redirects, the last to leave restores."""
    import io
    import sys

    with _QUIET_LOCK:
        if _QUIET["depth"] == 0:
            _QUIET["saved"], _QUIET["python"] = os.dup(2), sys.stderr
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            sys.stderr = io.StringIO()
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0:
                sys.stderr = _QUIET["python"]
                os.dup2(_QUIET["saved"], 2)
                os.close(_QUIET["saved"])


def mute_native_logs() -> None:
    """Send file descriptor 2 to /dev/null for good and give Python's ``sys.stderr`` (progress
    bars, errors) a copy of the real one: MediaPipe's worker threads log to fd 2 while graphs
    start, after the call that started them has returned. Done only where ``sys.stderr`` is fd 2
    itself (a terminal or a pipe; not under a test's capture), and once."""
    import io
    import sys

    try:
        if getattr(sys.stderr, "_starpose_muted", False) or sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    real = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    stream = io.TextIOWrapper(os.fdopen(real, "wb", buffering=0), encoding=sys.stderr.encoding,
                              errors="backslashreplace", line_buffering=True, write_through=True)
    stream._starpose_muted = True
    sys.stderr = stream


def import_mediapipe():
    """``mediapipe.solutions.pose``; a :class:`DetectorError` with the install line when missing."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    mute_native_logs()
    try:
        with quiet_stderr():
            from mediapipe.python.solutions import pose
    except ImportError as err:
        raise DetectorError(f"the built-in 2D detector needs MediaPipe ({err}); install it with: "
                            f"{INSTALL_HINT}") from None
    return pose


class SinglePose:
    """One BlazePose graph: ``detect(rgb) -> (0 or 1, 17, 3)``.

    ``track=True`` is MediaPipe's video mode (the next frame's region comes from this frame's
    landmarks; the person detector runs only when the person is lost): about twice as fast on
    video, and it follows one person. ``track=False`` runs the person detector on every call.
    """

    name = "BlazePose full (MediaPipe 0.10.21, bundled)"

    def __init__(self, track: bool = True, min_detection_confidence: float = 0.5):
        import warnings

        pose = import_mediapipe()
        with quiet_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # protobuf 6 on MediaPipe's graph
            self._graph = pose.Pose(static_image_mode=not track, model_complexity=1,
                                    smooth_landmarks=track, enable_segmentation=False,
                                    min_detection_confidence=min_detection_confidence,
                                    min_tracking_confidence=0.5)

    def detect(self, rgb: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        with quiet_stderr():  # MediaPipe logs as its subgraphs start (a few microseconds per call)
            result = self._graph.process(rgb)
        if result.pose_landmarks is None:
            return no_people()
        return landmarks_to_coco(result.pose_landmarks.landmark, rgb.shape[1], rgb.shape[0])[None]

    def close(self) -> None:
        self._graph.close()


def landmarks_to_coco(landmarks, width: int, height: int) -> np.ndarray:
    """``(17, 3)`` COCO keypoints (pixels, visibility) from MediaPipe's 33 normalised landmarks."""
    out = np.empty((len(BLAZEPOSE_TO_COCO), 3), np.float32)
    for k, index in enumerate(BLAZEPOSE_TO_COCO):
        mark = landmarks[index]
        out[k] = (mark.x * width, mark.y * height, min(max(mark.visibility, 0.0), 1.0))
    return out
