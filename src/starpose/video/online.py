"""Causal (online) lifting: each 3D pose from the present frame and the ``F - 1`` before it.

:class:`OnlineLifter` is what a live source uses: :meth:`OnlineLifter.push` one frame of 2D
keypoints, get that frame's 3D pose back at once. The model's window ends at the current frame
(its last output frame is kept), so the look-ahead is zero frames and the latency is the
detector's and one forward pass's time. Until ``F`` frames have arrived the window is padded
with the first frame. Joints below ``min_confidence`` keep their last sure position (the
offline path interpolates between sure frames, which needs the future).

The window is normalised as the model's ``input_norm`` asks (:mod:`starpose.data.model_input`):
``"screen"`` and the rays (``"rays"``, ``"view"``) frame by frame (rays with the given focal
length or field of view, else the typical one), ``"box"`` over the window's own frames (the past
``F`` frames: a causal version of the offline path's box over the sequence).

Accuracy: the model is trained to predict every frame of a window and the offline path weights
the middle of each window most; the last frame of a window sees no future motion and is less
accurate (docs/lift.md gives the measured difference).
"""
from __future__ import annotations

import numpy as np

from starpose.data.model_input import RAY_NORMS, input_norm_of, model_input

DEFAULT_MIN_CONFIDENCE = 0.3


def hold_unsure(xy: np.ndarray, conf: np.ndarray, last: np.ndarray | None,
                min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """``xy`` ``(J, 2)`` with unsure joints replaced by their ``last`` sure position (none yet:
    the mean of this frame's sure joints, else as they are); returns it and the new ``last``."""
    xy = np.asarray(xy, np.float32).copy()
    sure = (np.asarray(conf) >= min_confidence) & np.isfinite(xy).all(axis=-1)
    if last is None:
        centre = xy[sure].mean(axis=0) if sure.any() else np.nan_to_num(xy).mean(axis=0)
        last = np.where(sure[:, None], xy, centre).astype(np.float32)
    xy = np.where(sure[:, None], xy, last)
    return xy, xy.copy()


class OnlineLifter:
    """One person's causal lifter over a window predictor (``(B, F, J, 2) -> (B, F, J, 3)``,
    :class:`starpose.inference.predictors.TorchPredictor` or ``OnnxPredictor``) for
    ``width x height`` frames; ``focal_px`` / ``fov`` (degrees, long side): the camera, for a
    model that takes rays (``intrinsics`` ``(fx, fy, cx, cy)`` pixels instead, for a calibrated one).
    """

    def __init__(self, predictor, width: float, height: float, *, root: int = 0,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, focal_px: float | None = None,
                 fov: float | None = None, intrinsics=None):
        self.predictor, self.width, self.height = predictor, float(width), float(height)
        self.root, self.min_confidence = root, min_confidence
        self.frames = int(predictor.frames)
        self.norm = input_norm_of(predictor)
        self._focal = self._centre = None
        if self.norm in RAY_NORMS:
            from starpose.world.intrinsics import intrinsics_for

            if intrinsics is None:
                intrinsics = intrinsics_for((self.width, self.height), focal_px, fov)
            intrinsics = np.asarray(intrinsics, np.float64)
            self._focal, self._centre = intrinsics[:2], intrinsics[2:]
        self._window: np.ndarray | None = None  # (F, J, 2) pixels
        self._last: np.ndarray | None = None

    def push(self, xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lift one frame: ``xy`` ``(J, 2)`` pixels and ``conf`` ``(J,)`` in the model's joints.
        Returns the root-relative pose ``(J, 3)`` of this frame and the 2D keypoints used."""
        used, self._last = hold_unsure(xy, conf, self._last, self.min_confidence)
        if self._window is None:
            self._window = np.repeat(used[None], self.frames, axis=0)
        else:
            self._window = np.concatenate([self._window[1:], used[None]])
        window = model_input(self._window, self.norm, (self.width, self.height), self._focal, self._centre)
        pose = np.asarray(self.predictor(window[None]), np.float32)[0, -1]
        pose = pose - pose[self.root]
        return pose, used


def lift_causally(predictor, xy: np.ndarray, conf: np.ndarray, width, height, *, root=0,
                  min_confidence=DEFAULT_MIN_CONFIDENCE, focal_px=None, fov=None,
                  intrinsics=None) -> tuple[np.ndarray, np.ndarray]:
    """A whole sequence ``(T, J, 2)``/``(T, J)`` through :class:`OnlineLifter`, frame by frame:
    ``(T, J, 3)`` poses and the ``(T, J, 2)`` keypoints used."""
    lifter = OnlineLifter(predictor, width, height, root=root, min_confidence=min_confidence,
                          focal_px=focal_px, fov=fov, intrinsics=intrinsics)
    poses, used = zip(*(lifter.push(p, c) for p, c in zip(xy, conf)))
    return np.stack(poses), np.stack(used)
