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
from starpose.datasets.registry import DEFAULT_DATASET, dataset_names, recorded_dataset
from starpose.errors import StarposeError
from starpose.inference.precision import PRECISIONS, amp_of, precision_note, resolve_precision

EXAMPLES = (
    "starpose evaluate --data-dir h36m/ --keypoints cpn_ft_h36m_dbb --checkpoint best.pt --by-subject --json out.json",
    "starpose evaluate --data-dir data/synthetic/small --checkpoint bundled --robustness",
    "starpose evaluate --data-dir synth_varied/ --keypoints noisy --checkpoint bundled --trajectory",
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
    parser.add_argument("--dataset", choices=dataset_names(), default=DEFAULT_DATASET,
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
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="arithmetic of the model: fp32; bf16 (CPUs with native bf16, or a GPU; "
                        "--protocol clean only: the published protocol is evaluated in fp32, as the "
                        "numbers it is compared with); auto: fp32 (docs/performance.md)")
    parser.add_argument("--robustness", action="store_true",
                        help="instead of the action tables: the camera-robustness table (the test "
                        "subjects' takes of --data-dir's 3D file filmed by Human3.6M's cameras, a "
                        "ring of unseen cameras, 16:9 4K off-centre and 9:16 portrait, with "
                        "detector-like 2D noise; MPJPE, P-MPJPE, acceleration error)")
    parser.add_argument("--take-stride", type=positive_int, default=None, metavar="N",
                        help="with --robustness: every N-th take of each test subject (default: all)")
    parser.add_argument("--trajectory", action="store_true",
                        help="instead of the pose tables: world motion on a synthetic set (root "
                        "error, W-MPJPE, foot sliding before/after the contact correction)")
    parser.add_argument("--trajectory-model", metavar="FILE.npz", default="auto",
                        help="with --trajectory: trajectory weights to score beside the geometric "
                        "root (default: the bundled ones, when installed)")
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
    _check_robustness_options(args)
    _check_trajectory_options(args)
    checkpoint = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(checkpoint, args.checkpoint, num_heads=args.num_heads,
                                  device=resolve_device(args.device))
    dataset = get_dataset(args.dataset)
    check_model_fits(model, args.checkpoint, dataset)
    if args.robustness:
        return _robustness(args, model)
    sequences = dataset.load(args.data_dir, args.keypoints, list(args.subjects or dataset.subjects_test))
    if args.actions:
        dataset.check_actions(sequences, args.actions, args.data_dir)
    actions = args.actions or dataset.actions_evaluated
    if actions:
        sequences = dataset.select(sequences, actions=actions)
        if not sequences:
            raise StarposeError(f"{args.data_dir}: no test sequence of the actions {','.join(actions)}")
    check_frames_fit(model.num_frames, sequences, args.checkpoint)
    if args.trajectory:
        return _run_trajectory(args, model, sequences, dataset)
    precision = resolve_precision(args.precision, next(model.parameters()).device.type,
                                  published_protocol=args.protocol == "published")
    if precision != "fp32":
        print(f"precision: {precision_note(args.precision, precision)}")
    result, text = dataset_report(dataset, model, sequences, protocol=args.protocol, flip=not args.no_flip,
                          by_subject=args.by_subject, batch_size=args.batch_size, amp=amp_of(precision),
                          skeleton=dataset.skeleton, trained_on=recorded_dataset(checkpoint, DEFAULT_DATASET))
    print(text)
    if args.json:
        _write_json(args, result, sequences, dataset)
    return 0


def _check_trajectory_options(args: argparse.Namespace) -> None:
    """--trajectory's table has no use for the pose tables' options: refused, not ignored."""
    if not args.trajectory:
        if args.trajectory_model != "auto":
            raise StarposeError("--trajectory-model is for --trajectory")
        return
    unused = [flag for flag, used in (("--robustness", args.robustness),
                                      ("--protocol", args.protocol != "published"),
                                      ("--by-subject", args.by_subject),
                                      ("--precision bf16", args.precision == "bf16")) if used]
    if unused:
        raise StarposeError(f"--trajectory scores world motion, every frame once; it does not "
                            f"take {', '.join(unused)}")


def _run_trajectory(args, model, sequences, dataset) -> int:
    from starpose.evaluate.trajectory import trajectory_report
    from starpose.lift.world import trajectory_model

    if dataset.num_joints != 17:
        raise StarposeError(f"--trajectory: world motion needs the 17 Human3.6M joints, not "
                            f"{dataset.title}'s {dataset.num_joints}")
    result, text = trajectory_report(model, sequences, fps=float(dataset.fps), flip=not args.no_flip,
                                     trajectory_model=trajectory_model(args.trajectory_model),
                                     batch_size=args.batch_size)
    print(text)
    if args.json:
        _write_json(args, {"trajectory": result}, sequences, dataset)
    return 0


def _check_robustness_options(args: argparse.Namespace) -> None:
    """Options that the robustness table has no use for are refused, not ignored."""
    unused = [flag for flag, used in (("--dataset", args.dataset != "h36m"),
                                      ("--keypoints", args.keypoints != "gt"),
                                      ("--protocol", args.protocol != "published"),
                                      ("--actions", bool(args.actions)),
                                      ("--by-subject", args.by_subject),
                                      ("--precision bf16", args.precision == "bf16")) if used]
    if args.take_stride and not args.robustness:
        raise StarposeError("--take-stride is only used with --robustness")
    if args.robustness and unused:
        raise StarposeError(f"--robustness makes its own Human3.6M-layout 2D keypoints and scores "
                            f"every frame once; it does not take {', '.join(unused)}")


def _robustness(args: argparse.Namespace, model) -> int:
    from starpose.evaluate.robustness import format_robustness, robustness_table, held_out_takes
    from starpose.io import atomic_write_text

    subjects = tuple(args.subjects or ("S9", "S11"))
    takes = held_out_takes(args.data_dir, subjects, stride=args.take_stride or 1)
    rows = robustness_table(model, takes, flip=not args.no_flip,
                            batch_size=args.batch_size, progress=True)
    print(format_robustness(rows, f"camera robustness: {args.checkpoint} on {', '.join(subjects)}"))
    if args.json:
        payload = {"checkpoint": str(args.checkpoint), "data_dir": str(args.data_dir),
                   "subjects": list(subjects), "take_stride": args.take_stride or 1,
                   "flip": not args.no_flip, "robustness": rows}
        atomic_write_text(args.json, json.dumps(payload, indent=2))
        print(f"wrote {args.json}")
    return 0


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
