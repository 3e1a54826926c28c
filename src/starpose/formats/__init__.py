"""Input 2D keypoint formats, converted to the joint layout the lifting model expects.

One module per idea: a reader per format (:mod:`.coco`, :mod:`.mediapipe`, :mod:`.openpose`,
:mod:`.videopose3d`, :mod:`.array` for ``h36m``), :mod:`.detect` (``auto``), :mod:`.joint_map`
(layouts to H36M-17), :mod:`.table` (the formats: name, title, reader), :mod:`.layout`
(H36M-17 or an array to the model's dataset's joints, e.g. HumanEva-I's 15), :mod:`.json_io` (safe JSON), :mod:`.track` (one person per frame),
:mod:`.frames` (frame order and numbers), :mod:`.checks` (sanity checks: no keypoints, a
wrong image size), :mod:`.fill` (gap filling), :mod:`.keypoints` (:class:`Keypoints2D`, typed
:class:`Note`) and :mod:`.load` (:func:`load_keypoints`: detect, read, lay out, check the image
size, fill).

Readers keep missing or unsure joints as they are (NaN / low confidence); :func:`fill_missing`
then fills them by interpolation over time.
"""
from starpose.formats.array import read_h36m_array
from starpose.formats.checks import NoKeypointsError
from starpose.formats.coco import read_coco_json
from starpose.formats.detect import detect_format
from starpose.formats.fill import fill_missing
from starpose.formats.joint_map import (
    COCO_NAMES,
    LAYOUTS,
    MEDIAPIPE_NAMES,
    OPENPOSE_NAMES,
    AnyOf,
    coco_to_h36m,
    convert_to_h36m,
    mediapipe_to_h36m,
    openpose_to_h36m,
)
from starpose.formats.json_io import read_json
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, H36M_NAMES, Keypoints2D, Note, NoteKind
from starpose.formats.layout import to_layout
from starpose.formats.load import load_keypoints, read_format
from starpose.formats.mediapipe import read_mediapipe
from starpose.formats.openpose import read_openpose
from starpose.formats.table import FORMAT_TITLES, FORMATS, READERS, TABLE, format_title
from starpose.formats.videopose3d import read_videopose3d

__all__ = [
    "AnyOf", "COCO_NAMES", "DEFAULT_MIN_CONFIDENCE", "FORMATS", "FORMAT_TITLES", "H36M_NAMES",
    "Keypoints2D", "LAYOUTS", "MEDIAPIPE_NAMES", "NoKeypointsError", "Note", "NoteKind",
    "OPENPOSE_NAMES", "READERS", "TABLE",
    "coco_to_h36m", "convert_to_h36m", "detect_format", "fill_missing", "load_keypoints",
    "mediapipe_to_h36m", "openpose_to_h36m", "read_coco_json", "read_format", "read_h36m_array",
    "read_json", "read_mediapipe", "read_openpose", "read_videopose3d", "format_title", "to_layout",
]
