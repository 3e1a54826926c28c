"""``starpose export``: convert a checkpoint between starpose's and the published layout, or
write it as ONNX (:mod:`starpose.models.onnx_export`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from starpose.commands.common import add_command_parser, positive_int

EXAMPLES = (
    "starpose export runs/paper/best.pt star_mixste_243.bin --to mixste",
    "starpose export best.pt model.onnx --to onnx --flip --opset 17",
    "starpose export runs/bundled/last.pt src/starpose/weights --to bundled --numbers eval.json",
)


def add_parser(subparsers) -> None:
    parser = add_command_parser(
        subparsers, "export",
        help="convert a checkpoint: published MixSTE layout, starpose layout, ONNX, bundled model",
        description="Write CHECKPOINT in one of four layouts: the published MixSTE/Star-Attention "
        "layout (--to mixste: 'model_pos' with 'module.'-prefixed names), starpose's own layout "
        "(--to starpose), an ONNX graph for ONNX Runtime (--to onnx; docs/lift.md shows how to run "
        "it without starpose), or the bundled model's files (--to bundled: bundled.pt and "
        "bundled.json in a weights folder).",
        examples=EXAMPLES,
    )
    parser.add_argument("checkpoint", help="a starpose or published checkpoint (.pt/.bin)")
    parser.add_argument("out", help="output file (--to bundled: the weights folder)")
    parser.add_argument("--to", choices=("mixste", "starpose", "onnx", "bundled"), required=True,
                        help="target layout (onnx: an ONNX graph with a dynamic batch dimension; bundled: "
                        "bundled.pt and bundled.json, the model shipped in starpose/weights)")
    parser.add_argument("--numbers", metavar="EVAL.json", type=Path, action="append", default=[],
                        help="with --to bundled: `starpose evaluate --json` outputs whose averages the "
                        "manifest records (repeatable)")
    parser.add_argument("--num-heads", type=positive_int, default=None,
                        help="heads of a published vanilla checkpoint (default: 8)")
    parser.add_argument("--no-module-prefix", action="store_true",
                        help="with --to mixste: write names without the 'module.' prefix")
    parser.add_argument("--frames", type=positive_int, default=None,
                        help="with --to onnx: the frame count, which must be the model's (default: the model's)")
    parser.add_argument("--opset", type=positive_int, default=17, help="with --to onnx: the ONNX opset")
    parser.add_argument("--flip", action="store_true",
                        help="with --to onnx: average with the mirrored input inside the graph")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from starpose.io import check_output_path
    from starpose.models.checkpoints import export_checkpoint

    check_output_path(args.out, inputs=(args.checkpoint,), folder=args.to == "bundled")
    if args.to == "bundled":
        return _export_bundled(args)
    if args.to == "onnx":
        return _export_onnx(args)
    out = export_checkpoint(args.checkpoint, args.to, args.out, args.num_heads,
                            module_prefix=not args.no_module_prefix)
    print(f"wrote {out} ({args.to} layout)")
    return 0


def _export_bundled(args: argparse.Namespace) -> int:
    """Package a checkpoint as the bundled model, its self-check measured on fresh tiny synthetic data."""
    from starpose.models import bundled
    from starpose.train import bundle

    numbers = dict(_evaluation_averages(path) for path in args.numbers)
    path = bundle.package_checked(args.checkpoint, args.out, numbers=numbers)
    manifest = bundled.read_manifest() if Path(args.out).resolve() == bundled.WEIGHTS_DIR else None
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) and its manifest"
          + (f"; self-check MPJPE {manifest['self_check']['mpjpe_mm']} mm" if manifest else ""))
    return 0


def _evaluation_averages(path: Path) -> tuple[str, dict]:
    """(``<dataset>_<protocol>``, the Average row) of a ``starpose evaluate --json`` file;
    (``robustness``, its rows) of an ``evaluate --robustness --json`` file."""
    import json

    from starpose.errors import StarposeError

    try:
        payload = json.loads(path.read_text())
        if isinstance(payload, dict) and isinstance(payload.get("robustness"), dict):
            return "robustness", payload["robustness"]
        tables = payload["tables"]
        table = tables.get("all", tables)
        return f"{payload['dataset']}_{payload['protocol']}", table.get("Average", table)
    except (OSError, ValueError, KeyError, AttributeError) as err:
        raise StarposeError(f"{path}: not a `starpose evaluate --json` file ({err})") from None


def _export_onnx(args: argparse.Namespace) -> int:
    from starpose.errors import StarposeError
    from starpose.models.checkpoints import model_from_checkpoint, read_checkpoint
    from starpose.models.onnx_export import check_opset, export_onnx

    try:
        check_opset(args.opset)
        import onnx  # noqa: F401  (the exporter needs it)
    except ValueError as err:
        raise StarposeError(f"{args.out}: {err}") from None
    except ImportError:
        raise StarposeError("ONNX export needs the onnx package: pip install 'starpose[onnx]'") from None
    data = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(data, args.checkpoint, num_heads=args.num_heads)
    from starpose.datasets.registry import recorded_dataset

    dataset = recorded_dataset(data)
    try:
        out = export_onnx(model, args.out, frames=args.frames, opset=args.opset, flip=args.flip,
                          metadata={"dataset": dataset or "unknown"})
    except ValueError as err:
        raise StarposeError(f"{args.checkpoint}: {err}") from None
    print(f"wrote {out} (ONNX opset {args.opset}, {model.config.num_frames} frames, "
          f"{'flip averaging in the graph' if args.flip else 'no flip in the graph'})")
    return 0
