"""``starpose info``: versions, the compute device and the model presets with their sizes."""
from __future__ import annotations

import argparse

from starpose.commands.common import add_command_parser


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "info", help="show versions, the compute device and the model presets",
        description="Print the starpose, Python and PyTorch versions, the compute device, and each "
        "model preset with its parameter count.",
        examples=("starpose info", "starpose info | grep star-mixste"),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from starpose.info import info_lines

    print("\n".join(info_lines()))
    return 0
