"""Lifting users' files, the library function behind ``starpose lift``: :func:`lift_files`.

Reads keypoints in any format of :mod:`starpose.formats`, lifts each sequence with a MixSTE
checkpoint (or an ONNX export), streams the poses into the writer of each output's format
(:mod:`starpose.lift.writers`) and optionally renders them. Nothing is written unless everything
succeeds: all inputs are read first, then every output goes through one
:func:`starpose.io.atomic_files` transaction.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from starpose.datasets.registry import DEFAULT_DATASET, get_dataset, recorded_dataset
from starpose.errors import OptionError, StarposeError
from starpose.inference.precision import amp_of, precision_note, resolve_precision
from starpose.formats import H36M_NAMES, Keypoints2D, NoKeypointsError, format_title, load_keypoints
from starpose.lift.options import LiftOptions
from starpose.lift.render import ANIMATION_SUFFIXES, render_result
from starpose.lift.writers import OUTPUT_SUFFIXES, open_writer
from starpose.video.reader import VIDEO_SUFFIXES


@dataclass(frozen=True)
class LiftedFile:
    """One sequence lifted: where it was written (and rendered), its frame count and a note on
    its world motion (:func:`starpose.lift.world.world_note`; empty without)."""

    out: Path
    frames: int
    render: Path | None = None
    world: str = ""


def _safe_name(name: str) -> str:
    """A file name from a sequence name: no folders, no odd characters, no video extension."""
    base = Path(str(name)).name
    if Path(base).suffix.lower() in VIDEO_SUFFIXES:
        base = Path(base).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "sequence"


def plan_outputs(out, names: list[str], out_format: str | None = None) -> list[Path]:
    """Destination of each sequence: ``out`` itself for one sequence with a result extension,
    else ``out/<name>.<out_format>`` (names made unique, ``npz`` by default)."""
    out = Path(out)
    is_file = out.suffix.lower() in OUTPUT_SUFFIXES and not out.is_dir()
    if is_file and out_format is not None and f".{out_format}" != out.suffix.lower():
        raise OptionError(f"{out}: <out-format> {out_format} conflicts with the extension of "
                            "<out>; give one of them")
    if out.suffix and not is_file and not out.is_dir():
        raise OptionError(f"{out}: <out> takes a file ending in .npz, .json, .csv or .bvh, or a folder")
    out_format = out_format or "npz"
    if is_file and len(names) == 1:
        return [out]
    if is_file:
        raise OptionError(
            f"{out}: the inputs hold {len(names)} sequences; give a folder as <out> "
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
        raise OptionError(
            f"{render}: <render> must end in .mp4 or .gif"
            + (" (or be a folder when there are several sequences)" if len(outputs) > 1 else "")
        )
    return [render / f"{out.stem}.mp4" for out in outputs]


def _note(message: str) -> None:
    """A warning or remark for the user, on standard error."""
    print(f"starpose: {message}", file=sys.stderr)


def _read_inputs(opts, dataset, log) -> list[Keypoints2D]:
    """Read, convert to ``dataset``'s joints and fill every input; raises before anything is
    written."""
    if not 0.0 <= opts.min_confidence <= 1.0:
        raise OptionError(f"<min-confidence> must be within [0, 1], got {opts.min_confidence}")
    from starpose.lift.people_files import load_tracks

    sequences = []
    for path in opts.inputs:
        try:
            found = (load_tracks(path, opts.fmt, opts.person, dataset, width=opts.width,
                                 height=opts.height, fps=opts.fps,
                                 min_confidence=opts.min_confidence) if opts.person is not None
                     else load_keypoints(path, opts.fmt, width=opts.width, height=opts.height,
                                         fps=opts.fps, min_confidence=opts.min_confidence,
                                         dataset=dataset))
        except NoKeypointsError as err:
            raise OptionError(f"{err}{_option_hint(err)}") from None
        how = "detected" if opts.fmt == "auto" else "read"
        title = format_title(found[0].source_format, dataset)
        frames = ", ".join(f"{kp.name}: {kp.num_frames:,} frames" for kp in found)
        size = f"{found[0].width:g}x{found[0].height:g} px"
        log(f"{path}: {how} {title} ({frames}; {size})")
        for kp in found:
            for note in kp.notes:
                _note(f"warning: {note.text}" if note.kind.is_warning else note.text)
        sequences.extend(found)
    return sequences


def _option_hint(err: NoKeypointsError) -> str:
    """The options that would read the file: the format it looks like, a lower threshold."""
    hints = [f"<format> {err.detected}"] if err.detected else []
    if err.highest_confidence is not None:
        hints.append("<min-confidence> 0" if err.highest_confidence == 0
                     else f"a lower <min-confidence> (at most {err.highest_confidence:g})")
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


def _check_outputs(opts, outputs: list[Path], renders: list[Path]) -> None:
    """Refuse outputs that would overwrite an input or the model, or cannot be written."""
    from starpose.io import check_output_path

    reads = tuple(opts.inputs) + tuple(p for p in (opts.checkpoint, opts.model) if p)
    for out in outputs:
        check_output_path(out, suffixes=OUTPUT_SUFFIXES, inputs=reads)
    for target in renders:
        check_output_path(target, suffixes=ANIMATION_SUFFIXES, inputs=reads)


def _load_model(opts, device):
    """The model of ``--runtime`` (a MixSTE, or an ONNX Runtime predictor), the dataset it records
    (None where it records none) and the file it came from."""

    if opts.runtime == "onnx":
        if not opts.model:
            raise OptionError("<runtime> onnx needs <model> FILE.onnx")
        try:
            from starpose.inference.onnx_runtime import OnnxPredictor
        except ImportError as err:
            raise OptionError(f"<runtime> onnx is not available in this installation ({err})") from None
        predictor = OnnxPredictor(opts.model, flip=not opts.no_flip, batch_size=opts.batch_size)
        return predictor, predictor.metadata.get("dataset"), opts.model
    if not opts.checkpoint:
        from starpose.models.bundled import BUNDLED, describe

        _note(f"using the {describe()}")
        opts.checkpoint = BUNDLED
    from starpose.models.checkpoints import model_from_checkpoint, read_checkpoint

    checkpoint = read_checkpoint(opts.checkpoint)
    model = model_from_checkpoint(checkpoint, opts.checkpoint, num_heads=opts.num_heads, device=device)
    return model, recorded_dataset(checkpoint), opts.checkpoint


def _open_model(opts, device):
    """``(model, dataset)`` (:func:`_load_model`; the dataset whose joints it lifts,
    :func:`starpose.lift.dataset.lift_dataset`) and None, or ``(None, --dataset or Human3.6M)`` and
    the error that made the model unusable: the inputs and outputs are checked first, their
    problems being the quicker to fix, then the error is raised."""
    from starpose.lift.dataset import lift_dataset

    try:
        model, recorded, source = _load_model(opts, device)
    except StarposeError as err:
        return (None, get_dataset(opts.dataset or DEFAULT_DATASET)), err
    return (model, lift_dataset(opts.dataset, recorded, model.num_joints, source)), None


def _predictor(opts, model, dataset, device):
    """The window predictor of a model from :func:`_load_model` that lifts ``dataset``'s joints."""
    _lens_note(opts, model)
    if opts.runtime == "onnx":
        if len(model.flip_permutation) != model.num_joints and model.flip:
            raise OptionError(f"{opts.model}: its flip permutation has {len(model.flip_permutation)} "
                                f"joints for a {model.num_joints}-joint model; export it again, "
                                "or lift with <no-flip>")
        return model
    from starpose.evaluate.protocol import check_model_fits
    from starpose.inference.predictors import TorchPredictor

    check_model_fits(model, opts.checkpoint, dataset)
    return TorchPredictor(model, flip=not opts.no_flip, batch_size=opts.batch_size, device=device,
                          skeleton=dataset.skeleton, amp=amp_of(opts.precision))


