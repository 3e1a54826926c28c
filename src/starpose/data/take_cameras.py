"""Per-take cameras: ``data_cameras_h36m.npz`` beside the Human3.6M-layout files.

Data whose cameras change from take to take (``starpose synth --cameras varied``) writes them
here, one entry per subject and take, in the camera order of the 2D files' lists:

* ``intrinsics`` ``{subject: {take: (C, 9) float32}}``: [fx, fy, cx, cy, k1, k2, k3, p1, p2] px;
* ``orientation`` ``{subject: {take: (C, 4) float32}}``: quaternion (w, x, y, z), camera -> world;
* ``translation`` ``{subject: {take: (C, 3) float32}}``: the camera centre in the world, metres;
* ``image_size`` ``{subject: {take: (C, 2) int32}}``: width, height in pixels;
* ``root_camera`` ``{subject: {take: [C x (T, 3) float32]}}``: the root joint (pelvis) in each
  camera's coordinates (x right, y down, z forward; metres), e.g. to train a trajectory model.

The loader (:func:`starpose.data.h36m.load_h36m`) uses these cameras instead of the shipped
Human3.6M calibration when the file is present.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.cameras import Camera
from starpose.data.safe_pickle import load_npz
from starpose.errors import DataError

TAKE_CAMERAS_FILE = "data_cameras_h36m.npz"
_KEYS = ("intrinsics", "orientation", "translation", "image_size", "root_camera")


def take_camera_arrays(cameras: list[Camera], roots: list[np.ndarray]) -> dict:
    """The entries of one take: ``cameras`` and the root's camera coordinates ``roots``."""
    return {"intrinsics": np.stack([c.intrinsics for c in cameras]).astype(np.float32),
            "orientation": np.stack([c.orientation for c in cameras]).astype(np.float32),
            "translation": np.stack([c.translation for c in cameras]).astype(np.float32),
            "image_size": np.array([[c.res_w, c.res_h] for c in cameras], np.int32),
            "root_camera": [np.asarray(r, np.float32) for r in roots]}


def read_take_cameras(path) -> dict[str, dict[str, list[Camera]]]:
    """``{subject: {take: [Camera, ...]}}`` from a :data:`TAKE_CAMERAS_FILE`."""
    path = Path(path)
    entries = load_npz(path)
    missing = [k for k in _KEYS[:4] if not isinstance(entries.get(k), dict)]
    if missing:
        raise DataError(f"{path}: missing per-take camera entries {', '.join(missing)}")
    out: dict[str, dict[str, list[Camera]]] = {}
    try:
        for subject, takes in entries["intrinsics"].items():
            for take, intr in takes.items():
                out.setdefault(subject, {})[take] = _cameras(entries, subject, take, intr)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise DataError(f"{path}: malformed per-take cameras ({type(err).__name__}: {err})") from None
    return out


def _cameras(entries: dict, subject: str, take: str, intr) -> list[Camera]:
    intr = np.asarray(intr, np.float64)
    rot = np.asarray(entries["orientation"][subject][take], np.float64)
    pos = np.asarray(entries["translation"][subject][take], np.float64)
    size = np.asarray(entries["image_size"][subject][take])
    if intr.ndim != 2 or intr.shape[1] != 9 or rot.shape != (len(intr), 4) \
            or pos.shape != (len(intr), 3) or size.shape != (len(intr), 2):
        raise ValueError(f"subject {subject}, take '{take}': inconsistent camera shapes")
    if not (np.isfinite(intr).all() and np.isfinite(rot).all() and np.isfinite(pos).all()):
        raise ValueError(f"subject {subject}, take '{take}': non-finite camera values")
    return [Camera(id=f"{subject}/{take}/{i}", res_w=int(size[i, 0]), res_h=int(size[i, 1]),
                   azimuth=0.0, focal_length=intr[i, :2], center=intr[i, 2:4],
                   radial_distortion=intr[i, 4:7], tangential_distortion=intr[i, 7:9],
                   orientation=rot[i], translation=pos[i]) for i in range(len(intr))]
