"""``starpose lift`` and ``starpose render``: 2D keypoint files in, 3D joints (and videos) out.

``lift`` reads keypoints in any format of :mod:`starpose.formats`, lifts each sequence with a
MixSTE checkpoint and writes the root-relative 3D joints (camera coordinates, metres) as
``.npz``, ``.json`` or ``.csv``. ``render`` turns such a result back into an animation (2D input
beside the 3D skeleton, optionally the ground truth) and/or a trajectory plot.

Nothing is written unless everything succeeds: all inputs are read and lifted first, every file
goes to a temporary name beside its destination, and only then are they moved into place.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import re
import sys
from pathlib import Path

import numpy as np

from starpose.commands.common import positive_float, positive_int
from starpose.errors import DataError, StarposeError
from starpose.io import temp_beside
from starpose.formats import (
    DEFAULT_MIN_CONFIDENCE,
    FORMAT_TITLES,
    FORMATS,
    H36M_NAMES,
    Keypoints2D,
    load_keypoints,
    read_json,
)

RESULT_SUFFIXES = (".npz", ".json", ".csv")
ANIMATION_SUFFIXES = (".mp4", ".gif")
DEFAULT_RENDER_FPS = 25.0
_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


# --------------------------------------------------------------------------- lifting


def lift_keypoints(model, kp: Keypoints2D, *, flip=True, batch_size=32, device=None) -> dict:
    """Lift one filled :class:`Keypoints2D` sequence to root-relative 3D.

    Returns a dict with ``positions_3d`` ``(T, 17, 3)`` float32 (camera coordinates, metres,
    joint 0 at the origin), ``keypoints_2d`` ``(T, 17, 2)`` pixels, ``confidence`` ``(T, 17)``,
    ``filled`` ``(T, 17)`` bool, ``joint_names``, ``fps`` (None if unknown), ``image_size``
    ``(w, h)``, ``source`` (the input path), ``source_format`` and ``name``.
    """
    from starpose.data.cameras import normalize_screen_coordinates
    from starpose.inference import predict_sequence

    if kp.width is None or kp.height is None:
        raise StarposeError(f"{kp.path or kp.name}: the image size is unknown; cannot normalise")
    if not np.isfinite(kp.xy).all():
        raise StarposeError(f"{kp.path or kp.name}: keypoints have gaps; run fill_missing first")
    joints = getattr(model, "num_joints", 17)
    if joints != 17:
        raise StarposeError(f"the model lifts {joints} joints; keypoint files give the 17 H36M joints")
    normalised = normalize_screen_coordinates(kp.xy.astype(np.float32), kp.width, kp.height)
    poses = predict_sequence(model, normalised.astype(np.float32), flip=flip,
                             batch_size=batch_size, device=device)
    return {
        "positions_3d": np.asarray(poses, dtype=np.float32),
        "keypoints_2d": kp.xy.astype(np.float32),
        "confidence": kp.confidence.astype(np.float32),
        "filled": np.zeros(kp.xy.shape[:2], bool) if kp.filled is None else kp.filled,
        "joint_names": list(H36M_NAMES),
        "fps": kp.fps,
        "image_size": (float(kp.width), float(kp.height)),
        "source": kp.path,
        "source_format": kp.source_format,
        "name": kp.name,
    }


# --------------------------------------------------------------------------- result files


def write_result(result: dict, path) -> Path:
    """Write a :func:`lift_keypoints` result to ``path`` (format from its extension), as is.

    ``.npz``: arrays plus ``joint_names``/``source`` strings and ``fps`` (NaN when unknown),
    readable with ``np.load(path)`` (no pickles). ``.json``: the same as lists (``fps`` null
    when unknown). ``.csv``: one row per frame and joint, ``frame, joint, x, y, z``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _write_npz(result, path)
    elif suffix == ".json":
        path.write_text(json.dumps(_json_ready(result)), encoding="utf-8")
    elif suffix == ".csv":
        _write_csv(result, path)
    else:
        raise StarposeError(f"{path}: unknown result format; use .npz, .json or .csv")
    return path


