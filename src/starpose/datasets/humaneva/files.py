"""The HumanEva-I dataset in the file layout of the lifting literature (``humaneva15``).

Files in ``data_dir`` (VideoPose3D's layout, read by MixSTE with ``-d humaneva15``):

* ``data_3d_humaneva15.npz``, key ``positions_3d``: ``{subject: {action: (T, 15, 3)}}``, world
  coordinates in metres (z up), 60 fps;
* ``data_2d_humaneva15_<name>.npz``, key ``positions_2d``: ``{subject: {action: [3 x (T', 15, 2)]}}``
  in pixels of the 640x480 cameras C1 C2 C3, plus ``metadata`` (``layout_name='humaneva15'``,
  ``num_joints=15``, ``keypoints_symmetry``).

Subjects carry a split prefix (``Train/S1``, ``Validate/S1``, ``Unlabeled/S1``); the cameras of S1
serve every prefix of S1. Actions are named like ``Walking 1 chunk0``. ``Unlabeled`` sequences
have no 3D poses and are skipped. Processing is that of Human3.6M: per camera the 3D poses go into
the camera frame, every joint but the root is made relative to the root, the 2D keypoints are cut
to the 3D length and normalised with the 640x480 resolution. The 2D files hold pixels, so only
the extrinsics are needed to read them; the pinhole intrinsics here serve the synthetic set.
"""
from __future__ import annotations

import json
import warnings
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from starpose.data.cameras import Camera, world_to_camera
from starpose.datasets.h36m.files import Sequence, read_pose_files
from starpose.data.skeleton import Skeleton
from starpose.errors import DataError

FILE_3D = "data_3d_humaneva15.npz"
FILE_2D = "data_2d_humaneva15_{name}.npz"
LAYOUT_NAME = "humaneva15"
NUM_JOINTS = 15
NUM_CAMERAS = 3
#: The split prefixes of the subject names; the last one has no 3D poses.
SPLITS = ("Train", "Validate", "Unlabeled")
#: Pinhole intrinsics of the synthetic set (the 2D files of the real set are in pixels already):
#: a focal length of 700 px (a 49 degree horizontal field of view) and the image centre.
FOCAL_PX = 700.0


@lru_cache(maxsize=1)
def humaneva_metadata() -> dict:
    """The shipped HumanEva-I metadata (cameras, 15-joint skeleton, protocol, loss weights)."""
    return json.loads(resources.files("starpose.datasets.humaneva").joinpath("metadata.json").read_text())


def _skeleton() -> Skeleton:
    entry = humaneva_metadata()["skeleton_15"]
    return Skeleton(parents=tuple(entry["parents"]), joints_left=tuple(entry["joints_left"]),
                    joints_right=tuple(entry["joints_right"]), names=tuple(entry["names"]))


#: The 15-joint lifting layout of HumanEva-I (root 0, the pelvis).
HUMANEVA_15 = _skeleton()
#: HumanEva's 15 joints as indices of the Human3.6M 17-joint layout (pelvis = Hip, thorax =
#: Thorax, head = Head, the limbs one to one): how the synthetic set reduces Human3.6M's bodies,
#: and how keypoints that detectors give in Human3.6M's layout are read for a HumanEva-I model.
JOINTS_FROM_H36M_17 = (0, 8, 11, 12, 13, 14, 15, 16, 4, 5, 6, 1, 2, 3, 10)


def split_subject(name: str) -> tuple[str, str]:
    """``"Train/S1"`` -> ``("Train", "S1")``; ValueError for a name without a known split."""
    split, sep, subject = str(name).partition("/")
    if not sep or split not in SPLITS or not subject:
        raise ValueError(f"subject {name!r}: expected <split>/<subject> with split one of "
                         f"{', '.join(SPLITS)}")
    return split, subject


def humaneva_cameras(subject: str) -> list[Camera]:
    """The 3 cameras of ``subject`` (``"S1"`` or ``"Train/S1"``); DataError when uncalibrated."""
    meta = humaneva_metadata()
    base = subject.partition("/")[2] if "/" in subject else subject
    extrinsics = meta["extrinsics"].get(base)
    if not extrinsics:
        raise DataError(f"subject {subject}: no camera calibration (calibrated subjects: "
                        f"{', '.join(meta['extrinsics'])})")
    width, height = meta["resolution"]
    return [Camera(id=str(cam["id"]), res_w=int(width), res_h=int(height),
                   azimuth=float(cam["azimuth"]), focal_length=np.full(2, FOCAL_PX),
                   center=np.array([width / 2, height / 2], float), radial_distortion=np.zeros(3),
                   tangential_distortion=np.zeros(2),
                   orientation=np.asarray(extr["orientation"], float),
                   translation=np.asarray(extr["translation"], float) / 1000.0)  # mm -> m
            for cam, extr in zip(meta["cameras"], extrinsics)]


def available_keypoints(data_dir: str | Path) -> list[str]:
    """Names ``<name>`` of the ``data_2d_humaneva15_<name>.npz`` files in ``data_dir``."""
    prefix, suffix = "data_2d_humaneva15_", ".npz"
    return sorted(p.name[len(prefix):-len(suffix)] for p in Path(data_dir).glob(f"{prefix}*{suffix}"))


