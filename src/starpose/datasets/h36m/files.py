"""The Human3.6M dataset in the file formats of the published lifting pipeline.

Files in ``data_dir``:

* ``data_3d_h36m.npz``, key ``positions_3d``: ``{subject: {action: (T, 32, 3) float32}}``,
  world coordinates in metres (z up);
* ``data_2d_h36m_<name>.npz``, key ``positions_2d``: ``{subject: {action: [4 x (T', 17, 2)]}}``
  in pixels, one array per camera, plus ``metadata`` (layout name, joint count, symmetry).

Processing is that of the published pipeline: per camera, the 3D poses are moved into the
camera frame, every joint but the root is made relative to the root while the root keeps its
trajectory, the 32 motion-capture joints are reduced to the 17 of the lifting layout, the 2D
keypoints are cut to the 3D length and normalised to [-1, 1] with the camera's resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.data.camera_file import CAMERAS_FILE, read_cameras_json
from starpose.data.cameras import Camera, world_to_camera
from starpose.datasets.h36m.layout import h36m_cameras
from starpose.data.safe_pickle import load_npz
from starpose.data.skeleton import H36M_17, JOINTS_KEPT_FOR_17, h36m_metadata
from starpose.data.take_cameras import TAKE_CAMERAS_FILE, read_take_cameras
from starpose.errors import DataError

FILE_3D = "data_3d_h36m.npz"
NUM_CAMERAS = 4


def file_2d(keypoints: str) -> str:
    """File of the 2D keypoints named ``keypoints`` (e.g. ``"gt"``, ``"cpn_ft_h36m_dbb"``)."""
    return f"data_2d_h36m_{keypoints}.npz"


def action_group(name: str) -> str:
    """The action type of a take: its name up to the first space ("Walking 1" -> "Walking")."""
    return name.split(" ", 1)[0]


@dataclass(frozen=True, eq=False)
class Sequence:
    """One take seen by one camera.

    ``keypoints_2d`` (T, 17, 2) float32, normalised screen coordinates;
    ``positions_3d`` (T, 17, 3) float32, camera frame in metres: joint 0 is the root's trajectory,
    joints 1..16 are relative to the root.
    """

    subject: str
    action: str
    camera_index: int
    keypoints_2d: np.ndarray
    positions_3d: np.ndarray
    camera: Camera

    @property
    def num_frames(self) -> int:
        return len(self.positions_3d)

    @property
    def action_group(self) -> str:
        return action_group(self.action)


def available_keypoints(data_dir: str | Path) -> list[str]:
    """Names ``<name>`` of the ``data_2d_h36m_<name>.npz`` files in ``data_dir``."""
    prefix, suffix = "data_2d_h36m_", ".npz"
    files = Path(data_dir).glob(f"{prefix}*{suffix}")
    return sorted(p.name[len(prefix):-len(suffix)] for p in files)


def read_pose_files(path_3d: Path, path_2d: Path, keypoints: str, available: list[str]):
    """The VideoPose3D layout's two files: ``(positions_3d, positions_2d, metadata)`` dicts,
    read with the restricted unpickler; ``available`` names the keypoints found, for the
    message when ``path_2d`` is missing."""
    if not path_2d.is_file() and path_3d.is_file():
        raise DataError(f"{path_2d}: no 2D keypoints named '{keypoints}' in {path_2d.parent} "
                        f"(available: {', '.join(available) or 'none'})")
    poses_3d = _entry(load_npz(path_3d), "positions_3d", path_3d)
    contents_2d = load_npz(path_2d)
    return poses_3d, _entry(contents_2d, "positions_2d", path_2d), contents_2d.get("metadata")


def load_h36m(data_dir: str | Path, keypoints: str = "gt",
              subjects: list[str] | tuple[str, ...] | None = None) -> list[Sequence]:
    """Load and process the takes of ``subjects`` (all calibrated subjects of the 3D file if None).

    Returns one :class:`Sequence` per (subject, action, camera), ordered by subject, action and
    camera. Raises :class:`DataError` naming the file, subject and action for any bad input.
    """
    data_dir = Path(data_dir)
    path_3d, path_2d = data_dir / FILE_3D, data_dir / file_2d(keypoints)
    poses_3d, poses_2d, metadata = read_pose_files(path_3d, path_2d, keypoints,
                                                   available_keypoints(data_dir))
    _check_metadata(metadata, path_2d)

    own_cameras = _own_cameras(data_dir)
    take_cameras = _take_cameras(data_dir)
    subjects = _resolve_subjects(poses_3d, subjects, path_3d, own_cameras)
    sequences = []
    for subject in subjects:
        cameras = _subject_cameras(subject, own_cameras, path_3d)
        actions = poses_3d[subject]
        if not isinstance(actions, dict):
            raise DataError(f"{path_3d}: subject {subject}: expected a dict of actions")
        if subject not in poses_2d:
            raise DataError(f"{path_2d}: subject {subject} is in {path_3d.name} but has no 2D "
                            "keypoints")
        for action in sorted(actions):
            world = _check_3d(actions[action], path_3d, subject, action)
            cams = cameras if take_cameras is None else _take(take_cameras, subject, action, data_dir)
            views = _check_2d(poses_2d[subject], len(world), path_2d, subject, action, len(cams))
            for index, (camera, view) in enumerate(zip(cams, views)):
                sequences.append(Sequence(subject, action, index,
                                          _process_2d(view, len(world), camera),
                                          _process_3d(world, camera), camera))
    if not sequences:
        raise DataError(f"{path_3d}: no sequence for subjects {', '.join(subjects) or '(none)'}")
    return sequences


def select(sequences: list[Sequence], subjects=None, actions=None) -> list[Sequence]:
    """The sequences of the given subjects and action groups (None keeps all)."""
    return [s for s in sequences
            if (subjects is None or s.subject in subjects)
            and (actions is None or s.action_group in actions or s.action in actions)]


def subjects_of(sequences: list[Sequence]) -> list[str]:
    """The distinct subjects of ``sequences`` in order of appearance."""
    return list(dict.fromkeys(s.subject for s in sequences))


def _process_3d(world: np.ndarray, camera: Camera) -> np.ndarray:
    """World (T, 32, 3) -> camera frame (T, 17, 3), root trajectory + root-relative joints."""
    pos = world_to_camera(world, camera.orientation, camera.translation).astype(np.float32)
    pos[:, 1:] -= pos[:, :1]
    return np.ascontiguousarray(pos[:, JOINTS_KEPT_FOR_17])


def _process_2d(view: np.ndarray, length: int, camera: Camera) -> np.ndarray:
    """Pixels (T', 17, 2) -> normalised (T, 17, 2) cut to the 3D length."""
    return camera.normalize(view[:length].astype(np.float32)).astype(np.float32)


def _entry(contents: dict, key: str, path: Path) -> dict:
    if key not in contents:
        raise DataError(f"{path}: missing key '{key}' (found: {', '.join(contents) or 'nothing'})")
    value = contents[key]
    if not isinstance(value, dict):
        raise DataError(f"{path}: '{key}' must be a dict of subjects, got {type(value).__name__}")
    return value


def _check_metadata(metadata, path: Path) -> None:
    """The 2D metadata is optional; when present it must describe the 17-joint layout."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise DataError(f"{path}: 'metadata' must be a dict, got {type(metadata).__name__}")
    if int(metadata.get("num_joints", H36M_17.num_joints)) != H36M_17.num_joints:
        raise DataError(f"{path}: metadata says {metadata['num_joints']} joints, expected {H36M_17.num_joints}")


def _own_cameras(data_dir: Path) -> dict[str, list[Camera]] | None:
    """The folder's own cameras (``cameras.json``, e.g. virtual ones of imported motion capture),
    or None: the shipped Human3.6M calibration."""
    path = data_dir / CAMERAS_FILE
    return read_cameras_json(path) if path.is_file() else None


def _take_cameras(data_dir: Path):
    """The folder's per-take cameras (``starpose synth --cameras varied``), or None."""
    path = data_dir / TAKE_CAMERAS_FILE
    return read_take_cameras(path) if path.is_file() else None


def _take(take_cameras: dict, subject: str, action: str, data_dir: Path) -> list[Camera]:
    try:
        return take_cameras[subject][action]
    except KeyError:
        raise DataError(f"{data_dir / TAKE_CAMERAS_FILE}: no cameras for subject {subject}, "
                        f"take '{action}'") from None


def _subject_cameras(subject: str, own_cameras, path_3d: Path) -> list[Camera]:
    if own_cameras is not None:
        if subject not in own_cameras:
            raise DataError(f"{path_3d.parent / CAMERAS_FILE}: no cameras for subject {subject}")
        return own_cameras[subject]
    try:
        return h36m_cameras(subject)
    except DataError as err:
        raise DataError(f"{path_3d}: {err}") from None


def _resolve_subjects(poses_3d: dict, subjects, path: Path, own_cameras=None) -> list[str]:
    if subjects is None:
        # Extra subjects without calibration (nothing to project with) are skipped.
        calibrated = set(own_cameras) if own_cameras is not None else {
            s for s, e in h36m_metadata()["extrinsics"].items() if e and all(e)}
        return sorted(s for s in poses_3d if s in calibrated)
    missing = [s for s in subjects if s not in poses_3d]
    if missing:
        raise DataError(f"{path}: no sequence for subject(s) {', '.join(missing)} "
                        f"(file has: {', '.join(sorted(poses_3d)) or 'none'})")
    return list(subjects)


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array).reshape(len(array), -1).all(1))[0])
        raise DataError(f"{what}: contains NaN or infinite values (first at frame {bad})")


