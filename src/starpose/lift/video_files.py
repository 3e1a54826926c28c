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

from starpose.errors import StarposeError
from starpose.lift.video import VideoOptions


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
                     *, progress: bool = True) -> list[str]:
    """Lift each video of ``inputs`` and write its outputs; returns the lines to show (tracks,
    files written, frames/s per stage)."""
    from starpose.train.interrupts import signals_interrupt
    from starpose.io import atomic_files, check_output_path
    from starpose.lift.video import lift_video
    from starpose.lift.video_output import (speed_line, summary_lines, track_outputs,
                                            write_coco_json, write_tracks)
    from starpose.lift.video_render import render_video
    from starpose.video.choose import open_detector

    several = len(inputs) > 1
    lines, plans = [], []
    with signals_interrupt():
        detector = open_detector(options.detector_model, max_people=options.max_people)
        try:
            for video in inputs:
                lifted = lift_video(video, predictor, dataset, options, detector=detector,
                                    progress=progress)
                paths = track_outputs(outputs.out, video, [r.id for r in lifted.results],
                                      outputs.out_format, several)
                sides = (side_path(outputs.save_2d, video, several, (".json",), "detections"),
                         side_path(outputs.render, video, several, RENDER_SUFFIXES, "rendering"))
                for path in paths + [p for p in sides if p is not None]:
                    check_output_path(path, inputs=tuple(map(str, inputs)))
                plans.append((lifted, paths, sides))
                if video is not inputs[-1]:
                    detector = _fresh(detector, options)
        finally:
            detector.close()
        with atomic_files() as stage:
            for lifted, paths, (save_2d, render) in plans:
                write_tracks(lifted, paths, stage)
                if save_2d is not None:
                    write_coco_json(lifted.scan, lifted.tracks, stage(save_2d))
                if render is not None:
                    clock = time.perf_counter()
                    render_video(lifted, dataset.skeleton, stage(render))
                    lifted.seconds["render"] = time.perf_counter() - clock
    for lifted, paths, sides in plans:
        lines += summary_lines(lifted, getattr(detector, "name", "detector"))
        lines += [f"wrote {p}" for p in paths + [s for s in sides if s is not None]]
        lines.append(speed_line(lifted.seconds, lifted.scan.num_frames))
    return lines


def _fresh(detector, options: VideoOptions):
    """A detector that follows nobody yet, for the next video (the old one is closed)."""
    from starpose.video.choose import open_detector

    detector.close()
    return open_detector(options.detector_model, max_people=options.max_people)
