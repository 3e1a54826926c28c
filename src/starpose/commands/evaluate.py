"""``starpose evaluate``: a checkpoint and a dataset folder -> per-action error tables (and JSON).

The command loads the model and the test sequences, checks they fit each other, and hands them
to :func:`starpose.evaluate.protocol.evaluate_model`; the protocols themselves live in the library.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from starpose.commands.common import (add_command_parser, add_device_argument, add_threads_argument,
                                      comma_list, positive_int)
from starpose.datasets.registry import dataset_names
from starpose.errors import StarposeError

EXAMPLES = (
    "starpose evaluate --data-dir h36m/ --keypoints cpn_ft_h36m_dbb --checkpoint best.pt",
    "starpose evaluate --data-dir h36m/ --checkpoint best.pt --by-subject --json results.json",
    "starpose evaluate --dataset humaneva --data-dir humaneva/ --keypoints gt --checkpoint best.pt --by-subject",
)


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "evaluate",
        help="evaluate a checkpoint on Human3.6M-format data (protocols #1, #2, #3, MPJVE)",
        description="Evaluate a starpose or published MixSTE checkpoint on the test subjects with the "
        "protocol of the published tables (--protocol published) or with every frame counted once and "
        "the acceleration error (--protocol clean).",
        examples=EXAMPLES,
    )
    parser.add_argument("--dataset", choices=dataset_names(), default="h36m",
                        help="benchmark of the data folder and the checkpoint")
    parser.add_argument("--data-dir", required=True, help="folder with the dataset's 3D file and 2D files "
                        "(h36m: data_3d_h36m.npz and data_2d_h36m_<name>.npz; humaneva: "
                        "data_3d_humaneva15.npz and data_2d_humaneva15_<name>.npz)")
    parser.add_argument("--keypoints", default="gt", help="2D keypoints name, e.g. gt, cpn_ft_h36m_dbb")
    parser.add_argument("--checkpoint", required=True, help="starpose or published checkpoint")
    parser.add_argument("--subjects", type=comma_list,
                        help="comma-separated test subjects (default: the dataset's test subjects, "
                        "h36m S9,S11; humaneva Validate/S1,Validate/S2,Validate/S3)")
    parser.add_argument("--actions", type=comma_list, help="comma-separated action types (default: "
                        "the dataset's evaluated actions, h36m all; humaneva Walk,Jog,Box)")
    parser.add_argument("--num-heads", type=positive_int, default=None,
                        help="heads of a published vanilla checkpoint (default: 8)")
    parser.add_argument("--protocol", choices=("published", "clean"), default="published",
                        help="published: as the published tables count; clean: every frame once")
    parser.add_argument("--by-subject", action="store_true",
                        help="one table per subject, then subject x action tables of P1 and P2")
    parser.add_argument("--no-flip", action="store_true", help="no flip averaging")
    parser.add_argument("--json", metavar="OUT", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="windows per forward pass")
    add_device_argument(parser)
    add_threads_argument(parser)
    parser.add_argument("--amp", choices=("bf16",), default=None, help="bf16 autocast")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from starpose.datasets.registry import get_dataset
    from starpose.evaluate.protocol import check_frames_fit, check_model_fits
    from starpose.evaluate.report import dataset_report
    from starpose.inference.predictors import resolve_device
    from starpose.models.checkpoints import model_from_checkpoint, read_checkpoint

    if args.json:
        from starpose.io import check_output_path

        _check_json_path(args.json)
        check_output_path(args.json, suffixes=(".json",), inputs=(args.checkpoint,))
    checkpoint = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(checkpoint, args.checkpoint, num_heads=args.num_heads,
                                  device=resolve_device(args.device))
    dataset = get_dataset(args.dataset)
    check_model_fits(model, args.checkpoint, dataset)
    sequences = dataset.load(args.data_dir, args.keypoints, list(args.subjects or dataset.subjects_test))
    if args.actions:
        dataset.check_actions(sequences, args.actions, args.data_dir)
    actions = args.actions or dataset.actions_evaluated
    if actions:
        sequences = dataset.select(sequences, actions=actions)
        if not sequences:
            raise StarposeError(f"{args.data_dir}: no test sequence of the actions {','.join(actions)}")
    check_frames_fit(model.num_frames, sequences, args.checkpoint)
    result, text = dataset_report(dataset, model, sequences, protocol=args.protocol, flip=not args.no_flip,
                          by_subject=args.by_subject, batch_size=args.batch_size, amp=args.amp,
                          skeleton=dataset.skeleton, trained_on=_trained_on(checkpoint))
    print(text)
    if args.json:
        _write_json(args, result, sequences, dataset)
    return 0


def _trained_on(checkpoint: dict) -> str:
    """The dataset a checkpoint was trained on (its training config; Human3.6M when unrecorded,
    as for published checkpoints)."""
    config = checkpoint.get("train_config") if isinstance(checkpoint, dict) else None
    return str((config or {}).get("dataset", "h36m")) if isinstance(config, dict) else "h36m"


def _check_json_path(path: Path) -> None:
    """Refuse an unusable --json before the minutes of evaluating."""
    if path.is_dir():
        raise StarposeError(f"{path}: is a folder; give a file name for --json")
    if not path.absolute().parent.is_dir():
        raise StarposeError(f"{path}: the folder {path.absolute().parent} does not exist")


def _write_json(args: argparse.Namespace, result: dict, sequences: list, dataset) -> None:
    """The numbers and what they are of: the dataset, keypoints, subjects and action groups
    evaluated, the protocol and the checkpoint."""
    from starpose.io import atomic_write_text

    payload = {
        "dataset": args.dataset, "keypoints": args.keypoints,
        "subjects": list(dict.fromkeys(s.subject for s in sequences)),
        "actions": sorted({dataset.action_group(s.action) for s in sequences}),
        "protocol": args.protocol, "flip": not args.no_flip,
        "checkpoint": str(args.checkpoint), "tables": result,
    }
    atomic_write_text(args.json, json.dumps(payload, indent=2))
    print(f"wrote {args.json}")
