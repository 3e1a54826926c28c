"""``starpose lift``: 2D keypoint files in, root-relative 3D joints (and optionally animations) out.

Reads keypoints in any format of :mod:`starpose.formats`, lifts each sequence with a MixSTE
checkpoint (:func:`starpose.lift.lift_keypoints`) and writes ``.npz``, ``.json`` or ``.csv``
results. Nothing is written unless everything succeeds: all inputs are read and lifted first,
then every output goes through one :func:`starpose.io.atomic_files` transaction.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from starpose.commands.common import (add_command_parser, add_device_argument, positive_float,
                                      positive_int)
from starpose.commands.lift_video import add_video_arguments, is_video, refuse_video_options, run_videos
from starpose.datasets.registry import DEFAULT_DATASET, dataset_names, get_dataset
from starpose.errors import StarposeError
from starpose.formats import (
    DEFAULT_MIN_CONFIDENCE,
    FORMATS,
    H36M_NAMES,
    Keypoints2D,
    NoKeypointsError,
    format_title,
    load_keypoints,
)
from starpose.lift.render import ANIMATION_SUFFIXES
from starpose.lift.results import RESULT_SUFFIXES

#: What ``--out`` takes: the result files, and a BVH animation (:func:`starpose.mocap.write_bvh`).
OUTPUT_SUFFIXES = RESULT_SUFFIXES + (".bvh",)

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


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
        description="Detect and track the people of a video (bundled BlazePose, offline) or read 2D keypoints, convert them to the model's joint layout (the "
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
                        help="result file (.npz/.json/.csv), or a folder for several sequences")
    parser.add_argument("--out-format", choices=("npz", "json", "csv", "bvh"), default=None,
                        help="file format inside an output folder (default: npz)")
    parser.add_argument("--format", dest="fmt", choices=("auto",) + FORMATS, default="auto",
                        help="input format (default: detect it)")
    parser.add_argument("--width", type=positive_float, help="image width in pixels "
                        "(needed where the file does not store it; overrides the file)")
    parser.add_argument("--height", type=positive_float, help="image height in pixels")
    parser.add_argument("--fps", type=positive_float, help="frame rate stored with the result")
    parser.add_argument("--no-flip", action="store_true",
                        help="skip flip averaging (about twice as fast, slightly less accurate)")
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                        metavar="C", help="joints below this confidence are interpolated "
                        f"(default {DEFAULT_MIN_CONFIDENCE})")
    parser.add_argument("--render", metavar="OUT.mp4|OUT.gif",
                        help="also write an animation (a folder when there are several sequences)")
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="windows per forward pass (default 32)")
    parser.add_argument("--stride", type=positive_int, default=None, metavar="S",
                        help="frames between window starts; each frame is the Hann-weighted mean "
                        "of the windows covering it (default: half the model's frames; "
                        "the model's frame count: non-overlapping windows)")
    parser.add_argument("--num-heads", type=positive_int, default=None,
                        help="heads of a published vanilla checkpoint without a stored "
                        "configuration (default: 8)")
    parser.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                        help="torch: --checkpoint with PyTorch; onnx: --model with ONNX Runtime")
    parser.add_argument("--model", metavar="FILE.onnx", help="ONNX export (--runtime onnx)")
    parser.add_argument("--dataset", choices=dataset_names(), default=None,
                        help="the joints the model lifts (default: the dataset the checkpoint was "
                        "trained on; for a checkpoint that records none, the one of its joint "
                        "count: 17 h36m, 15 humaneva); arrays are read in its joint order")
    add_device_argument(parser)
    add_video_arguments(parser)
    parser.set_defaults(func=run)


def _safe_name(name: str) -> str:
    """A file name from a sequence name: no folders, no odd characters, no video extension."""
    base = Path(str(name)).name
    if Path(base).suffix.lower() in _VIDEO_SUFFIXES:
        base = Path(base).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "sequence"


def plan_outputs(out, names: list[str], out_format: str | None = None) -> list[Path]:
    """Destination of each sequence: ``out`` itself for one sequence with a result extension,
    else ``out/<name>.<out_format>`` (names made unique, ``npz`` by default)."""
    out = Path(out)
    is_file = out.suffix.lower() in OUTPUT_SUFFIXES and not out.is_dir()
    if is_file and out_format is not None and f".{out_format}" != out.suffix.lower():
        raise StarposeError(f"{out}: --out-format {out_format} conflicts with the extension of "
                            "--out; give one of them")
    if out.suffix and not is_file and not out.is_dir():
        raise StarposeError(f"{out}: --out takes a file ending in .npz, .json, .csv or .bvh, or a folder")
    out_format = out_format or "npz"
    if is_file and len(names) == 1:
        return [out]
    if is_file:
        raise StarposeError(
            f"{out}: the inputs hold {len(names)} sequences; give a folder as --out "
            "(one file per sequence)"
        )
    if out.exists() and not out.is_dir():
        raise StarposeError(f"{out}: exists and is not a folder")
    paths, used = [], set()
    for name in names:
        stem, k = _safe_name(name), 2
        candidate = stem
        while candidate in used:
            candidate, k = f"{stem}_{k}", k + 1
        used.add(candidate)
        paths.append(out / f"{candidate}.{out_format}")
    return paths


def render_targets(render, outputs: list[Path]) -> list[Path]:
    """Animation paths: ``render`` itself for one sequence, else ``render/<output stem>.mp4``."""
    if render is None:
        return []
    render = Path(render)
    suffix = render.suffix.lower()
    if len(outputs) == 1 and suffix in ANIMATION_SUFFIXES:
        return [render]
    if suffix:
        raise StarposeError(
            f"{render}: --render must end in .mp4 or .gif"
            + (" (or be a folder when there are several sequences)" if len(outputs) > 1 else "")
        )
    return [render / f"{out.stem}.mp4" for out in outputs]


def _note(message: str) -> None:
    print(f"starpose: {message}", file=sys.stderr)


def _read_inputs(args, dataset) -> list[Keypoints2D]:
    """Read, convert to ``dataset``'s joints and fill every input; raises before anything is
    written."""
    if not 0.0 <= args.min_confidence <= 1.0:
        raise StarposeError(f"--min-confidence must be within [0, 1], got {args.min_confidence}")
    from starpose.lift.people_files import load_tracks

    sequences = []
    for path in args.inputs:
        try:
            found = (load_tracks(path, args.fmt, args.person, dataset, width=args.width,
                                 height=args.height, fps=args.fps,
                                 min_confidence=args.min_confidence) if args.person is not None
                     else load_keypoints(path, args.fmt, width=args.width, height=args.height,
                                         fps=args.fps, min_confidence=args.min_confidence,
                                         dataset=dataset))
        except NoKeypointsError as err:
            raise StarposeError(f"{err}{_option_hint(err)}") from None
        how = "detected" if args.fmt == "auto" else "read"
        title = format_title(found[0].source_format, dataset)
        frames = ", ".join(f"{kp.name}: {kp.num_frames:,} frames" for kp in found)
        size = f"{found[0].width:g}x{found[0].height:g} px"
        print(f"{path}: {how} {title} ({frames}; {size})")
        for kp in found:
            for note in kp.notes:
                _note(f"warning: {note.text}" if note.kind.is_warning else note.text)
        sequences.extend(found)
    return sequences


def _option_hint(err: NoKeypointsError) -> str:
    """The options that would read the file: the format it looks like, a lower threshold."""
    hints = [f"--format {err.detected}"] if err.detected else []
    if err.highest_confidence is not None:
        hints.append("--min-confidence 0" if err.highest_confidence == 0
                     else f"a lower --min-confidence (at most {err.highest_confidence:g})")
    return f" (try {' or '.join(hints)})" if hints else ""


def _out_folder_lock(out, outputs: list[Path]):
    """One lift at a time writes into an output folder (:mod:`starpose.runlock`); a single
    output file needs no lock, its atomic replacement is never half-written."""
    import contextlib

    from starpose.runlock import folder_lock

    if outputs == [Path(out)]:
        return contextlib.nullcontext()
    Path(out).mkdir(parents=True, exist_ok=True)
    return folder_lock(out, "lift", remove=True)


def _check_outputs(args, outputs: list[Path], renders: list[Path]) -> None:
    """Refuse outputs that would overwrite an input or the model, or cannot be written."""
    from starpose.io import check_output_path

    reads = tuple(args.inputs) + tuple(p for p in (args.checkpoint, args.model) if p)
    for out in outputs:
        check_output_path(out, suffixes=OUTPUT_SUFFIXES, inputs=reads)
    for target in renders:
        check_output_path(target, suffixes=ANIMATION_SUFFIXES, inputs=reads)


def _load_model(args, device):
    """The model of ``--runtime`` (a MixSTE, or an ONNX Runtime predictor), the dataset it records
    (None where it records none) and the file it came from."""
    from starpose.lift.dataset import recorded_dataset

    if args.runtime == "onnx":
        if not args.model:
            raise StarposeError("--runtime onnx needs --model FILE.onnx")
        try:
            from starpose.inference.onnx_runtime import OnnxPredictor
        except ImportError as err:
            raise StarposeError(f"--runtime onnx is not available in this installation ({err})") from None
        predictor = OnnxPredictor(args.model, flip=not args.no_flip, batch_size=args.batch_size)
        return predictor, predictor.metadata.get("dataset"), args.model
    if not args.checkpoint:
        from starpose.models.bundled import BUNDLED, describe

        print(f"using the {describe()}", file=sys.stderr)
        args.checkpoint = BUNDLED
    from starpose.models.checkpoints import model_from_checkpoint, read_checkpoint

    checkpoint = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(checkpoint, args.checkpoint, num_heads=args.num_heads, device=device)
    return model, recorded_dataset(checkpoint), args.checkpoint


def _open_model(args, device):
    """``(model, dataset)`` (:func:`_load_model`; the dataset whose joints it lifts,
    :func:`starpose.lift.dataset.lift_dataset`) and None, or ``(None, --dataset or Human3.6M)`` and
    the error that made the model unusable: the inputs and outputs are checked first, their
    problems being the quicker to fix, then the error is raised."""
    from starpose.lift.dataset import lift_dataset

    try:
        model, recorded, source = _load_model(args, device)
    except StarposeError as err:
        return (None, get_dataset(args.dataset or DEFAULT_DATASET)), err
    return (model, lift_dataset(args.dataset, recorded, model.num_joints, source)), None


def _predictor(args, model, dataset, device):
    """The window predictor of a model from :func:`_load_model` that lifts ``dataset``'s joints."""
    if args.runtime == "onnx":
        if len(model.flip_permutation) != model.num_joints and model.flip:
            raise StarposeError(f"{args.model}: its flip permutation has {len(model.flip_permutation)} "
                                f"joints for a {model.num_joints}-joint model; export it again, "
                                "or lift with --no-flip")
        return model
    from starpose.evaluate.protocol import check_model_fits
    from starpose.inference.predictors import TorchPredictor

    check_model_fits(model, args.checkpoint, dataset)
    return TorchPredictor(model, flip=not args.no_flip, batch_size=args.batch_size, device=device,
                          skeleton=dataset.skeleton)


