"""The video half of ``starpose lift``: its options, and the glue to
:func:`starpose.lift.video_files.lift_video_files` (detect, track and lift every person, write
one result per track). :mod:`starpose.commands.lift` hands a run over when its inputs are videos
or image folders.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from starpose.commands.common import positive_int
from starpose.errors import StarposeError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
_IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Options that only videos take, with the value that means "not given" (``--person`` also
#: picks tracks of multi-person COCO and OpenPose files).
VIDEO_ONLY = {"save_2d": None, "detector_model": None, "online": False,
              "max_people": None}


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
                       help="most people detected per frame (default 4)")


def is_video(path: str) -> bool:
    p = Path(path)
    if p.is_dir():
        return any(f.suffix.lower() in _IMAGES for f in p.iterdir())
    return p.suffix.lower() in VIDEO_SUFFIXES


def refuse_video_options(args) -> None:
    """Keypoint files take none of the video options: say so rather than ignore them."""
    given = [f"--{k.replace('_', '-')}" for k, off in VIDEO_ONLY.items() if getattr(args, k) != off]
    if given:
        raise StarposeError(f"{', '.join(given)}: only for videos and image folders; the inputs "
                            "are keypoint files")


def _refuse_keypoint_options(args) -> None:
    if not all(is_video(p) for p in args.inputs):
        raise StarposeError("give either videos (or image folders) or keypoint files, not both")
    taken = {"--format": args.fmt != "auto", "--width/--height": args.width is not None,
             "--fps": args.fps is not None, "--out-format bvh": args.out_format == "bvh",
             "--stride with --online": args.online and args.stride is not None}
    wrong = [name for name, bad in taken.items() if bad]
    if wrong:
        raise StarposeError(f"{', '.join(wrong)}: not for videos (a video states its size and "
                            "frame rate; its results are .npz, .json or .csv)")


def run_videos(args, open_model, make_predictor) -> int:
    """Lift the videos of ``args.inputs`` with the model of ``open_model``/``make_predictor``
    (the keypoint path's own)."""
    from starpose.inference.predictors import resolve_device
    from starpose.lift.video import VideoOptions
    from starpose.lift.video_files import VideoOutputs, lift_video_files

    _refuse_keypoint_options(args)
    if not 0.0 <= args.min_confidence <= 1.0:
        raise StarposeError(f"--min-confidence must be within [0, 1], got {args.min_confidence}")
    device = resolve_device(args.device)
    (model, dataset), problem = open_model(args, device)
    if problem is not None:
        raise problem
    predictor = make_predictor(args, model, dataset, device)
    given = {"person": args.person, "detector_model": args.detector_model,
             "max_people": args.max_people, "stride": args.stride}
    options = VideoOptions(online=args.online, min_confidence=args.min_confidence,
                           **{k: v for k, v in given.items() if v is not None})
    outputs = VideoOutputs(args.out, args.out_format, args.save_2d, args.render)
    for line in lift_video_files(args.inputs, predictor, dataset, options, outputs,
                                 progress=True):
        print(line)
    return 0
