"""Lifting one 2D keypoint sequence to root-relative 3D with a trained model (arrays in, arrays out)."""
from __future__ import annotations

import numpy as np

from starpose.errors import StarposeError
from starpose.formats import H36M_NAMES, Keypoints2D


def lift_keypoints(model, kp: Keypoints2D, *, flip=True, batch_size=32, device=None) -> dict:
    """Lift one filled :class:`Keypoints2D` sequence to root-relative 3D.

    Returns a dict with ``positions_3d`` ``(T, 17, 3)`` float32 (camera coordinates, metres,
    joint 0 at the origin), ``keypoints_2d`` ``(T, 17, 2)`` pixels, ``confidence`` ``(T, 17)``,
    ``filled`` ``(T, 17)`` bool, ``joint_names``, ``fps`` (None if unknown), ``image_size``
    ``(w, h)``, ``source`` (the input path), ``source_format`` and ``name``.
    """
    from starpose.data.cameras import normalize_screen_coordinates
    from starpose.inference import predict_sequence

    if kp.width is None or kp.height is None:
        raise StarposeError(f"{kp.path or kp.name}: the image size is unknown; cannot normalise")
    if not np.isfinite(kp.xy).all():
        raise StarposeError(f"{kp.path or kp.name}: keypoints have gaps; run fill_missing first")
    joints = getattr(model, "num_joints", 17)
    if joints != 17:
        raise StarposeError(f"the model lifts {joints} joints; keypoint files give the 17 H36M joints")
    normalised = normalize_screen_coordinates(kp.xy.astype(np.float32), kp.width, kp.height)
    poses = predict_sequence(model, normalised.astype(np.float32), flip=flip,
                             batch_size=batch_size, device=device)
    return {
        "positions_3d": np.asarray(poses, dtype=np.float32),
        "keypoints_2d": kp.xy.astype(np.float32),
        "confidence": kp.confidence.astype(np.float32),
        "filled": np.zeros(kp.xy.shape[:2], bool) if kp.filled is None else kp.filled,
        "joint_names": list(H36M_NAMES),
        "fps": kp.fps,
        "image_size": (float(kp.width), float(kp.height)),
        "source": kp.path,
        "source_format": kp.source_format,
        "name": kp.name,
    }
