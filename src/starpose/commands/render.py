"""``starpose render``: a lifted result back to an animation and/or plots.

Re-renders a result of ``starpose lift`` (2D input beside the 3D skeleton, optionally a ground
truth) as ``.mp4``/``.gif`` with :func:`starpose.lift.render_result`, plots joint trajectories
and per-joint errors; every output goes through one :func:`starpose.io.atomic_files` transaction.
The skeleton (bones, left/right colours, joint names) is that of ``--dataset``, else of the
result's joint names or joint count (:func:`starpose.lift.dataset.result_dataset`).
"""
from __future__ import annotations

import argparse
import re

from starpose.commands.common import (add_command_parser, positive_float,
                                      positive_int)
from starpose.datasets.registry import dataset_names
from starpose.lift.render import DEFAULT_RENDER_FPS


def _parse_size(text: str):
    """``"3"`` -> 3.0 inches per panel; ``"640x360"`` -> the whole frame in pixels."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match:
        return (int(match.group(1)), int(match.group(2)))
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected inches per panel (3) or WxH pixels, got {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return value


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "render", examples=(
            'starpose render walk3d.npz --out walk.gif --plot trajectories.png',
            'starpose render walk3d.npz --ground-truth gt.npz --out walk.mp4 --error-plot per_joint.png',
        ),
        help="animate a lifted result (2D input beside the 3D skeleton)",
        description="Re-render a result of 'starpose lift' (.npz or .json) as an .mp4/.gif "
        "animation, optionally beside a ground truth, and/or plot joint trajectories.",
    )
    parser.add_argument("input", metavar="INPUT_3D", help="a lifted result (.npz or .json)")
    parser.add_argument("--out", metavar="OUT.mp4|OUT.gif", help="animation to write")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="also plot root-relative trajectories of wrists and ankles")
    parser.add_argument("--ground-truth", metavar="GT.npz",
                        help="3D poses (T, J, 3) to show beside the result ('positions_3d'), "
                        "in the result's joints")
    parser.add_argument("--error-plot", metavar="OUT.png",
                        help="with --ground-truth: bar chart of each joint's error (mm, root-relative)")
    parser.add_argument("--azimuth", type=float, default=70.0, help="3D view azimuth (default 70)")
    parser.add_argument("--limit", type=positive_int, help="render at most N frames")
    parser.add_argument("--downsample", type=positive_int, default=1,
                        help="keep every K-th frame (default 1)")
    parser.add_argument("--size", type=_parse_size, default=3.0,
                        help="inches per panel at 100 dpi (default 3) or WxH pixels")
    parser.add_argument("--fps", type=positive_float,
                        help=f"playback rate (default: the stored fps, else {DEFAULT_RENDER_FPS:g})")
    parser.add_argument("--dataset", choices=dataset_names(), default=None,
                        help="skeleton to draw (default: the one of the result's joint names, "
                        "else of its joint count: 17 h36m, 15 humaneva)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from starpose.lift.render_files import RenderOptions, render_files

    frames = render_files(RenderOptions(**{f.name: getattr(args, f.name) for f in fields(RenderOptions)}))
    if args.out is not None:
        print(f"wrote {args.out} ({frames:,} frames)")
    for value in (args.plot, args.error_plot):
        if value is not None:
            print(f"wrote {value}")
    return 0
