"""Reader for VideoPose3D's custom 2D dataset (``data_2d_custom_<name>.npz``), one or more videos.

``positions_2d[video]['custom'][0]`` is ``(T, J, 2)`` in the layout ``metadata['layout_name']``
names (``coco`` as VideoPose3D's Detectron scripts write it, or a dataset's own: ``h36m``,
``humaneva15``), and
``metadata['video_metadata'][video]`` holds ``{'w': ..., 'h': ...}``. The pickled dicts are read
with :mod:`starpose.data.safe_pickle`'s restricted unpickler.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.safe_pickle import load_npz
from starpose.data.skeleton import H36M_17
from starpose.errors import DataError
from starpose.formats.joint_map import coco_to_h36m
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, Keypoints2D, make_sequence


def read_videopose3d(path, min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read VideoPose3D's custom 2D dataset: one :class:`Keypoints2D` per video.

    ``positions_2d[video]['custom'][0]`` is ``(T, J, 2)`` in the layout named by
    ``metadata['layout_name']`` (``coco`` as VideoPose3D's Detectron scripts write it, mapped to
    Human3.6M-17; a dataset's own layout, ``h36m`` or ``humaneva15``, is taken as is) and
    ``metadata['video_metadata'][video]`` holds ``{'w': ..., 'h': ...}``.
    The pickled dicts are read with a restricted unpickler, never ``allow_pickle=True``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = load_npz(path)
    positions, metadata = _unwrap(data.get("positions_2d")), _unwrap(data.get("metadata")) or {}
    if not isinstance(positions, dict) or not positions:
        raise DataError(f"{path}: no 'positions_2d' dict of videos (not a VideoPose3D custom file)")
    if not isinstance(metadata, dict):
        raise DataError(f"{path}: 'metadata' is not a dict (not a VideoPose3D custom file)")
    layout = str(metadata.get("layout_name", "coco")).lower()
    skeleton = None if layout == "coco" else _dataset_skeleton(path, layout)  # None: COCO, mapped
    video_meta = metadata.get("video_metadata", {}) or {}
    if not isinstance(video_meta, dict):
        raise DataError(f"{path}: 'video_metadata' is not a dict of videos")
    return [
        _videopose3d_video(path, video, streams, skeleton, video_meta.get(video, {}), min_confidence)
        for video, streams in positions.items()
    ]


def _unwrap(value):
    """A pickled object stored in an npz comes back as a 0-d object array; take it out."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
        return value.item()
    return value


def _dataset_skeleton(path, layout: str):
    """The skeleton of a dataset's own layout name; DataError naming the known ones otherwise."""
    from starpose.datasets.registry import all_datasets, dataset_with_layout

    dataset = dataset_with_layout(layout)
    if dataset is None:
        known = ", ".join(["coco"] + [d.layout_name for d in all_datasets() if d.layout_name])
        raise DataError(f"{path}: unsupported keypoint layout {layout!r} (expected one of {known})")
    return dataset.skeleton


def _videopose3d_video(path, video, streams, skeleton, meta, min_confidence) -> Keypoints2D:
    where = f"{path}: video {video!r}"
    custom = streams.get("custom") if isinstance(streams, dict) else None
    if not custom:
        raise DataError(f"{where}: no 'custom' keypoint stream")
    arr = np.asarray(custom[0], dtype=np.float64)
    joints = (skeleton or H36M_17).num_joints
    if arr.ndim != 3 or arr.shape[1] != joints or arr.shape[2] not in (2, 3):
        raise DataError(f"{where}: expected keypoints of shape (T, {joints}, 2), got {arr.shape}")
    conf = np.clip(arr[..., 2], 0, 1) if arr.shape[2] == 3 else np.ones(arr.shape[:2])
    size = (meta.get("w"), meta.get("h")) if isinstance(meta, dict) else (None, None)
    size = tuple(float(v) if v else None for v in size)
    if skeleton is None:
        xy, conf = coco_to_h36m(arr[..., :2], conf, min_confidence)
        return make_sequence(xy, conf, "videopose3d", str(video), path, size)
    xy, conf = arr[..., :2], np.where(np.isfinite(arr[..., :2]).all(-1), conf, 0.0)
    return make_sequence(xy, conf, "videopose3d", str(video), path, size, joint_names=skeleton.names)

