"""Varied cameras for synthetic data: phones, webcams and action cameras anywhere around a person.

:func:`sample_cameras` draws ``n`` undistorted pinhole :class:`~starpose.data.cameras.Camera` s
for one take (world z up, metres; camera x right, y down, z forward), all ranges in one table,
:class:`CameraRanges`:

* placement: height 0.3-2.5 m above the floor, 1.5-10 m (horizontally) from the take's mean root
  position, at any azimuth (yaw all round), the optical axis pitched -30..+45 degrees
  (positive: looking down) and rolled a few degrees;
* device: a field of view on the image's long side from the table of phones, webcams, action
  cameras (linear mode) and zoomed phones, an image size from 480p to 4K and an aspect ratio of
  4:3, 16:9, 9:16 (portrait) or 1:1;
* framing: the person's centre is put at a random place of the image (uniform over the central
  :attr:`CameraRanges.centre_box` fraction of each axis), so the body can be at the border and
  partly outside it.

A draw is kept only when the take stays *in view* as :func:`in_view` defines it (every joint in
front of the camera at :attr:`CameraRanges.min_depth` m or more, the root inside the image in at
least :attr:`CameraRanges.root_inside` of the frames); otherwise it is drawn again (up to
``max_tries`` times, then moved back until the take is in view).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starpose.data.cameras import Camera, look_at_rotation, rotation_to_quaternion


@dataclass(frozen=True)
class CameraRanges:
    """Every range of the varied cameras, stated once (angles in degrees, lengths in metres).

    ``devices``: (name, probability, long-side field of view range); ``short_sides``: image
    heights (of the short side) in pixels; ``aspects``: (name, width / height).
    """

    height: tuple[float, float] = (0.3, 2.5)
    distance: tuple[float, float] = (1.5, 10.0)
    pitch: tuple[float, float] = (-30.0, 45.0)
    roll: tuple[float, float] = (-4.0, 4.0)
    aim_height: tuple[float, float] = (0.6, 1.2)
    devices: tuple = (("phone", 0.45, (62.0, 78.0)), ("webcam", 0.2, (55.0, 80.0)),
                      ("action", 0.15, (80.0, 90.0)), ("zoom", 0.2, (30.0, 55.0)))
    short_sides: tuple[int, ...] = (480, 720, 1080, 1440, 2160)
    aspects: tuple = (("4:3", 4 / 3), ("16:9", 16 / 9), ("9:16", 9 / 16), ("1:1", 1.0))
    centre_box: float = 0.8
    min_depth: float = 0.5
    root_inside: float = 0.9


#: The ranges of ``starpose synth --cameras varied``.
VARIED = CameraRanges()


def image_size(short_side: int, aspect: float) -> tuple[int, int]:
    """(width, height) in pixels of an image whose short side is ``short_side`` and whose
    width / height is ``aspect`` (sizes rounded to even numbers)."""
    if aspect >= 1:
        return 2 * round(short_side * aspect / 2), short_side
    return short_side, 2 * round(short_side / aspect / 2)


def focal_from_fov(size: tuple[int, int], fov_deg: float) -> float:
    """Focal length in pixels of a pinhole whose field of view on the long side is ``fov_deg``."""
    return max(size) / 2 / np.tan(np.radians(fov_deg) / 2)


def in_view(camera: Camera, world: np.ndarray, ranges: CameraRanges = VARIED) -> bool:
    """Whether the take ``world`` (T, J, 3) (joint 0 the root) is in view of ``camera``: every
    joint at least ``min_depth`` m in front of it and the root inside the image in at least a
    ``root_inside`` fraction of the frames."""
    cam = camera.world_to_camera(world)
    if cam[..., 2].min() < ranges.min_depth:
        return False
    root = cam[:, 0]
    uv = camera.focal_length * root[:, :2] / root[:, 2:] + camera.center
    inside = (uv[:, 0] >= 0) & (uv[:, 0] <= camera.res_w) & (uv[:, 1] >= 0) & (uv[:, 1] <= camera.res_h)
    return bool(inside.mean() >= ranges.root_inside)


def pitch_of(camera: Camera) -> float:
    """The optical axis' angle below the horizontal, degrees (positive: looking down)."""
    axis = _rotation(camera.orientation) @ np.array([0.0, 0.0, 1.0])
    return float(np.degrees(np.arcsin(np.clip(-axis[2], -1, 1))))


