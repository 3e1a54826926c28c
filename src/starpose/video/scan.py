"""One pass over a video: decode each frame, detect the people in it, link them into tracks.

:func:`scan_video` keeps the detections (not the frames: memory does not grow with the frame
size) and times each stage. ``on_frame(number, rgb, pairs)`` is called after each frame with
the ``(track, keypoints)`` pairs of :meth:`starpose.video.tracking.Tracker.update`, which is how
the online mode lifts while the video plays, through the same code a camera feed goes through.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from starpose.video.reader import FrameSource, VideoError, VideoInfo
from starpose.video.tracking import Track, Tracker


@dataclass
class Scan:
    """Detections of a video: ``frames`` ``(N,)`` the frame numbers, ``people[i]`` ``(P_i, 17, 3)``
    COCO-17 pixels + confidence, ``tracks`` (every track, by id), ``seconds`` per stage
    (``decode``, ``detect``, ``track``, ``online``)."""

    info: VideoInfo
    frames: np.ndarray
    people: list
    tracks: list[Track]
    seconds: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def scan_video(source: FrameSource, detector, *, tracker: Tracker | None = None, on_frame=None,
               progress=None) -> Scan:
    """Decode, detect and track every frame of ``source``; ``progress(n_people)`` after each."""
    tracker = tracker or Tracker()
    seconds = {"decode": 0.0, "detect": 0.0, "track": 0.0, "online": 0.0}
    frames, people = [], []
    clock = time.perf_counter()
    for number, rgb in source:
        now = time.perf_counter()
        seconds["decode"] += now - clock
        found = detector.detect(rgb)
        clock = time.perf_counter()
        seconds["detect"] += clock - now
        pairs = tracker.update(number, found)
        now = time.perf_counter()
        seconds["track"] += now - clock
        if on_frame is not None:
            on_frame(number, rgb, pairs)
        clock = time.perf_counter()
        seconds["online"] += clock - now
        frames.append(number)
        people.append(found)
        if progress is not None:
            progress(len(found))
    if not frames:
        raise VideoError(f"{source.info.path}: the video holds no frames")
    return Scan(source.info, np.asarray(frames, np.int64), people, tracker.tracks(), seconds)