def _lens_note(opts, model) -> None:
    """Say which lens a model that takes camera rays is lifting with when none was given."""
    from starpose.data.model_input import RAY_NORMS, input_norm_of

    if input_norm_of(model) in RAY_NORMS and opts.focal_px is None and opts.fov is None:
        from starpose.world.intrinsics import TYPICAL_FOV_DEG

        _note(f"the model takes camera rays: assuming a {TYPICAL_FOV_DEG:g}-degree field of view on "
              "the image's long side (give --fov or --focal-px for your camera)")


def _resolve_precision(opts: LiftOptions, log) -> LiftOptions:
    """``opts`` with ``precision`` resolved to fp32 or bf16 (refusals: one line); logs the choice."""
    from dataclasses import replace

    from starpose.inference.predictors import resolve_device

    used = resolve_precision(opts.precision, resolve_device(opts.device).type, runtime=opts.runtime)
    log(f"precision: {precision_note(opts.precision, used)}")
    return replace(opts, precision=used)


def _check_bvh(outputs: list[Path], dataset) -> None:
    """BVH files carry the Human3.6M 17-joint rig (:mod:`starpose.mocap`); refuse other joints."""
    for out in outputs:
        if out.suffix.lower() == ".bvh" and tuple(dataset.skeleton.names) != H36M_NAMES:
            raise StarposeError(f"{out}: a BVH file holds the Human3.6M 17-joint skeleton, not the "
                                f"{dataset.num_joints} {dataset.title} joints this model lifts; "
                                "write .npz, .json or .csv")


def _chunk_windows(predictor) -> int:
    """Windows per chunk: a multiple of the predictor's batch, so that chunking keeps its batches
    (and the result equals the all-at-once one exactly)."""
    return 4 * int(getattr(predictor, "batch_size", 32))


