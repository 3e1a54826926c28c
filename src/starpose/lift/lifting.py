"""Lifting one 2D keypoint sequence to root-relative 3D with a trained model (arrays in, arrays out).

:func:`lift_keypoints` lifts a whole sequence at once; :func:`stream_keypoints` yields the same
poses in blocks (bounded memory, for long recordings), with any window predictor
(:class:`starpose.inference.TorchPredictor`, ``starpose.onnx_runtime.OnnxPredictor``).
"""
from __future__ import annotations

import numpy as np

from starpose.errors import StarposeError
from starpose.formats import H36M_NAMES, Keypoints2D


def result_meta(kp: Keypoints2D) -> dict:
    """Everything of a result but the poses: ``keypoints_2d`` ``(T, 17, 2)`` pixels,
    ``confidence`` ``(T, 17)``, ``filled`` ``(T, 17)`` bool, ``joint_names``, ``fps`` (None if
    unknown), ``image_size`` ``(w, h)``, ``source``, ``source_format``, ``name``,
    ``frame_index`` ``(T,)`` int64 (each frame's number in the input's own numbering, so that
    the result lines up with the video) and ``time_s`` ``(T,)`` (``frame_index / fps``; None
    when the frame rate is unknown)."""
    frame_index = kp.frame_numbers
    return {
        "keypoints_2d": kp.xy.astype(np.float32),
        "confidence": kp.confidence.astype(np.float32),
        "filled": np.zeros(kp.xy.shape[:2], bool) if kp.filled is None else kp.filled,
        "joint_names": list(H36M_NAMES),
        "fps": kp.fps,
        "image_size": (float(kp.width), float(kp.height)),
        "source": kp.path,
        "source_format": kp.source_format,
        "name": kp.name,
        "frame_index": frame_index,
        "time_s": frame_index / float(kp.fps) if kp.fps else None,
    }


def normalised_input(kp: Keypoints2D, num_joints: int) -> np.ndarray:
    """The model's input ``(T, 17, 2)``: pixels scaled to [-1, 1] by the image width."""
    from starpose.data.cameras import normalize_screen_coordinates

    if kp.width is None or kp.height is None:
        raise StarposeError(f"{kp.path or kp.name}: the image size is unknown; cannot normalise")
    if not np.isfinite(kp.xy).all():
        raise StarposeError(f"{kp.path or kp.name}: keypoints have gaps; run fill_missing first")
    if num_joints != 17:
        raise StarposeError(f"the model lifts {num_joints} joints; keypoint files give the 17 H36M joints")
    return normalize_screen_coordinates(kp.xy.astype(np.float32), kp.width, kp.height).astype(np.float32)


def stream_keypoints(predictor, kp: Keypoints2D, *, stride=None, chunk_windows=64, progress=None):
    """Yield ``(first_frame, poses (n, 17, 3))`` blocks of ``kp`` lifted by ``predictor``."""
    from starpose.inference import stream_sequence

    normalised = normalised_input(kp, predictor.num_joints)
    yield from stream_sequence(predictor, normalised, stride=stride, chunk_windows=chunk_windows,
                               progress=progress)


def lift_keypoints(model, kp: Keypoints2D, *, flip=True, batch_size=32, device=None, stride=None) -> dict:
    """Lift one filled :class:`Keypoints2D` sequence to root-relative 3D, all at once.

    Returns :func:`result_meta` plus ``positions_3d`` ``(T, 17, 3)`` float32 (camera coordinates,
    metres, joint 0 at the origin), first. ``model``: a MixSTE model or a window predictor;
    ``stride``: see :func:`starpose.inference.stream_sequence` (default F/2).
    """
    from starpose.inference import predict_sequence

    normalised = normalised_input(kp, getattr(model, "num_joints", 17))
    poses = predict_sequence(model, normalised, flip=flip, batch_size=batch_size, device=device,
                             stride=stride)
    return {"positions_3d": np.asarray(poses, dtype=np.float32), **result_meta(kp)}