def _check_bvh(outputs: list[Path], dataset) -> None:
    """BVH files carry the Human3.6M 17-joint rig (:mod:`starpose.mocap`); refuse other joints."""
    for out in outputs:
        if out.suffix.lower() == ".bvh" and tuple(dataset.skeleton.names) != H36M_NAMES:
            raise StarposeError(f"{out}: a BVH file holds the Human3.6M 17-joint skeleton, not the "
                                f"{dataset.num_joints} {dataset.title} joints this model lifts; "
                                "write .npz, .json or .csv")


def _lift_into(predictor, kp: Keypoints2D, path: Path, stride, keep: bool, root: int = 0):
    """Stream one sequence's poses into the result file ``path`` (joint ``root`` at the origin);
    returns them when ``keep``."""
    import numpy as np
    from tqdm import tqdm

    from starpose.lift.lifting import result_meta, stream_keypoints
    from starpose.lift.stream import ResultWriter

    writer, kept = ResultWriter(path, result_meta(kp), kp.num_frames, kp.xy.shape[1]), []
    # frames/s and the time left; a plain line every few seconds when stderr is not a terminal
    bar = tqdm(total=kp.num_frames, desc=kp.name, unit="frame", unit_scale=True,
               mininterval=0.5 if sys.stderr.isatty() else 10.0)
    try:
        for _, block in stream_keypoints(predictor, kp, stride=stride, root=root,
                                         chunk_windows=_chunk_windows(predictor)):
            writer.write(block)
            bar.update(len(block))
            if keep:
                kept.append(block)
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    writer.close()
    return np.concatenate(kept) if keep else None


