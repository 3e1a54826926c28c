"""Camera sets for imported motion: the 4 Human3.6M cameras or a ring of N virtual ones.

``ring:N`` places N pinhole cameras (1000 x 1000 pixels, no distortion) around the capture
volume's centre at evenly spread azimuths (jittered), each at its own distance (2.5-5 m
beyond the radius R that the subject's motion reaches from the centre), height (0.6-2.4 m)
and focal length (60-90% of the largest that keeps a point R to the side at the camera's
nearest reach inside the image), aimed at a point 0.9 m above the floor near the centre. The cameras depend on the seed and the subject, so every take of a subject
is seen by the same cameras, as in Human3.6M. The loader needs their parameters:
:mod:`starpose.data.camera_file` stores them as ``cameras.json`` beside the data, where the
Human3.6M loader finds them.
"""
from __future__ import annotations

import re
import zlib

import numpy as np

from starpose.data.cameras import Camera

from starpose.datasets.h36m.layout import h36m_cameras
from starpose.data.synth.motion import VOLUME_CENTRE

_RING = re.compile(r"^ring:([1-9][0-9]*)$")
_RES = 1000


def parse_camera_set(text: str) -> tuple[str, int]:
    """``"h36m"`` -> ("h36m", 4); ``"ring:N"`` -> ("ring", N); ValueError otherwise."""
    if text == "h36m":
        return "h36m", 4
    match = _RING.match(text)
    if match is None or int(match.group(1)) > 64:
        raise ValueError(f"expected 'h36m' or 'ring:N' with 1 <= N <= 64, got {text!r}")
    return "ring", int(match.group(1))


def subject_cameras(camera_set: str, subject: str, seed: int = 0,
                    radius: float = 1.1) -> list[Camera]:
    """The cameras that see ``subject`` (DataError for an uncalibrated H36M subject);
    ``radius`` (m): how far the subject's joints reach from the volume centre (ring only)."""
    kind, count = parse_camera_set(camera_set)
    if kind == "h36m":
        return h36m_cameras(subject)
    rng = np.random.default_rng([seed, zlib.crc32(subject.encode()), 7])
    azimuths = (np.arange(count) + rng.uniform(-0.25, 0.25, count)) * 360.0 / count
    azimuths += rng.uniform(0, 360)
    radius = max(radius, 1.1)
    return [_ring_camera(f"ring{k}", azimuth, radius, rng) for k, azimuth in enumerate(azimuths)]


def _ring_camera(name: str, azimuth: float, radius: float, rng) -> Camera:
    distance, height = radius + rng.uniform(2.5, 5.0), rng.uniform(0.6, 2.4)
    focal = rng.uniform(0.6, 0.9) * (_RES / 2) * (distance - radius) / radius
    target = np.array([*(VOLUME_CENTRE + rng.uniform(-0.2, 0.2, 2)), 0.9])
    angle = np.radians(azimuth)
    centre = np.array([*(VOLUME_CENTRE + distance * np.array([np.cos(angle), np.sin(angle)])),
                       height])
    return Camera(id=name, res_w=_RES, res_h=_RES, azimuth=float(azimuth % 360),
                  focal_length=np.array([focal, focal]), center=np.array([_RES / 2, _RES / 2]),
                  radial_distortion=np.zeros(3), tangential_distortion=np.zeros(2),
                  orientation=look_at_quaternion(centre, target), translation=centre)


def look_at_quaternion(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Orientation (w, x, y, z) of a camera at ``eye`` looking at ``target`` with world z up:
    camera x right, y down, z forward, rotated into the world."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return matrix_to_quaternion(np.stack([right, down, forward], axis=1))


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """A rotation matrix (3, 3) as a unit quaternion (w, x, y, z) with w >= 0."""
    trace = np.trace(m)
    candidates = np.array([1 + trace, 1 + 2 * m[0, 0] - trace, 1 + 2 * m[1, 1] - trace,
                           1 + 2 * m[2, 2] - trace])
    k = int(np.argmax(candidates))
    s = np.sqrt(candidates[k]) * 2  # 4 |q_k|
    if k == 0:
        q = [s / 4, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif k == 1:
        q = [(m[2, 1] - m[1, 2]) / s, s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif k == 2:
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s]
    else:
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4]
    q = np.asarray(q)
    return q if q[0] >= 0 else -q


