"""Human3.6M's layout: its four calibrated cameras, subject split, image sizes and the MixSTE loss
weights of its 17 joints. The joints themselves are starpose's shared body model
(:mod:`starpose.data.skeleton`)."""
from __future__ import annotations

import numpy as np

from starpose.data.cameras import Camera
from starpose.data.skeleton import h36m_metadata
from starpose.errors import DataError

SUBJECTS_TRAIN = tuple(h36m_metadata()["subjects_train"])
SUBJECTS_TEST = tuple(h36m_metadata()["subjects_test"])
#: ``(width, height)`` of each camera id.
IMAGE_SIZES = {cam["id"]: (int(cam["res_w"]), int(cam["res_h"])) for cam in h36m_metadata()["intrinsics"]}
#: Per-joint weights of the 17-joint Human3.6M layout used by MixSTE (knees/feet 2.5, head and
#: shoulders 1.5, elbows/wrists 4: the joints that are hardest to lift get the most weight).
H36M_JOINT_WEIGHTS: tuple[float, ...] = (1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1, 1.5, 1.5, 4, 4, 1.5, 4, 4)


def h36m_cameras(subject: str) -> list[Camera]:
    """The 4 calibrated Human3.6M cameras of ``subject`` (e.g. ``"S9"``) from the metadata."""
    meta = h36m_metadata()
    extrinsics = meta["extrinsics"].get(subject)
    if not extrinsics or not all(extrinsics):
        known = ", ".join(s for s, e in meta["extrinsics"].items() if e and all(e))
        raise DataError(f"subject {subject}: no camera calibration (calibrated subjects: {known})")
    cameras = []
    for intr, extr in zip(meta["intrinsics"], extrinsics):
        cameras.append(Camera(
            id=str(intr["id"]),
            res_w=int(intr["res_w"]),
            res_h=int(intr["res_h"]),
            azimuth=float(intr["azimuth"]),
            focal_length=np.asarray(intr["focal_length"], np.float64),
            center=np.asarray(intr["center"], np.float64),
            radial_distortion=np.asarray(intr["radial_distortion"], np.float64),
            tangential_distortion=np.asarray(intr["tangential_distortion"], np.float64),
            orientation=np.asarray(extr["orientation"], np.float64),
            translation=np.asarray(extr["translation"], np.float64) / 1000.0,  # mm -> m
        ))
    return cameras