def _lift_to_bvh(predictor, kp: Keypoints2D, path: Path, stride):
    """Lift one sequence and write it as a BVH animation (all frames at once: the bone lengths
    are medians over the sequence); returns the poses."""
    import tempfile

    from starpose.mocap import write_bvh

    with tempfile.TemporaryDirectory() as scratch:
        poses = _lift_into(predictor, kp, Path(scratch) / "result.npz", stride, keep=True)
    write_bvh(path, poses, kp.fps or DEFAULT_BVH_FPS)
    return poses


#: The frame rate of a BVH written from an input that does not state its own.
DEFAULT_BVH_FPS = 50.0


def _chunk_windows(predictor) -> int:
    """Windows per chunk: a multiple of the predictor's batch, so that chunking keeps its batches
    (and the result equals the all-at-once one exactly)."""
    return 4 * int(getattr(predictor, "batch_size", 32))


def run(args: argparse.Namespace) -> int:
    from starpose.inference.predictors import resolve_device
    from starpose.io import atomic_files
    from starpose.lift import render_result
    from starpose.lift.lifting import result_meta

    if any(is_video(p) for p in args.inputs):
        return run_videos(args, _open_model, _predictor)
    refuse_video_options(args)
    if (args.width is None) != (args.height is None):
        raise StarposeError("give both --width and --height, or neither")
    device = resolve_device(args.device)
    (model, dataset), problem = _open_model(args, device)
    sequences = _read_inputs(args, dataset)
    outputs = plan_outputs(args.out, [kp.name for kp in sequences], args.out_format)
    renders = render_targets(args.render, outputs)
    _check_outputs(args, outputs, renders)
    if problem is not None:
        raise problem
    predictor = _predictor(args, model, dataset, device)
    _check_bvh(outputs, dataset)
    if args.stride is not None and args.stride > predictor.frames:
        raise StarposeError(f"--stride {args.stride} exceeds the model's {predictor.frames} frames")
    with _out_folder_lock(args.out, outputs), atomic_files() as stage:
        for i, (kp, out) in enumerate(zip(sequences, outputs)):
            if out.suffix.lower() == ".bvh":
                poses = _lift_to_bvh(predictor, kp, stage(out), args.stride)
            else:
                poses = _lift_into(predictor, kp, stage(out), args.stride, keep=i < len(renders),
                                   root=dataset.root)
            if i < len(renders):
                render_result({"positions_3d": poses, **result_meta(kp)}, stage(renders[i]),
                              skeleton=dataset.skeleton)
    for out, kp in zip(outputs, sequences):
        print(f"wrote {out} ({kp.num_frames:,} frames)")
    for target in renders:
        print(f"wrote {target}")
    return 0
