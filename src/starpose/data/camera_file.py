"""A dataset's own cameras: ``cameras.json`` beside the Human3.6M-layout files.

Data made from motion capture with virtual cameras (``starpose mocap import --cameras ring:N``)
is not seen by the calibrated Human3.6M cameras; the loader then reads the cameras of each
subject from this file instead of the shipped calibration.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from starpose.data.cameras import Camera
from starpose.errors import DataError

CAMERAS_FILE = "cameras.json"


def cameras_json(cameras: dict[str, list[Camera]]) -> str:
    """The text of ``cameras.json``: per subject, each camera's parameters (metres, pixels)."""
    def entry(cam: Camera) -> dict:
        return {"id": cam.id, "res_w": cam.res_w, "res_h": cam.res_h, "azimuth": cam.azimuth,
                **{k: np.asarray(getattr(cam, k), float).tolist() for k in _ARRAYS}}

    return json.dumps({"units": "translation in metres (world z up), intrinsics in pixels",
                       "subjects": {s: [entry(c) for c in cams] for s, cams in cameras.items()}},
                      indent=1)


_ARRAYS = {"focal_length": 2, "center": 2, "radial_distortion": 3, "tangential_distortion": 2,
           "orientation": 4, "translation": 3}


def read_cameras_json(path) -> dict[str, list[Camera]]:
    """Read ``cameras.json`` (see :func:`cameras_json`): {subject: [Camera, ...]}."""
    path = Path(path)
    try:
        subjects = json.loads(path.read_text(encoding="utf-8"))["subjects"]
        return {subject: [_camera(entry) for entry in entries]
                for subject, entries in subjects.items()}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError, AttributeError) as err:
        raise DataError(f"{path}: not a valid camera file ({type(err).__name__}: {err})") \
            from None


def _camera(entry: dict) -> Camera:
    arrays = {k: np.asarray(entry[k], np.float64) for k in _ARRAYS}
    for key, size in _ARRAYS.items():
        if arrays[key].shape != (size,) or not np.isfinite(arrays[key]).all():
            raise ValueError(f"'{key}' must hold {size} finite numbers")
    return Camera(id=str(entry["id"]), res_w=int(entry["res_w"]), res_h=int(entry["res_h"]),
                  azimuth=float(entry["azimuth"]), **arrays)
