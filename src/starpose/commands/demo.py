"""``starpose demo``: synthetic data, a small Star-MixSTE trained on the CPU, a report folder."""
from __future__ import annotations

import argparse
from pathlib import Path

from starpose.commands.common import add_command_parser, add_threads_argument, non_negative_int, positive_int
from starpose.datasets.registry import DEFAULT_DATASET, dataset_names

EXAMPLES = (
    "starpose demo                      # what `make demo` runs",
    "starpose demo --dataset humaneva   # synthetic HumanEva-I, star-mixste-27-humaneva, Walk/Jog/Box",
    "starpose demo --quick              # no training: the bundled model's report in under a minute",
)


def add_parser(subparsers) -> None:
    p = add_command_parser(
        subparsers, "demo",
        help="generate synthetic data, train a small Star-MixSTE on the CPU, evaluate, report",
        description="The main job, with no download: generate the 'small' synthetic dataset (if absent), "
        "train a small Star-MixSTE on its noisy 2D keypoints, evaluate it against a mean-pose baseline "
        "and the bundled model, and write a report folder (tables, plots, an animated GIF).",
        examples=EXAMPLES,
    )
    p.add_argument("--out", type=Path, default="demo_output", help="report folder")
    p.add_argument("--dataset", choices=dataset_names(), default=DEFAULT_DATASET,
                   help="benchmark to imitate: its synthetic 'small' copy, CPU preset, subjects "
                   "and evaluated actions; 3dhp, evaluated by PCK/AUC, is refused: see "
                   "docs/mpi-inf-3dhp.md (default: h36m)")
    p.add_argument("--data-dir", type=Path, default="data/synthetic/small",
                   help="synthetic dataset folder (created if absent; each dataset's files have "
                   "their own names)")
    p.add_argument("--attention", choices=("star", "vanilla"), default="star", help="attention to train")
    p.add_argument("--compare", action="store_true", help="train star and vanilla and compare them")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the demo recipe's)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    add_threads_argument(p)
    p.add_argument("--quick", action="store_true",
                   help="train nothing: evaluate and report the bundled model alone")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from starpose.demo import run_demo

    run_demo(args.out, args.data_dir, args.attention, args.compare, args.seed, args.epochs, quick=args.quick,
             dataset=args.dataset)
    return 0
