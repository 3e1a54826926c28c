"""``starpose export``: convert a checkpoint between starpose's and the published layout."""
from __future__ import annotations

import argparse

from starpose.commands.common import add_command_parser, positive_int

EXAMPLES = (
    "starpose export runs/paper/best.pt star_mixste_243.bin --to mixste",
    "starpose export published.bin model.pt --to starpose --num-heads 8",
    "starpose export best.pt plain.bin --to mixste --no-module-prefix",
)


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "export",
        help="convert a checkpoint between the starpose and the published MixSTE layouts",
        description="Write CHECKPOINT in the published MixSTE/Star-Attention layout (--to mixste: "
        "'model_pos' with 'module.'-prefixed names) or in starpose's own layout (--to starpose).",
        examples=EXAMPLES,
    )
    parser.add_argument("checkpoint", help="a starpose or published checkpoint (.pt/.bin)")
    parser.add_argument("out", help="output file")
    parser.add_argument("--to", choices=("mixste", "starpose"), required=True, help="target layout")
    parser.add_argument("--num-heads", type=positive_int, default=None,
                        help="heads of a published vanilla checkpoint (default: 8)")
    parser.add_argument("--no-module-prefix", action="store_true",
                        help="with --to mixste: write names without the 'module.' prefix")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from starpose.io import check_output_path
    from starpose.models.checkpoints import export_checkpoint

    check_output_path(args.out, inputs=(args.checkpoint,))
    out = export_checkpoint(args.checkpoint, args.to, args.out, args.num_heads,
                            module_prefix=not args.no_module_prefix)
    print(f"wrote {out} ({args.to} layout)")
    return 0