def _write_npz(result: dict, path: Path) -> None:
    fps = result["fps"]
    with path.open("wb") as fh:
        np.savez_compressed(
            fh,
            positions_3d=result["positions_3d"],
            keypoints_2d=result["keypoints_2d"],
            confidence=result["confidence"],
            filled=result["filled"],
            joint_names=np.array(result["joint_names"]),
            fps=np.float64(math.nan if fps is None else fps),
            image_size=np.array(result["image_size"], dtype=np.float64),
            source=np.array(str(result["source"])),
            source_format=np.array(result["source_format"]),
            name=np.array(result["name"]),
        )


def _json_ready(result: dict) -> dict:
    out = {}
    for key, value in result.items():
        if isinstance(value, np.ndarray):
            value = np.round(value, 6).tolist() if value.dtype.kind == "f" else value.tolist()
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _write_csv(result: dict, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["frame", "time_s", "joint", "x", "y", "z"])
        fps = result.get("fps")
        for t, pose in enumerate(result["positions_3d"]):
            time_s = f"{t / fps:.6f}" if fps else ""  # empty where the frame rate is unknown
            for name, (x, y, z) in zip(result["joint_names"], pose):
                writer.writerow([t, time_s, name, f"{x:.6f}", f"{y:.6f}", f"{z:.6f}"])


