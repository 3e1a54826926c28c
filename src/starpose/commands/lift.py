"""``starpose lift``: 2D keypoint files in, root-relative 3D joints (and optionally animations) out.

The command parses; :func:`starpose.lift.pipeline.lift_files` does the work.
"""
from __future__ import annotations

import argparse

from starpose.commands.common import (add_command_parser, add_device_argument, positive_float,
                                      positive_int, add_threads_argument)
from starpose.commands.lift_video import add_video_arguments
from starpose.datasets.registry import dataset_names
from starpose.formats import FORMATS
from starpose.inference.precision import BF16_BY_DEFAULT, MEASURED_CHANGE_MM, PRECISIONS
from starpose.lift.options import DEFAULTS, LiftOptions
from starpose.lift.writers import OUTPUT_SUFFIXES


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "lift", examples=(
            'starpose lift clip.mp4 --out clip3d.npz --render clip3d.mp4   # every person, one file each',
            'starpose lift clip.mp4 --person 1 --online --out clip3d.npz --save-2d clip2d.json',
            'starpose lift detections.json --out walk3d.npz --width 1920 --height 1080   # the bundled model',
            'starpose lift detections.json --checkpoint best.pt --out walk3d.npz --render walk.mp4',
            'starpose lift openpose_clip/ --checkpoint best.pt --out walk3d.json --width 1920 --height 1080',
            'starpose lift clips/*.json --checkpoint best.pt --out results/ --out-format csv',
            'starpose lift walk15.npy --checkpoint he27/best.pt --out walk3d.npz --width 640 --height 480',
        ),
        help="lift videos, or 2D keypoint files (COCO, MediaPipe, OpenPose, VideoPose3D, npy), to 3D",
        description="Detect and track the people of a video (bundled BlazePose, offline), or read 2D keypoints, convert them to the model's joint layout (the "
        "Human3.6M 17 joints; HumanEva-I's 15 for a HumanEva-I model), fill missing or unsure "
        "joints by interpolation, and lift them to root-relative 3D joints (camera coordinates, "
        "metres) with a MixSTE checkpoint. OUT's extension picks the format (.npz, .json, .csv); "
        "with several sequences OUT is a folder.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video(s), image folder(s), keypoint file(s) or OpenPose folder(s)")
    parser.add_argument("--checkpoint", metavar="FILE",
                        help="MixSTE checkpoint (--runtime torch); default: the bundled model, a "
                        "Star-MixSTE trained on starpose's synthetic data (docs/bundled-model.md)")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help=f"result file ({'/'.join(OUTPUT_SUFFIXES)}), or a folder for several sequences")
    parser.add_argument("--out-format", choices=tuple(s.lstrip(".") for s in OUTPUT_SUFFIXES), default=DEFAULTS["out_format"],
                        help="file format inside an output folder (default: npz)")
    parser.add_argument("--format", dest="fmt", choices=("auto",) + FORMATS, default=DEFAULTS["fmt"],
                        help="input format (default: detect it)")
    parser.add_argument("--width", type=positive_float, help="image width in pixels "
                        "(needed where the file does not store it; overrides the file)")
    parser.add_argument("--height", type=positive_float, help="image height in pixels")
    parser.add_argument("--fps", type=positive_float, help="frame rate stored with the result")
    parser.add_argument("--no-flip", action="store_true",
                        help="skip flip averaging (about twice as fast, slightly less accurate)")
    parser.add_argument("--min-confidence", type=float, default=DEFAULTS["min_confidence"],
                        metavar="C", help="joints below this confidence are interpolated "
                        f"(default {DEFAULTS['min_confidence']})")
    parser.add_argument("--render", metavar="OUT.mp4|OUT.gif",
                        help="also write an animation (a folder when there are several sequences)")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULTS["batch_size"],
                        help="windows per forward pass (default: %(default)s)")
    parser.add_argument("--stride", type=positive_int, default=None, metavar="S",
                        help="frames between window starts; each frame is the Hann-weighted mean "
                        "of the windows covering it (default: half the model's frames; "
                        "the model's frame count: non-overlapping windows)")
    parser.add_argument("--num-heads", type=positive_int, default=None,
                        help="heads of a published vanilla checkpoint without a stored "
                        "configuration (default: 8)")
    parser.add_argument("--runtime", choices=("torch", "onnx"), default=DEFAULTS["runtime"],
                        help="torch: --checkpoint with PyTorch; onnx: --model with ONNX Runtime")
    parser.add_argument("--model", metavar="FILE.onnx", help="ONNX export (--runtime onnx)")
    parser.add_argument("--dataset", choices=dataset_names(), default=None,
                        help="the joints the model lifts (default: the dataset the checkpoint was "
                        "trained on; for a checkpoint that records none, the one of its joint "
                        "count: 17 h36m, 15 humaneva); arrays are read in its joint order")
    add_device_argument(parser, DEFAULTS["device"])
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS["precision"],
                        help="arithmetic of the lifter: fp32, bf16 (CPUs with native bf16, or a "
                        "GPU), or auto: " + ("bf16 where native" if BF16_BY_DEFAULT else
                        "fp32, because bf16 changes the bundled model's acceleration error by "
                        f"{MEASURED_CHANGE_MM['accel_error']:.2f} mm, above the bar") +
                        " (docs/performance.md)")
    add_video_arguments(parser)
    add_world_arguments(parser)
    add_threads_argument(parser)
    parser.set_defaults(func=run)


def add_world_arguments(parser) -> None:
    world = parser.add_argument_group("the camera and world motion (17-joint models; docs/lift.md)")
    world.add_argument("--focal-px", type=float, metavar="F",
                       help="the camera's focal length in pixels (for world motion, and for "
                       "models that take camera rays, as the bundled one does)")
    world.add_argument("--fov", type=float, metavar="DEG", help="the camera's field of view on "
                       "the image's long side, degrees (default: 70, a phone's; used like --focal-px)")
    world.add_argument("--trajectory", default=DEFAULTS["trajectory"], metavar="auto|geometric|FILE.npz",
                       help="how the root is placed: the bundled trajectory model (auto), the "
                       "geometric estimate, or trajectory weights")
    world.add_argument("--stature", type=float, metavar="M",
                       help="the person's height in metres (default: the trajectory model's "
                       "estimate, else 1.70): sets the body's size and so its distance")
    world.add_argument("--no-foot-lock", action="store_true",
                       help="keep the foot sliding (no contact correction)")
    world.add_argument("--no-world", action="store_true",
                       help="root-relative positions_3d only (no trajectory, floor, contacts)")


def run(args: argparse.Namespace) -> int:
    from starpose.lift.pipeline import lift_files

    lifted = lift_files(LiftOptions(**{name: getattr(args, name) for name in DEFAULTS}))
    for item in lifted:
        print(f"wrote {item.out} ({item.frames:,} frames{item.world})")
    for item in lifted:
        if item.render is not None:
            print(f"wrote {item.render}")
    return 0