def sample_camera(rng, world: np.ndarray, camera_id: str = "varied",
                  ranges: CameraRanges = VARIED, max_tries: int = 50) -> Camera:
    """One camera of ``ranges`` that keeps the take ``world`` (T, J, 3) in view (:func:`in_view`)."""
    for _ in range(max_tries):
        camera = _draw(rng, world, camera_id, ranges)
        if camera is not None and in_view(camera, world, ranges):
            return camera
    # A take that walks far (or a close, wide draw that keeps failing): step back until it fits.
    for distance in np.linspace(ranges.distance[1] / 2, ranges.distance[1], 6):
        camera = _draw(rng, world, camera_id, ranges, distance=float(distance), centred=True)
        if camera is not None and in_view(camera, world, ranges):
            return camera
    raise RuntimeError("no camera of the ranges keeps this take in view")  # not reached in practice


def sample_cameras(rng, n: int, world: np.ndarray | None = None,
                   ranges: CameraRanges = VARIED) -> list[Camera]:
    """``n`` varied cameras (ids ``varied0`` ...) that keep the take ``world`` (T, J, 3) in view;
    ``world`` None: a person standing at the origin (root 0.9 m above the floor)."""
    if world is None:
        world = np.array([[[0.0, 0.0, 0.9], [0.0, 0.0, 1.75], [0.0, 0.0, 0.05]]])
    return [sample_camera(rng, world, f"varied{i}", ranges) for i in range(n)]


def _draw(rng, world, camera_id, ranges, distance=None, centred=False) -> Camera | None:
    """One random camera aimed so that the take's centre falls at a random image point; None
    when its pitch is out of range."""
    names, probs, fovs = zip(*ranges.devices)
    fov = rng.uniform(*fovs[rng.choice(len(names), p=np.asarray(probs) / sum(probs))])
    size = image_size(int(rng.choice(ranges.short_sides)),
                      ranges.aspects[rng.integers(len(ranges.aspects))][1])
    focal = focal_from_fov(size, fov)
    centre = world[:, 0, :2].mean(0)
    distance = rng.uniform(*ranges.distance) if distance is None else distance
    azimuth = rng.uniform(0, 2 * np.pi)
    position = np.array([centre[0] + distance * np.cos(azimuth), centre[1] + distance * np.sin(azimuth),
                         rng.uniform(*ranges.height)])
    target = np.array([centre[0], centre[1], rng.uniform(*ranges.aim_height)])
    aim = look_at_rotation(position, target)  # camera -> world, target on the optical axis
    # Where the target appears: a random point of the central box of the image.
    half = 0.0 if centred else ranges.centre_box / 2
    pixel = np.array(size, float) * (0.5 + rng.uniform(-half, half, 2))
    ray = np.append((pixel - np.array(size) / 2) / focal, 1.0)
    axis = aim @ _rotation_between(ray / np.linalg.norm(ray), np.array([0.0, 0.0, 1.0]))[:, 2]
    # Level the camera (x axis horizontal), then roll it by the drawn angle.
    rotation = look_at_rotation(position, position + axis) @ _roll(np.radians(rng.uniform(*ranges.roll)))
    camera = Camera(id=camera_id, res_w=size[0], res_h=size[1], azimuth=float(azimuth),
                    focal_length=np.array([focal, focal]), center=np.array(size, float) / 2,
                    radial_distortion=np.zeros(3), tangential_distortion=np.zeros(2),
                    orientation=rotation_to_quaternion(rotation), translation=position)
    return camera if ranges.pitch[0] <= pitch_of(camera) <= ranges.pitch[1] else None


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3, 3) taking unit vector ``a`` to unit vector ``b``."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1 + c)


def _roll(angle: float) -> np.ndarray:
    """Rotation (3, 3) about the optical axis (camera z)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _rotation(q: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) of a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