def lift_files(opts: LiftOptions, log=print) -> list[LiftedFile]:
    """Read ``opts.inputs``, lift every sequence and write ``opts.out`` (and ``opts.render``).

    ``log`` receives one line per input read. Raises :class:`StarposeError` (nothing written)
    on bad inputs, outputs or models."""
    from starpose.inference.predictors import resolve_device
    from starpose.io import atomic_files
    from starpose.lift.lifting import result_meta
    from starpose.lift.world import check_world_options, world_note, world_setup

    from starpose.lift.video_files import lift_video_inputs, refuse_video_options
    from starpose.video.reader import is_video_input

    opts = _resolve_precision(opts, log)
    if any(is_video_input(p) for p in opts.inputs):
        check_world_options(opts)
        return [LiftedFile(out, frames, render) for out, frames, render
                in lift_video_inputs(opts, _open_model, _predictor, log)]
    refuse_video_options(opts)
    if (opts.width is None) != (opts.height is None):
        raise OptionError("give both <width> and <height>, or neither")
    check_world_options(opts)
    device = resolve_device(opts.device)
    (model, dataset), problem = _open_model(opts, device)
    sequences = _read_inputs(opts, dataset, log)
    outputs = plan_outputs(opts.out, [kp.name for kp in sequences], opts.out_format)
    renders = render_targets(opts.render, outputs)
    _check_outputs(opts, outputs, renders)
    if problem is not None:
        raise problem
    predictor = _predictor(opts, model, dataset, device)
    _check_bvh(outputs, dataset)
    if any(out.suffix.lower() == ".bvh" for out in outputs) and any(kp.fps is None for kp in sequences):
        raise OptionError("a BVH file needs the frame rate, which the input does not state: "
                          "give <fps>")
    world = world_setup(opts, tuple(dataset.skeleton.names) == H36M_NAMES)
    notes = []
    if opts.stride is not None and opts.stride > predictor.frames:
        raise OptionError(f"<stride> {opts.stride} exceeds the model's {predictor.frames} frames")
    with _out_folder_lock(opts.out, outputs), atomic_files() as stage:
        _remove_leftovers(outputs + renders)
        for i, (kp, out) in enumerate(zip(sequences, outputs)):
            meta = result_meta(kp)
            poses = _lift_into(predictor, kp, open_writer(stage(out), meta, kp.num_frames, kp.xy.shape[1]),
                               opts.stride, keep=i < len(renders), root=dataset.root, world=world,
                               camera=(opts.focal_px, opts.fov))
            if i < len(renders):
                render_result({"positions_3d": poses, **meta}, stage(renders[i]), skeleton=dataset.skeleton)
            notes.append(world_note(meta))
    return [LiftedFile(out, kp.num_frames, renders[i] if i < len(renders) else None, notes[i])
            for i, (out, kp) in enumerate(zip(outputs, sequences))]


def _remove_leftovers(targets: list[Path]) -> None:
    """Delete the temporary files of an earlier lift to ``targets`` that was killed (SIGKILL, a
    power cut) before it could clean up (:func:`starpose.io.remove_stale_temporaries`)."""
    from starpose.io import remove_stale_temporaries

    folders: dict[Path, set[str]] = {}
    for target in targets:
        folders.setdefault(target.parent, set()).add(target.name)
    for folder, names in folders.items():
        removed = remove_stale_temporaries(folder, names)
        if removed:
            _note(f"{folder}: removed {len(removed)} temporary file(s) left by an earlier lift that "
                  f"was killed ({', '.join(p.name for p in removed[:3])}{', ...' if len(removed) > 3 else ''})")


def _lift_into(predictor, kp: Keypoints2D, writer, stride, keep: bool, root: int = 0, world=None,
               camera: tuple = (None, None)):
    """Stream one sequence's poses into ``writer`` (joint ``root`` at the origin); returns them
    when ``keep``. ``camera``: ``(focal_px, fov)`` for a model that takes rays. ``world``:
    ``(options, trajectory model)`` adds the world motion to the writer's ``meta`` before it
    closes (:func:`starpose.lift.world.add_world`: all poses at once)."""
    from starpose.lift.lifting import stream_keypoints

    keep = keep or world is not None
    kept = []
    # frames/s and the time left; a plain line every few seconds when stderr is not a terminal
    bar = tqdm(total=kp.num_frames, desc=kp.name, unit="frame", unit_scale=True,
               mininterval=0.5 if sys.stderr.isatty() else 10.0)
    try:
        for _, block in stream_keypoints(predictor, kp, stride=stride, root=root,
                                         chunk_windows=_chunk_windows(predictor),
                                         focal_px=camera[0], fov=camera[1]):
            writer.write(block)
            bar.update(len(block))
            if keep:
                kept.append(block)
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    poses = np.concatenate(kept) if keep else None
    if world is not None:
        from starpose.lift.world import add_world

        try:
            writer.meta.update(add_world(poses, writer.meta, *world))
        except BaseException:
            writer.abort()
            raise
    writer.close()
    return poses
