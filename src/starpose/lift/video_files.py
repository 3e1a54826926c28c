"""``starpose lift`` for videos, as one library call: every video (or image folder) lifted first,
then every output written in one :func:`starpose.io.atomic_files` transaction (nothing is
written when anything fails, also on Ctrl-C or SIGTERM).

Outputs per video: one result per track (:mod:`.video_output`), optionally the detections as
COCO-17 JSON (``save_2d``) and a rendered video (``render``). With several videos, ``out``,
``save_2d`` and ``render`` are folders.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from starpose.errors import OptionError, StarposeError
from starpose.lift.video import VideoOptions

#: Options of :class:`starpose.lift.options.LiftOptions` that only videos take (``person`` also
#: picks tracks of multi-person keypoint files), with the value that means "not given".
VIDEO_ONLY = {"save_2d": None, "detector_model": None, "online": False, "max_people": None}


@dataclass(frozen=True)
class VideoOutputs:
    """Where results go: ``out`` (file or folder), ``out_format`` inside a folder, ``save_2d``
    (a ``.json`` file, or a folder with several videos), ``render`` (``.mp4``/``.mkv``/``.webm``
    file, or a folder)."""

    out: str
    out_format: str | None = None
    save_2d: str | None = None
    render: str | None = None


RENDER_SUFFIXES = (".mp4", ".mkv", ".webm", ".mov")


def side_path(target, video, several: bool, suffixes: tuple, what: str) -> Path | None:
    """The ``save_2d``/``render`` file of ``video``: ``target`` itself for one video, else
    ``target/<video name><first suffix>``."""
    if target is None:
        return None
    target = Path(target)
    if not several:
        if target.suffix.lower() not in suffixes:
            raise StarposeError(f"{target}: the {what} of a video is a {' or '.join(suffixes)} file")
        return target
    if target.suffix:
        raise StarposeError(f"{target}: several videos need a folder for their {what} files")
    return target / f"{Path(str(video)).stem}{suffixes[0]}"


def lift_video_files(inputs, predictor, dataset, options: VideoOptions, outputs: VideoOutputs,
                     *, progress: bool = True, log=print, world=None) -> list[tuple]:
    """Lift each video of ``inputs`` and write its outputs; ``log`` gets the tracks, the
    detections file and the frames/s per stage; ``world``: ``(WorldOptions, trajectory model)``
    adds each track's world motion (:func:`starpose.lift.world.add_world`); returns ``(result path, frames, rendered video
    or None)`` per track."""
    from starpose.io import atomic_files
    from starpose.lift.video_output import speed_line, summary_lines, write_coco_json, write_tracks
    from starpose.lift.video_render import render_video
    from starpose.train.interrupts import signals_interrupt

    with signals_interrupt():
        plans, name = _lift_all(inputs, predictor, dataset, options, outputs, progress)
        with atomic_files() as stage:
            for lifted, paths, (save_2d, render) in plans:
                write_tracks(lifted, paths, stage, world)
                if save_2d is not None:
                    write_coco_json(lifted.scan, lifted.tracks, stage(save_2d))
                if render is not None:
                    clock = time.perf_counter()
                    render_video(lifted, dataset.skeleton, stage(render))
                    lifted.seconds["render"] = time.perf_counter() - clock
    done = []
    for lifted, paths, (save_2d, render) in plans:
        for line in summary_lines(lifted, name):
            log(line)
        if save_2d is not None:
            log(f"wrote {save_2d} (the detections, COCO-17)")
        log(speed_line(lifted.seconds, lifted.scan.num_frames))
        done += [(p, r.kp.num_frames, render if k == 0 else None)
                 for k, (p, r) in enumerate(zip(paths, lifted.results))]
    return done


def _lift_all(inputs, predictor, dataset, options: VideoOptions, outputs: VideoOutputs,
              progress: bool):
    """Every video lifted, its output paths planned and checked; nothing written yet. Returns
    ``[(lifted, result paths, (save_2d, render))]`` and the detector's name."""
    from starpose.io import check_output_path
    from starpose.lift.video import lift_video
    from starpose.lift.video_output import track_outputs
    from starpose.video.choose import open_detector

    several, plans = len(inputs) > 1, []
    detector = open_detector(options.detector_model, max_people=options.max_people)
    name = getattr(detector, "name", "detector")
    try:
        for k, video in enumerate(inputs):
            if k:
                detector = _fresh(detector, options)
            lifted = lift_video(video, predictor, dataset, options, detector=detector,
                                progress=progress)
            paths = track_outputs(outputs.out, video, [r.id for r in lifted.results],
                                  outputs.out_format, several)
            sides = (side_path(outputs.save_2d, video, several, (".json",), "detections"),
                     side_path(outputs.render, video, several, RENDER_SUFFIXES, "rendering"))
            for path in paths + [p for p in sides if p is not None]:
                check_output_path(path, inputs=tuple(map(str, inputs)))
            plans.append((lifted, paths, sides))
    finally:
        detector.close()
    return plans, name


