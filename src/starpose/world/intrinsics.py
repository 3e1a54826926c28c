"""Pinhole intrinsics ``(fx, fy, cx, cy)`` in pixels: given, from a field of view, or typical.

Without calibration the focal length comes from a field of view on the image's long side:
``f = (long side / 2) / tan(fov / 2)``, with the principal point at the image centre. The
default field of view, :data:`TYPICAL_FOV_DEG`, is that of a phone's main camera (about 65-75
degrees on the long side for 16:9 and 4:3 video; webcams 55-80, zoomed lenses 30-55): a video of
unknown origin is most often a phone's. A wrong field of view scales the estimated distance of
the person (and so the trajectory's length) by about ``tan(fov / 2) / tan(true / 2)``.
"""
from __future__ import annotations

import math

import numpy as np

from starpose.errors import StarposeError

#: The field of view (degrees, long side of the image) assumed when none is given.
TYPICAL_FOV_DEG = 70.0


def focal_from_fov(image_size: tuple[float, float], fov_deg: float) -> float:
    """Focal length (pixels) for a field of view ``fov_deg`` on the long side of ``image_size``
    (width, height)."""
    return max(image_size) / 2 / math.tan(math.radians(fov_deg) / 2)


def fov_from_focal(image_size: tuple[float, float], focal_px: float) -> float:
    """The long side's field of view (degrees) of a focal length in pixels."""
    return math.degrees(2 * math.atan(max(image_size) / 2 / focal_px))


def check_camera_values(focal_px: float | None = None, fov_deg: float | None = None,
                        where: str = "camera") -> None:
    """StarposeError (one line) for a focal length that is not a positive number of pixels or
    a field of view outside (0, 180) degrees, and for both given at once."""
    if focal_px is not None and fov_deg is not None:
        raise StarposeError(f"{where}: give a focal length or a field of view, not both")
    if focal_px is not None and not (math.isfinite(focal_px) and focal_px > 0):
        raise StarposeError(f"{where}: the focal length must be a positive number of pixels, "
                            f"got {focal_px:g}")
    if fov_deg is not None and not (math.isfinite(fov_deg) and 0 < fov_deg < 180):
        raise StarposeError(f"{where}: the field of view must be between 0 and 180 degrees "
                            f"(exclusive), got {fov_deg:g}")


def intrinsics_for(image_size, focal_px: float | None = None,
                   fov_deg: float | None = None) -> np.ndarray:
    """``(4,)`` float64 ``[fx, fy, cx, cy]`` for an image of ``image_size`` (width, height)
    pixels: ``focal_px`` if given, else from ``fov_deg``, else from :data:`TYPICAL_FOV_DEG`;
    square pixels, principal point at the centre."""
    check_camera_values(focal_px, fov_deg)
    width, height = (float(v) for v in image_size)
    if not (width > 0 and height > 0):
        raise StarposeError(f"camera: the image size must be positive, got {width:g} x {height:g}")
    focal = focal_px if focal_px is not None else \
        focal_from_fov((width, height), TYPICAL_FOV_DEG if fov_deg is None else fov_deg)
    return np.array([focal, focal, width / 2, height / 2])


def to_rays(keypoints: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pixels ``(..., 2)`` -> normalised image coordinates ``((u - cx) / fx, (v - cy) / fy)``:
    the same for one camera at any resolution, and a point's ``(x / z, y / z)``."""
    fx, fy, cx, cy = intrinsics
    return (keypoints - np.array([cx, cy])) / np.array([fx, fy])