def load_humaneva(data_dir: str | Path, keypoints: str = "gt",
                  subjects: list[str] | tuple[str, ...] | None = None) -> list[Sequence]:
    """Load and process the sequences of ``subjects`` (every labelled subject if None).

    Returns one :class:`~starpose.datasets.h36m.files.Sequence` per (subject, action, camera) with
    ``keypoints_2d (T, 15, 2)`` normalised and ``positions_3d (T, 15, 3)`` in the camera frame.
    Raises :class:`DataError` naming the file for any bad input.
    """
    data_dir = Path(data_dir)
    path_3d, path_2d = data_dir / FILE_3D, data_dir / FILE_2D.format(name=keypoints)
    poses_3d, poses_2d, metadata = read_pose_files(path_3d, path_2d, keypoints,
                                                   available_keypoints(data_dir))
    _check_metadata(metadata, path_2d)
    chosen = _resolve_subjects(poses_3d, poses_2d, subjects, path_3d, path_2d)
    sequences = []
    for subject in chosen:
        try:
            cameras = humaneva_cameras(subject)
        except DataError as err:
            raise DataError(f"{path_3d}: {err}") from None
        actions = poses_3d[subject]
        if not isinstance(actions, dict):
            raise DataError(f"{path_3d}: subject {subject}: expected a dict of actions")
        if subject not in poses_2d:
            raise DataError(f"{path_2d}: subject {subject} is in {path_3d.name} but has no 2D keypoints")
        for action in sorted(actions):
            world = _check_array(actions[action], 3, f"{path_3d}: subject {subject}, action '{action}'")
            views = _check_views(poses_2d[subject], action, len(world), path_2d, subject)
            for index, (camera, view) in enumerate(zip(cameras, views)):
                pos = world_to_camera(world, camera.orientation, camera.translation).astype(np.float32)
                pos[:, 1:] -= pos[:, :1]
                kp = camera.normalize(view[:len(world)].astype(np.float32)).astype(np.float32)
                sequences.append(Sequence(subject, action, index, kp, pos, camera))
    if not sequences:
        raise DataError(f"{path_3d}: no sequence for subjects {', '.join(chosen) or '(none)'}")
    return sequences


def _resolve_subjects(poses_3d: dict, poses_2d: dict, subjects, path_3d: Path, path_2d: Path) -> list[str]:
    for name, path in [(s, path_3d) for s in poses_3d] + [(s, path_2d) for s in poses_2d] \
            + [(s, path_3d) for s in subjects or ()]:
        try:
            split_subject(name)
        except ValueError as err:
            raise DataError(f"{path}: {err}") from None
    if subjects is None:
        unlabeled = sorted(s for s in poses_2d if s not in poses_3d)
        if unlabeled:
            warnings.warn(f"{path_2d}: {len(unlabeled)} subject(s) without 3D poses skipped "
                          f"({', '.join(unlabeled)})", stacklevel=3)
        return sorted(poses_3d)
    missing = [s for s in subjects if s not in poses_3d]
    if missing:
        raise DataError(f"{path_3d}: no 3D poses for subject(s) {', '.join(missing)} "
                        f"(file has: {', '.join(sorted(poses_3d)) or 'none'})")
    return list(subjects)


def _check_metadata(metadata, path: Path) -> None:
    """The 2D metadata is optional; when present it must describe the 15-joint layout."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise DataError(f"{path}: 'metadata' must be a dict, got {type(metadata).__name__}")
    joints = int(metadata.get("num_joints", NUM_JOINTS))
    if joints != NUM_JOINTS:
        raise DataError(f"{path}: the 2D keypoints have {joints} joints, HumanEva-I has {NUM_JOINTS}")


def _check_array(value, channels: int, what: str, frames: int = 0) -> np.ndarray:
    """A finite float array ``(T, 15, channels)`` with at least ``frames`` frames."""
    array = value if isinstance(value, np.ndarray) else None
    if array is None or array.ndim != 3 or array.shape[1] != NUM_JOINTS or array.shape[2] < channels:
        shape = tuple(array.shape) if array is not None else type(value).__name__
        raise DataError(f"{what}: expected shape (T, {NUM_JOINTS}, {channels}) "
                        f"(HumanEva-I has {NUM_JOINTS} joints), got {shape}")
    if array.dtype.kind != "f" or len(array) == 0 or len(array) < frames:
        raise DataError(f"{what}: expected a float array of at least {max(frames, 1)} frames, "
                        f"got {array.dtype} with {len(array)} frames")
    array = array[..., :channels]
    finite = np.isfinite(array[:frames or None]).reshape(len(array[:frames or None]), -1).all(1)
    if not finite.all():
        raise DataError(f"{what}: contains NaN or infinite values (first at frame {int(np.flatnonzero(~finite)[0])})")
    return array


def _check_views(actions_2d, action: str, length: int, path: Path, subject: str) -> list[np.ndarray]:
    what = f"{path}: subject {subject}, action '{action}'"
    if not isinstance(actions_2d, dict) or action not in actions_2d:
        raise DataError(f"{what}: present in {FILE_3D} but missing from the 2D keypoints")
    views = actions_2d[action]
    if not isinstance(views, (list, tuple)) or len(views) != NUM_CAMERAS:
        count = len(views) if isinstance(views, (list, tuple)) else type(views).__name__
        raise DataError(f"{what}: expected a list of {NUM_CAMERAS} cameras, got {count}")
    return [_check_array(view, 2, f"{what}, camera {i}", frames=length) for i, view in enumerate(views)]