def _fresh(detector, options: VideoOptions):
    """A detector that follows nobody yet, for the next video (the old one is closed)."""
    from starpose.video.choose import open_detector

    detector.close()
    return open_detector(options.detector_model, max_people=options.max_people)


def refuse_video_options(opts) -> None:
    """Keypoint files take none of the video-only options: say so rather than ignore them."""
    given = [f"<{k.replace('_', '-')}>" for k, off in VIDEO_ONLY.items() if getattr(opts, k) != off]
    if given:
        raise OptionError(f"{', '.join(given)}: only for videos and image folders; the inputs "
                          "are keypoint files")


def _refuse_keypoint_options(opts) -> None:
    from starpose.video.reader import is_video_input

    if not all(is_video_input(p) for p in opts.inputs):
        raise OptionError("give either videos (or image folders) or keypoint files, not both")
    taken = {"<format>": opts.fmt != "auto", "<width>/<height>": opts.width is not None,
             "<fps>": opts.fps is not None, "<out-format> bvh": opts.out_format == "bvh",
             "<stride> with <online>": opts.online and opts.stride is not None}
    wrong = [name for name, bad in taken.items() if bad]
    if wrong:
        raise OptionError(f"{', '.join(wrong)}: not for videos (a video states its size and "
                          "frame rate; its results are .npz, .json or .csv)")


def lift_video_inputs(opts, open_model, make_predictor, log=print) -> list:
    """:func:`starpose.lift.pipeline.lift_files` for videos: ``opts`` a
    :class:`~starpose.lift.options.LiftOptions`, the model from the pipeline's ``open_model`` and
    ``make_predictor``; logs the tracks and the speed; returns ``(result path, frames, rendered
    video or None)`` per track."""
    from starpose.inference.predictors import resolve_device

    _refuse_keypoint_options(opts)
    if not 0.0 <= opts.min_confidence <= 1.0:
        raise OptionError(f"<min-confidence> must be within [0, 1], got {opts.min_confidence}")
    device = resolve_device(opts.device)
    (model, dataset), problem = open_model(opts, device)
    if problem is not None:
        raise problem
    predictor = make_predictor(opts, model, dataset, device)
    given = {"person": opts.person, "detector_model": opts.detector_model,
             "max_people": opts.max_people, "stride": opts.stride}
    options = VideoOptions(online=opts.online, min_confidence=opts.min_confidence,
                           focal_px=opts.focal_px, fov=opts.fov,
                           **{k: v for k, v in given.items() if v is not None})
    outputs = VideoOutputs(opts.out, opts.out_format, opts.save_2d, opts.render)
    from starpose.formats import H36M_NAMES
    from starpose.lift.world import world_setup

    world = world_setup(opts, tuple(dataset.skeleton.names) == H36M_NAMES)
    return lift_video_files(list(opts.inputs), predictor, dataset, options, outputs, log=log, world=world)