def _check_3d(value, path: Path, subject: str, action: str) -> np.ndarray:
    what = f"{path}: subject {subject}, action '{action}'"
    array = np.asarray(value) if isinstance(value, np.ndarray) else None
    if array is None or array.ndim != 3 or array.shape[1:] != (32, 3):
        shape = tuple(array.shape) if array is not None else type(value).__name__
        raise DataError(f"{what}: expected 3D positions of shape (T, 32, 3), got {shape}")
    if array.dtype.kind != "f" or len(array) == 0:
        raise DataError(f"{what}: expected a non-empty float array, got {array.dtype} "
                        f"with {len(array)} frames")
    _check_finite(array, what)
    return array


def _check_2d(actions_2d, length: int, path: Path, subject: str, action: str,
              num_cameras: int = NUM_CAMERAS) -> list[np.ndarray]:
    what = f"{path}: subject {subject}, action '{action}'"
    if not isinstance(actions_2d, dict) or action not in actions_2d:
        raise DataError(f"{what}: present in {FILE_3D} but missing from the 2D keypoints")
    views = actions_2d[action]
    if not isinstance(views, (list, tuple)) or len(views) != num_cameras:
        count = len(views) if isinstance(views, (list, tuple)) else type(views).__name__
        raise DataError(f"{what}: expected a list of {num_cameras} cameras, got {count}")
    for index, view in enumerate(views):
        where = f"{what}, camera {index}"
        if not isinstance(view, np.ndarray) or view.ndim != 3 or view.shape[1] != H36M_17.num_joints \
                or view.shape[2] < 2:
            shape = tuple(view.shape) if isinstance(view, np.ndarray) else type(view).__name__
            raise DataError(f"{where}: expected 2D keypoints of shape (T, {H36M_17.num_joints}, 2), got {shape}")
        if len(view) < length:
            raise DataError(f"{where}: 2D keypoints have {len(view)} frames, fewer than the "
                            f"{length} frames of the 3D poses")
        _check_finite(view[:length, :, :2], where)
    return [view[..., :2] for view in views]
