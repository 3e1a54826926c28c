"""Reading the MPI-INF-3DHP files of the lifting literature into :class:`Sequence3DHP`.

Both files hold one pickled dict under the key ``data`` (read with the restricted unpickler):

* ``data_train_3dhp.npz``: ``data['S<k> Seq<m>'] = [{'<camera>': {'data_2d': (T, 17, 2),
  'data_3d': (T, 17, 3)}, ...}, fps]``, pixels of 2048x2048 images and millimetres in the
  camera frame;
* ``data_test_3dhp.npz``: ``data['TS<k>'] = {'data_2d', 'data_3d', 'valid': (T,) 0/1}`` and,
  when present, ``'activity'`` (T,) 1..7.

Processing is that of the published loaders: the root (joint 14) is subtracted from every joint
of the 3D, the 2D is normalised by the sequence's image size. Every problem is a
:class:`DataError` naming the file, the sequence and the problem.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.cameras import normalize_screen_coordinates
from starpose.datasets.mpi_inf_3dhp.layout import (
    ACTIVITIES, FILE_TEST, FILE_TRAIN, NUM_JOINTS, ROOT, TEST_IMAGE_SIZES, TEST_SEQUENCES,
    TRAIN_FPS, TRAIN_IMAGE_SIZE, Sequence3DHP)
from starpose.data.safe_pickle import load_npz
from starpose.errors import DataError

#: Keypoints further than this fraction of the image size outside the image are "far outside".
FAR_MARGIN = 0.5
#: A sequence is refused when more than this share of its (valid) keypoints are far outside:
#: real annotations leave the frame a little now and then, a wrong image size moves most of them.
FAR_SHARE = 0.01


def load_3dhp(data_dir: str | Path, keypoints: str = "gt",
              subjects=None) -> list[Sequence3DHP]:
    """The sequences of ``subjects`` (``"S1"``..``"S8"`` from the training file, ``"TS1"``..
    ``"TS6"`` from the test file; None: every sequence of both files).

    Training sequences come one per (subject, sequence, camera), in that order; test sequences
    in the order asked. Only the files needed are read.
    """
    if keypoints != "gt":
        raise DataError(f"{data_dir}: MPI-INF-3DHP files hold ground-truth 2D keypoints only "
                        f"(asked for '{keypoints}')")
    data_dir = Path(data_dir)
    wanted = None if subjects is None else list(subjects)
    train = None if wanted is None else [s for s in wanted if not s.startswith("TS")]
    test = None if wanted is None else [s for s in wanted if s.startswith("TS")]
    sequences = []
    if train is None or train:
        sequences += load_train(data_dir / FILE_TRAIN, train)
    if test is None or test:
        sequences += load_test(data_dir / FILE_TEST, test)
    return sequences


def _data_entry(path: Path) -> dict:
    contents = load_npz(path)
    if "data" not in contents:
        raise DataError(f"{path}: missing key 'data' (found: {', '.join(contents) or 'nothing'})")
    data = contents["data"]
    if not isinstance(data, dict):
        raise DataError(f"{path}: 'data' must be a dict of sequences, got {type(data).__name__}")
    return data


def load_train(path: str | Path, subjects=None) -> list[Sequence3DHP]:
    """Training sequences of ``subjects`` (None: all) as (subject, sequence, camera) triples."""
    path = Path(path)
    data = _data_entry(path)
    names = sorted(data, key=_train_order)
    present = list(dict.fromkeys(str(n).split(" ", 1)[0] for n in names))
    missing = [s for s in subjects or () if s not in present]
    if missing:
        raise DataError(f"{path}: no sequence for subject(s) {', '.join(missing)} "
                        f"(file has: {', '.join(present) or 'none'})")
    sequences = []
    for name in names:
        subject, _, take = str(name).partition(" ")
        if subjects is not None and subject not in subjects:
            continue
        cameras, fps = _train_entry(data[name], path, name)
        for camera in sorted(cameras, key=_camera_order):
            where = f"{path}: sequence '{name}', camera {camera}"
            item = cameras[camera]
            if not isinstance(item, dict) or not {"data_2d", "data_3d"} <= set(item):
                raise DataError(f"{where}: expected a dict with 'data_2d' and 'data_3d'")
            sequences.append(_sequence(where, subject, take, _camera_order(camera), item,
                                       TRAIN_IMAGE_SIZE, fps, None, None))
    if not sequences:
        raise DataError(f"{path}: no training sequence")
    return sequences


def load_test(path: str | Path, names=None) -> list[Sequence3DHP]:
    """Test sequences ``names`` (None: those of TS1-TS6 in the file), one per sequence."""
    path = Path(path)
    data = _data_entry(path)
    names = [n for n in TEST_SEQUENCES if n in data] if names is None else list(names)
    missing = [n for n in names if n not in data]
    if missing or not names:
        raise DataError(f"{path}: no test sequence {', '.join(missing) or 'TS1-TS6'} "
                        f"(file has: {', '.join(map(str, data)) or 'none'})")
    sequences = []
    for name in names:
        where = f"{path}: sequence {name}"
        item = data[name]
        if not isinstance(item, dict):
            raise DataError(f"{where}: expected a dict, got {type(item).__name__}")
        for key in ("data_2d", "data_3d", "valid"):
            if key not in item:
                raise DataError(f"{where}: missing '{key}' (found: {', '.join(item) or 'nothing'})")
        size = TEST_IMAGE_SIZES.get(name)
        if size is None:
            raise DataError(f"{where}: unknown test sequence (expected one of "
                            f"{', '.join(TEST_SEQUENCES)})")
        fps = float(item.get("fps", 50.0 if name in ("TS5", "TS6") else 25.0))
        valid = _valid(item["valid"], where)
        activity = _activity(item.get("activity"), where)
        sequences.append(_sequence(where, name, name, 0, item, size, fps, valid, activity))
    return sequences


def _train_order(name) -> tuple:
    """``"S2 Seq1"`` sorts by subject number, then sequence number."""
    subject, _, take = str(name).partition(" ")
    return (_number(subject), _number(take), str(name))


def _number(text: str) -> int:
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else -1


def _camera_order(camera) -> int:
    return _number(str(camera))


def _train_entry(entry, path: Path, name) -> tuple[dict, float]:
    where = f"{path}: sequence '{name}'"
    if not isinstance(entry, (list, tuple)) or not entry or not isinstance(entry[0], dict):
        raise DataError(f"{where}: expected [{{camera: {{'data_2d', 'data_3d'}}}}, fps]")
    fps = float(entry[1]) if len(entry) > 1 and np.ndim(entry[1]) == 0 \
        else TRAIN_FPS.get(str(name), 25.0)
    return entry[0], fps


def _valid(value, where: str) -> np.ndarray:
    array = np.asarray(value).reshape(-1) if isinstance(value, (np.ndarray, list)) else None
    if array is None or array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        raise DataError(f"{where}: 'valid' must be a (T,) array of 0/1 flags")
    return array.astype(bool)


def _activity(value, where: str) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value).reshape(-1)
    if array.dtype.kind not in "iuf" or not np.isin(array, np.arange(1, len(ACTIVITIES) + 1)).all():
        raise DataError(f"{where}: 'activity' must hold labels 1..{len(ACTIVITIES)}")
    return array.astype(np.int8)


def _sequence(where, subject, take, camera, item, size, fps, valid, activity) -> Sequence3DHP:
    pose_2d = _array(item["data_2d"], 2, where, "data_2d")
    pose_3d = _array(item["data_3d"], 3, where, "data_3d")
    if len(pose_2d) != len(pose_3d):
        raise DataError(f"{where}: 2D keypoints have {len(pose_2d)} frames but the 3D poses "
                        f"have {len(pose_3d)}")
    for name, flags in (("valid", valid), ("activity", activity)):
        if flags is not None and len(flags) != len(pose_3d):
            raise DataError(f"{where}: '{name}' has {len(flags)} entries for {len(pose_3d)} frames")
    valid = np.ones(len(pose_3d), bool) if valid is None else valid
    _check_inside_image(pose_2d[valid], size, where)
    root_relative = (pose_3d - pose_3d[:, ROOT:ROOT + 1]) / 1000.0  # millimetres -> metres
    normalised = normalize_screen_coordinates(pose_2d, size[0], size[1])
    return Sequence3DHP(subject, take, camera, normalised.astype(np.float32),
                        root_relative.astype(np.float32), tuple(size), fps, valid, activity)


def _array(value, channels: int, where: str, key: str) -> np.ndarray:
    array = value if isinstance(value, np.ndarray) else None
    if array is None or array.ndim != 3 or array.shape[1:] != (NUM_JOINTS, channels) \
            or array.dtype.kind not in "iuf" or len(array) == 0:
        shape = tuple(array.shape) if array is not None else type(value).__name__
        raise DataError(f"{where}: '{key}' must be a non-empty (T, {NUM_JOINTS}, {channels}) "
                        f"number array, got {shape}")
    array = array.astype(np.float64)
    finite = np.isfinite(array).reshape(len(array), -1).all(1)
    if not finite.all():
        raise DataError(f"{where}: '{key}' contains NaN or infinite values (first at frame "
                        f"{int(np.flatnonzero(~finite)[0])})")
    return array


def _check_inside_image(pose_2d: np.ndarray, size, where: str) -> None:
    """Refuse keypoints ``(T, J, 2)`` mostly far outside a ``size`` = (width, height) image."""
    if not len(pose_2d):
        return
    size = np.asarray(size, float)
    far = ((pose_2d < -FAR_MARGIN * size) | (pose_2d > (1 + FAR_MARGIN) * size)).any(-1)
    if far.mean() > FAR_SHARE:
        frame = int(np.flatnonzero(far.any(1))[0])
        raise DataError(f"{where}: {100 * far.mean():.0f}% of the 2D keypoints lie far outside "
                        f"the {int(size[0])}x{int(size[1])} image (first at valid frame {frame}); "
                        "wrong image size or not pixel coordinates?")
