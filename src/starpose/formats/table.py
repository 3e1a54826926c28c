"""The keypoint formats, one row each: name, title and reader (:data:`TABLE`).

Adding a format is one reader module and one row here; :data:`FORMATS`, :data:`FORMAT_TITLES`
and :data:`READERS` are read off the table, so they cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from starpose.formats.array import read_h36m_array
from starpose.formats.coco import read_coco_json
from starpose.formats.mediapipe import read_mediapipe
from starpose.formats.openpose import read_openpose
from starpose.formats.videopose3d import read_videopose3d


@dataclass(frozen=True)
class Format:
    """``read(path, width, height, min_confidence) -> list[Keypoints2D]``, gaps not filled yet.
    Only MediaPipe needs the image size while reading (its landmarks are fractions of the image)."""

    title: str
    read: Callable[..., list]


#: The formats by name, in the order of ``--format``'s choices.
TABLE: dict[str, Format] = {
    "h36m": Format("Human3.6M-ordered keypoint array",
                   lambda path, width, height, min_confidence: read_h36m_array(path)),
    "coco": Format("COCO-17 keypoints JSON",
                   lambda path, width, height, min_confidence: read_coco_json(path, min_confidence)),
    "mediapipe": Format("MediaPipe Pose 33 landmarks", read_mediapipe),
    "openpose": Format("OpenPose BODY_25 folder",
                       lambda path, width, height, min_confidence: read_openpose(path, min_confidence)),
    "videopose3d": Format("VideoPose3D custom 2D npz",
                          lambda path, width, height, min_confidence: read_videopose3d(path, min_confidence)),
}
FORMATS = tuple(TABLE)
FORMAT_TITLES = {name: fmt.title for name, fmt in TABLE.items()}
READERS = {name: fmt.read for name, fmt in TABLE.items()}
#: The format of plain arrays, read in the joint order of the lifting model's dataset.
ARRAY_FORMAT = "h36m"


def format_title(fmt: str, dataset=None) -> str:
    """The title of format ``fmt``; a plain array is named after the dataset whose order it is in."""
    if fmt == ARRAY_FORMAT and dataset is not None:
        return f"{dataset.title}-ordered keypoint array"
    return FORMAT_TITLES[fmt]
