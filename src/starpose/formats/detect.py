"""Format detection for ``format="auto"``: which reader of :data:`FORMATS` fits a path.

Folders are OpenPose; ``.npz`` with ``positions_2d`` is VideoPose3D, other ``.npz``/``.npy``
are H36M arrays; ``.csv`` is MediaPipe; JSON is sniffed by its keys.
"""
from __future__ import annotations

from pathlib import Path

from starpose.data.npz import npz_keys
from starpose.errors import DataError
from starpose.formats.json_io import read_json
from starpose.formats.table import FORMATS


def _walk(obj, limit=5000):
    """Breadth-first walk over a JSON value's dicts and lists (bounded, for sniffing)."""
    queue, seen = [obj], 0
    while queue and seen < limit:
        node = queue.pop(0)
        seen += 1
        yield node
        if isinstance(node, dict):
            queue.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            queue.extend(v for v in node[:50] if isinstance(v, (dict, list)))


def _json_kind(obj) -> str | None:
    """Guess the format of parsed JSON: COCO keypoints, MediaPipe landmarks or OpenPose."""
    for node in _walk(obj):
        if isinstance(node, dict):
            if "pose_keypoints_2d" in node:
                return "openpose"
            if "keypoints" in node:
                return "coco"
            if {"x", "y"} <= node.keys():
                return "mediapipe"
        elif node and all(isinstance(v, (int, float)) for v in node) and len(node) in (34, 51):
            return "coco"
    return None


def detect_format(path) -> str:
    """The format of ``path`` for ``--format auto``: one of :data:`FORMATS`.

    Folders are OpenPose; ``.npz`` with ``positions_2d`` is VideoPose3D, other ``.npz``/``.npy``
    are H36M arrays; ``.csv`` is MediaPipe; JSON is sniffed (51-number ``keypoints`` = COCO,
    ``{x, y, visibility}`` landmarks = MediaPipe, ``pose_keypoints_2d`` = OpenPose).
    """
    path = Path(path)
    if path.is_dir():
        return "openpose"
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "h36m"
    if suffix == ".npz":
        return _npz_kind(path)
    if suffix == ".csv":
        return "mediapipe"
    if suffix == ".json":
        kind = _json_kind(read_json(path))
        if kind == "openpose":
            raise DataError(
                f"{path}: a single OpenPose frame; pass the folder holding all the frames' "
                "*_keypoints.json files"
            )
        if kind:
            return kind
    raise DataError(
        f"{path}: cannot tell the keypoint format; name it explicitly "
        f"({'|'.join(FORMATS)})"
    )


def _npz_kind(path: Path) -> str:
    return "videopose3d" if "positions_2d" in npz_keys(path) else "h36m"
