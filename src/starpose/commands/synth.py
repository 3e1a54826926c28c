"""``starpose synth``: write a synthetic dataset in VideoPose3D's Human3.6M file layout."""
from __future__ import annotations

import argparse
from pathlib import Path

from starpose.commands.common import add_command_parser, non_negative_int
from starpose.datasets.registry import DEFAULT_DATASET, dataset_names
from starpose.errors import StarposeError


def synth_preset(text: str) -> str:
    """A synthetic-data preset of some dataset, checked when the option is parsed (the datasets'
    modules import torch, which ``--help`` must not); whether it is one of the chosen dataset's
    presets is checked when the command runs."""
    from starpose.datasets.registry import get_dataset

    known = dict.fromkeys(p for name in dataset_names() for p in get_dataset(name).synth_presets)
    if text not in known:
        raise argparse.ArgumentTypeError(f"unknown preset {text!r} (choose from {', '.join(known)})")
    return text


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "synth", help="generate a synthetic dataset (Human3.6M, HumanEva-I or MPI-INF-3DHP)",
        description="Write a synthetic copy of a benchmark in its file layout: procedural motion "
        "seen by its cameras, ground-truth and detector-like noisy 2D keypoints. h36m: "
        "data_3d_h36m.npz, data_2d_h36m_gt.npz and data_2d_h36m_noisy.npz (7 subjects x 15 "
        "actions x 2 takes); humaneva: data_*_humaneva15_*.npz; 3dhp: MPI-INF-3DHP's test-set "
        "layout (docs/mpi-inf-3dhp.md).",
        examples=("starpose synth --out data/synthetic/small",
                  "starpose synth --dataset humaneva --out data/synthetic/humaneva --preset small",
                  "starpose synth --dataset 3dhp --out data/3dhp --preset tiny"),
    )
    parser.add_argument("--dataset", choices=dataset_names(), default=DEFAULT_DATASET,
                        help="h36m: 7 subjects x 15 actions x 2 takes, 4 cameras; humaneva: "
                        "Train/Validate S1-S3 x 5 actions, 3 cameras, 60 fps (data_*_humaneva15_*.npz); "
                        "3dhp: MPI-INF-3DHP, 17 joints, PCK/AUC evaluation (default: h36m)")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--preset", type=synth_preset, default="small", metavar="PRESET",
                        help="tiny: tests (seconds); small: CPU demo; h36m-size (h36m): the real "
                        "training split's size, ~1.56M 2D frames; full (humaneva, 3dhp): the real "
                        "sets' take lengths (default: small)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    parser.add_argument("--cameras", default=None, metavar="SET",
                        help="h36m (default): each subject's four Human3.6M cameras; varied: per "
                        "take one Human3.6M camera and three phone/webcam/action cameras anywhere "
                        "around the person (480p-4K, 4:3, 16:9, 9:16, 1:1), detector noise scaled "
                        "to the person's size, written with data_cameras_h36m.npz (h36m only)")
    parser.set_defaults(func=run)



def run(args: argparse.Namespace) -> int:
    from starpose.datasets.registry import get_dataset
    from starpose.io import check_output_path

    check_output_path(args.out, folder=True)
    dataset = get_dataset(args.dataset)
    if dataset.synthesize is None:
        raise StarposeError(f"no synthetic version of {dataset.title}")
    if args.preset not in dataset.synth_presets:
        raise StarposeError(f"unknown preset {args.preset!r} for {dataset.title} "
                            f"(choose from {', '.join(dataset.synth_presets)})")
    options = {}
    if args.cameras is not None:
        known = dataset.extra.get("synth_cameras", ())
        if args.cameras not in known:
            raise StarposeError(f"--cameras {args.cameras}: unknown camera set for {dataset.title} "
                                f"(choose from {', '.join(known) or 'none: it has its own cameras'})")
        options["cameras"] = args.cameras
    paths = dataset.synthesize(args.out, args.preset, args.seed, progress=True, **options)
    for path in paths.values():
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
