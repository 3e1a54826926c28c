"""Camera geometry: quaternion rotations, world/camera frames, projection, screen normalisation.

Every function accepts numpy arrays or torch tensors (the result has the type of ``X``/``v``)
and broadcasts over leading dimensions. Conventions follow the Human3.6M calibration:

* a camera's ``orientation`` R is a unit quaternion (w, x, y, z) rotating camera coordinates
  into world coordinates, and ``translation`` t is the camera centre in the world, so
  ``X_world = qrot(R, X_cam) + t`` and ``X_cam = qrot(conj(R), X_world - t)``;
* camera coordinates: x right, y down, z forward (depth), in metres;
* intrinsics are packed as the 9-vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starpose.arrays import clip, concat, cross, like


def qinverse(q):
    """Inverse of unit quaternions ``(..., 4)`` (w, x, y, z): the conjugate."""
    sign = like([1.0, -1.0, -1.0, -1.0], q)
    return q * sign


def qrot(q, v):
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (w, x, y, z).

    Shapes broadcast: one quaternion can rotate many vectors.
    """
    qvec = q[..., 1:]
    # v' = v + 2w (u x v) + 2 u x (u x v), the expanded form of q v q*.
    uv = cross(qvec, v)
    uuv = cross(qvec, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


def world_to_camera(X, R, t):
    """World points ``X (..., 3)`` to camera coordinates; R (4,) quaternion, t (3,) centre."""
    R = like(R, X)
    t = like(t, X)
    return qrot(qinverse(R), X - t)


def camera_to_world(X, R, t):
    """Camera coordinates ``X (..., 3)`` to world points; inverse of :func:`world_to_camera`."""
    R = like(R, X)
    t = like(t, X)
    return qrot(R, X) + t


def normalize_screen_coordinates(X, w, h):
    """Pixels ``(..., 2)`` to [-1, 1] along the width, keeping the aspect ratio."""
    return X / w * 2 - like([1.0, h / w], X)


def image_coordinates(X, w, h):
    """Inverse of :func:`normalize_screen_coordinates`: normalised ``(..., 2)`` to pixels."""
    return (X + like([1.0, h / w], X)) * w / 2


def project_to_2d(X, camera_params):
    """Project camera-frame points ``X (..., 3)`` to pixels ``(..., 2)`` with lens distortion.

    ``camera_params (..., 9)`` = [f(2), c(2), k(3), p(2)] broadcasts against ``X[..., 0, :]``
    for per-sequence cameras or is a single 9-vector. The distortion model is the one of the
    published lifting pipeline (VideoPose3D): with x = X/Z (clamped to [-1, 1], i.e. 45 degrees,
    so points far outside the field of view cannot fold back into the image) and r2 = |x|^2,

        radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3,   tan = p . x,
        x_d = x (radial + tan) + p r2,             pixels = f x_d + c.
    """
    params = _broadcast_params(camera_params, X)
    f, c, k, p = params[..., :2], params[..., 2:4], params[..., 4:7], params[..., 7:9]
    xx = _image_plane(X)
    r2 = (xx**2).sum(-1)[..., None]
    r_powers = concat([r2, r2**2, r2**3])
    radial = 1 + (k * r_powers).sum(-1)[..., None]
    tan = (p * xx).sum(-1)[..., None]
    distorted = xx * (radial + tan) + p * r2
    return f * distorted + c


def project_to_2d_linear(X, camera_params):
    """Pinhole projection ``(..., 3) -> (..., 2)`` pixels ignoring distortion (same packing)."""
    params = _broadcast_params(camera_params, X)
    return params[..., :2] * _image_plane(X) + params[..., 2:4]


def _broadcast_params(camera_params, X):
    """The packed intrinsics ``(..., 9)`` in ``X``'s library, shaped to broadcast against it."""
    params = like(camera_params, X)
    if params.ndim > 1:
        # One camera per leading index: add the point dimensions of X.
        params = params.reshape(params.shape[:-1] + (1,) * (X.ndim - params.ndim) + (9,))
    return params


def _image_plane(X):
    """``X/Z`` of camera-frame points ``(..., 3) -> (..., 2)``, clamped to [-1, 1] (45 degrees)."""
    return clip(X[..., :2] / X[..., 2:3], -1, 1)


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera. Intrinsics in pixels; extrinsics in metres (world z up).

    ``orientation`` (4,) rotates camera coordinates into the world; ``translation`` (3,) is the
    camera centre in the world.
    """

    id: str
    res_w: int
    res_h: int
    azimuth: float
    focal_length: np.ndarray  # (2,)
    center: np.ndarray  # (2,)
    radial_distortion: np.ndarray  # (3,) k1 k2 k3
    tangential_distortion: np.ndarray  # (2,) p1 p2
    orientation: np.ndarray  # (4,) w x y z
    translation: np.ndarray  # (3,) metres

    @property
    def intrinsics(self) -> np.ndarray:
        """The packed 9-vector [fx, fy, cx, cy, k1, k2, k3, p1, p2], float32."""
        return np.concatenate([self.focal_length, self.center, self.radial_distortion,
                               self.tangential_distortion]).astype(np.float32)

    def world_to_camera(self, X):
        return world_to_camera(X, self.orientation, self.translation)

    def camera_to_world(self, X):
        return camera_to_world(X, self.orientation, self.translation)

    def project(self, X_world):
        """World points ``(..., 3)`` to distorted pixels ``(..., 2)``."""
        return project_to_2d(self.world_to_camera(X_world), self.intrinsics)

    def normalize(self, X):
        """Pixels ``(..., 2)`` to the normalised screen coordinates used by the models."""
        return normalize_screen_coordinates(X, self.res_w, self.res_h)
