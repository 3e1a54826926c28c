"""Every person of a multi-person keypoint file (COCO-17 JSON, OpenPose), tracked as in a video:
``starpose lift detections.json --person all`` lifts each track, ``--person N`` one of them.

The people of each frame (:func:`starpose.formats.people.read_people`) are linked into tracks by
:func:`starpose.video.tracking.link_tracks` (the video path's tracker); each kept track becomes a
:class:`~starpose.formats.Keypoints2D` named ``<file>_track<id>`` over the frames from its first
to its last detection.
"""
from __future__ import annotations

from starpose.errors import DataError
from starpose.formats import Keypoints2D, convert_to_h36m, fill_missing, to_layout
from starpose.formats.keypoints import make_sequence
from starpose.lift.video import VideoOptions, choose_tracks, keep_guessed_joints


def load_tracks(path, fmt: str, person, dataset, *, width=None, height=None, fps=None,
                min_confidence: float = VideoOptions.min_confidence) -> list[Keypoints2D]:
    """The tracks (``person``: ``"all"`` or an id) of ``path``, in ``dataset``'s joints, filled."""
    import numpy as np

    from starpose.formats.people import read_people
    from starpose.video.tracking import link_tracks

    people = read_people(path, fmt)
    k = len(next((p for frame in people.frames for p in frame), np.zeros((17, 3))))
    stacked = [np.stack(f) if f else np.zeros((0, k, 3)) for f in people.frames]
    tracks = choose_tracks(link_tracks(people.index, stacked,
                                       min_frames=VideoOptions.min_track_frames), person, path)
    w, h = width or people.size[0], height or people.size[1]
    if not w or not h:
        raise DataError(f"{path}: the image size is not stored in this file; give the image "
                        "width and height (in pixels)")
    out = []
    for track in tracks:
        dense, numbers = track.dense(people.index)
        xy, conf = convert_to_h36m(dense[..., :2], dense[..., 2], people.layout, min_confidence)
        kp = make_sequence(xy, conf, people.layout, f"{_stem(path)}_track{track.id}", path,
                           (float(w), float(h)), fps or people.fps, frame_index=numbers)
        kp = keep_guessed_joints(to_layout(kp, dataset), min_confidence)
        out.append(fill_missing(kp, min_confidence))
    return out


def _stem(path) -> str:
    from pathlib import Path

    return Path(str(path)).stem or Path(str(path)).name