def read_result(path) -> dict:
    """Read a result written by :func:`write_result` (``.npz`` or ``.json``) for rendering.

    Returns at least ``positions_3d`` ``(T, 17, 3)``; ``keypoints_2d``, ``image_size`` and
    ``fps`` when stored. A bare ``(T, 17, 3)`` array in an ``.npz``/``.npy`` is accepted too.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        raw = _read_json_result(path)
    elif suffix in (".npz", ".npy"):
        raw = _read_npz_result(path)
    else:
        raise DataError(f"{path}: expected a lifted result (.npz or .json)")
    return _check_result(raw, path)


def _read_json_result(path: Path) -> dict:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object with 'positions_3d'")
    return raw


def _read_npz_result(path: Path) -> dict:
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable numpy file ({err})") from None
    if isinstance(data, np.ndarray):
        return {"positions_3d": data}
    with data:
        try:
            raw = {key: data[key] for key in data.files}
        except ValueError as err:
            raise DataError(f"{path}: holds pickled objects, refused ({err})") from None
    if "positions_3d" not in raw and len(raw) == 1:
        raw = {"positions_3d": next(iter(raw.values()))}
    return raw


def _check_result(raw: dict, path: Path) -> dict:
    if "positions_3d" not in raw:
        raise DataError(f"{path}: no 'positions_3d' array (not a lifted result)")
    poses = _float_array(raw["positions_3d"], path, "positions_3d")
    if poses.ndim != 3 or poses.shape[1:] != (17, 3) or len(poses) == 0:
        raise DataError(f"{path}: positions_3d must have shape (T, 17, 3), got {poses.shape}")
    result = {"positions_3d": poses, "keypoints_2d": None, "image_size": None, "fps": None}
    if raw.get("keypoints_2d") is not None:
        kp2d = _float_array(raw["keypoints_2d"], path, "keypoints_2d")
        if kp2d.shape != poses.shape[:2] + (2,):
            raise DataError(f"{path}: keypoints_2d has shape {kp2d.shape}, expected {poses.shape[:2] + (2,)}")
        result["keypoints_2d"] = kp2d
    if raw.get("image_size") is not None:
        size = _float_array(raw["image_size"], path, "image_size")
        result["image_size"] = tuple(int(round(v)) for v in size)
    fps = raw.get("fps")
    if fps is not None and np.isfinite(float(fps)) and float(fps) > 0:
        result["fps"] = float(fps)
    return result


def _float_array(value, path: Path, key: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {key} is not a numeric array") from None
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: {key} contains NaN or infinite values")
    return arr


# --------------------------------------------------------------------------- staging


@contextlib.contextmanager
def staged_outputs():
    """Yield ``stage(final_path) -> temp_path``; on success move every temp onto its final path.

    On any error the temporary files and the folders created for them are removed, so a failed
    command leaves the file system as it found it.
    """
    pending: list[tuple[Path, Path]] = []
    created: list[Path] = []

    def stage(final: Path) -> Path:
        final = Path(final)
        created.extend(_make_parents(final.parent))
        tmp = temp_beside(final, suffix=final.suffix)
        pending.append((tmp, final))
        return tmp

    try:
        yield stage
        for tmp, final in pending:
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing ancestors; returns the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        raise StarposeError(f"{folder}: exists and is not a folder")
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as err:
            raise StarposeError(f"{path}: cannot create the folder ({err.strerror or err})") from None
    return list(reversed(missing))


# --------------------------------------------------------------------------- output planning


def _safe_name(name: str) -> str:
    """A file name from a sequence name: no folders, no odd characters, no video extension."""
    base = Path(str(name)).name
    if Path(base).suffix.lower() in _VIDEO_SUFFIXES:
        base = Path(base).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "sequence"


def plan_outputs(out, names: list[str], out_format: str = "npz") -> list[Path]:
    """Destination of each sequence: ``out`` itself for one sequence with a result extension,
    else ``out/<name>.<out_format>`` (names made unique)."""
    out = Path(out)
    is_file = out.suffix.lower() in RESULT_SUFFIXES and not out.is_dir()
    if is_file and len(names) == 1:
        return [out]
    if is_file:
        raise StarposeError(
            f"{out}: the inputs hold {len(names)} sequences; give a folder as --out "
            "(one file per sequence)"
        )
    if out.suffix.lower() in (".mp4", ".gif", ".png"):
        raise StarposeError(f"{out}: --out takes .npz, .json or .csv (or a folder)")
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


def _render_targets(render, outputs: list[Path]) -> list[Path]:
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


# --------------------------------------------------------------------------- rendering


def render_result(result: dict, out_path, *, ground_truth=None, fps=None, azimuth=70.0,
                  limit=None, downsample=1, size=3.0) -> int:
    """Render a result (2D panel when stored, lifted 3D, optional ground truth ``(T, 17, 3)``).

    Returns the number of frames written.
    """
    from starpose.viz.animation import render_animation

    poses = {"Lifted 3D": result["positions_3d"]}
    if ground_truth is not None:
        poses["Ground truth"] = ground_truth
    return render_animation(
        result.get("keypoints_2d"),
        poses,
        out_path,
        fps=fps or result.get("fps") or DEFAULT_RENDER_FPS,
        azimuth=azimuth,
        size=size,
        limit=limit,
        downsample=downsample,
        image_size=result.get("image_size"),
        root_relative=True,
    )


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


def add_cli(subparsers) -> None:
    """Register ``starpose lift`` and ``starpose render``."""
    _add_lift_parser(subparsers)
    _add_render_parser(subparsers)


def _add_lift_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "lift", help="lift 2D keypoint files (COCO, MediaPipe, OpenPose, VideoPose3D, npy) to 3D",
        description="Read 2D keypoints, convert them to the Human3.6M 17-joint layout, fill "
        "missing or unsure joints by interpolation, and lift them to root-relative 3D joints "
        "(camera coordinates, metres) with a MixSTE checkpoint. OUT's extension picks the "
        "format (.npz, .json, .csv); with several sequences OUT is a folder.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="keypoint file(s), or OpenPose folder(s)")
    parser.add_argument("--checkpoint", required=True, metavar="FILE", help="MixSTE checkpoint")
    parser.add_argument("--out", required=True, metavar="OUT",
                        help="result file (.npz/.json/.csv), or a folder for several sequences")
    parser.add_argument("--out-format", choices=("npz", "json", "csv"), default="npz",
                        help="file format inside an output folder (default npz)")
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
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="compute device (default: CUDA when available)")
    parser.set_defaults(func=_run_lift)


def _add_render_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "render", help="animate a lifted result (2D input beside the 3D skeleton)",
        description="Re-render a result of 'starpose lift' (.npz or .json) as an .mp4/.gif "
        "animation, optionally beside a ground truth, and/or plot joint trajectories.",
    )
    parser.add_argument("input", metavar="INPUT_3D", help="a lifted result (.npz or .json)")
    parser.add_argument("--out", metavar="OUT.mp4|OUT.gif", help="animation to write")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="also plot root-relative trajectories of wrists and ankles")
    parser.add_argument("--ground-truth", metavar="GT.npz",
                        help="3D poses (T, 17, 3) to show beside the result ('positions_3d')")
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
    parser.set_defaults(func=_run_render)


def _note(message: str) -> None:
    print(f"starpose: {message}", file=sys.stderr)


def _read_inputs(args) -> list[Keypoints2D]:
    """Read, convert and fill every input; raises before anything is written."""
    if not 0.0 <= args.min_confidence <= 1.0:
        raise StarposeError(f"--min-confidence must be within [0, 1], got {args.min_confidence}")
    sequences = []
    for path in args.inputs:
        found = load_keypoints(path, args.fmt, width=args.width, height=args.height,
                               fps=args.fps, min_confidence=args.min_confidence)
        how = "detected" if args.fmt == "auto" else "read"
        title = FORMAT_TITLES[found[0].source_format]
        frames = ", ".join(f"{kp.name}: {kp.num_frames:,} frames" for kp in found)
        size = f"{found[0].width:g}x{found[0].height:g} px"
        print(f"{path}: {how} {title} ({frames}; {size})")
        for kp in found:
            for message in kp.notes:
                _note(f"warning: {message}" if "filled" in message else message)
        sequences.extend(found)
    return sequences


def _run_lift(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from starpose.evaluate import check_model_fits
    from starpose.inference import resolve_device
    from starpose.models.checkpoints import load_model

    device = resolve_device(args.device)
    sequences = _read_inputs(args)
    outputs = plan_outputs(args.out, [kp.name for kp in sequences], args.out_format)
    renders = _render_targets(args.render, outputs)
    model = load_model(args.checkpoint, device=device)
    check_model_fits(model, args.checkpoint)
    results = [
        lift_keypoints(model, kp, flip=not args.no_flip, batch_size=args.batch_size, device=device)
        for kp in tqdm(sequences, desc="lifting", unit="seq", disable=len(sequences) < 2)
    ]
    with staged_outputs() as stage:
        for result, out in zip(results, outputs):
            write_result(result, stage(out))
        for result, target in zip(results, renders):
            render_result(result, stage(target))
    for out, result in zip(outputs, results):
        print(f"wrote {out} ({len(result['positions_3d']):,} frames)")
    for target in renders:
        print(f"wrote {target}")
    return 0


def _read_ground_truth(path, num_frames: int) -> np.ndarray:
    """Root-relative ``(T, 17, 3)`` poses from ``path`` (a result or a bare array)."""
    poses = read_result(path)["positions_3d"]
    if len(poses) != num_frames:
        raise DataError(f"{path}: {len(poses)} frames, but the lifted result has {num_frames}")
    return poses - poses[:, :1]


def _run_render(args: argparse.Namespace) -> int:
    from starpose.viz.plots import plot_per_joint_error, plot_trajectories

    if args.out is None and args.plot is None and args.error_plot is None:
        raise StarposeError("nothing to do: give --out OUT.mp4|OUT.gif, --plot OUT.png and/or --error-plot OUT.png")
    if args.out is not None and Path(args.out).suffix.lower() not in ANIMATION_SUFFIXES:
        raise StarposeError(f"{args.out}: --out must end in .mp4 or .gif")
    for flag, value in (("--plot", args.plot), ("--error-plot", args.error_plot)):
        if value is not None and Path(value).suffix.lower() != ".png":
            raise StarposeError(f"{value}: {flag} must end in .png")
    if args.error_plot is not None and not args.ground_truth:
        raise StarposeError("--error-plot needs --ground-truth")
    result = read_result(args.input)
    truth = None
    if args.ground_truth:
        truth = _read_ground_truth(args.ground_truth, len(result["positions_3d"]))
    with staged_outputs() as stage:
        if args.out is not None:
            frames = render_result(result, stage(Path(args.out)), ground_truth=truth, fps=args.fps,
                                   azimuth=args.azimuth, limit=args.limit,
                                   downsample=args.downsample, size=args.size)
        if args.plot is not None:
            series = {"lifted": result["positions_3d"]}
            if truth is not None:
                series["ground truth"] = truth
            plot_trajectories(series, stage(Path(args.plot)), fps=args.fps or result["fps"])
        if args.error_plot is not None:
            errors_mm = 1000 * np.linalg.norm(result["positions_3d"] - truth, axis=-1).mean(axis=0)
            plot_per_joint_error({"lifted": errors_mm}, stage(Path(args.error_plot)),
                                 title=f"Per-joint error vs {Path(args.ground_truth).name}")
    if args.out is not None:
        print(f"wrote {args.out} ({frames:,} frames)")
    for value in (args.plot, args.error_plot):
        if value is not None:
            print(f"wrote {value}")
    return 0
