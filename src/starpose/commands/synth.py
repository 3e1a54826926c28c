"""``starpose synth``: write a synthetic dataset in VideoPose3D's Human3.6M file layout."""
from __future__ import annotations

import argparse
from pathlib import Path

from starpose.commands.common import add_command_parser, non_negative_int


def synth_preset(text: str) -> str:
    """A preset of :data:`starpose.data.synthetic.PRESETS`, checked when the command runs (the
    module imports torch, which ``--help`` must not)."""
    from starpose.data.synthetic import PRESETS

    if text not in PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {text!r} (choose from {', '.join(PRESETS)})")
    return text


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "synth", help="generate a synthetic Human3.6M-format dataset",
        description="Write data_3d_h36m.npz, data_2d_h36m_gt.npz and data_2d_h36m_noisy.npz "
        "with procedural motion of 7 subjects x 15 actions x 2 takes, seen by the real cameras.",
        examples=("starpose synth --out data/synthetic/small",
                  "starpose synth --out data/synthetic/tiny --preset tiny --seed 3",
                  "starpose synth --out data/synthetic/h36m-size --preset h36m-size"),
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--preset", type=synth_preset, default="small", metavar="PRESET",
                        help="tiny: tests (seconds); small: CPU demo; h36m-size: the real training "
                        "split's size, ~1.56M 2D frames")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from starpose.data.synthetic import generate_dataset
    from starpose.io import check_output_path

    check_output_path(args.out, folder=True)
    paths = generate_dataset(args.out, args.preset, args.seed, progress=True)
    for path in paths.values():
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
