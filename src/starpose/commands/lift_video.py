"""The video options of ``starpose lift`` (:mod:`starpose.commands.lift` adds them to its
parser); :func:`starpose.lift.pipeline.lift_files` takes videos and image folders through
:mod:`starpose.lift.video_files`.
"""
from __future__ import annotations

import argparse

from starpose.commands.common import positive_int
from starpose.lift.video import VideoOptions


def person_choice(text: str):
    """``all`` or a track id (1, 2, ...)."""
    if text == "all":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'all' or a track number 1, 2, ..., got {text!r}")
    return value


def add_video_arguments(parser) -> None:
    group = parser.add_argument_group(
        "videos (INPUT is a .mp4/.mov/.avi/.mkv/.webm file or a folder of images)")
    group.add_argument("--person", type=person_choice, default=None, metavar="all|N",
                       help="lift every tracked person (all, the default for videos: one result "
                       "per track) or track N (numbered in order of appearance); also tracks "
                       "the people of COCO and OpenPose files (without it they keep one)")
    group.add_argument("--save-2d", metavar="FILE.json",
                       help="also write the detections as COCO-17 JSON (image_id = frame number, "
                       "track_id), which starpose lift reads again without detecting")
    group.add_argument("--detector-model", metavar="FILE",
                       help="a pose model of your own instead of the bundled BlazePose: a "
                       "MediaPipe pose landmarker .task file, or a YOLO-pose .onnx file "
                       "(docs/lift.md gives the inputs and outputs it must have)")
    group.add_argument("--online", action="store_true",
                       help="lift causally, as for a live camera: each frame from itself and "
                       "the frames before it (the window ends at the current frame)")
    group.add_argument("--max-people", type=positive_int, default=None,
                       help=f"most people detected per frame (default {VideoOptions.max_people})")
