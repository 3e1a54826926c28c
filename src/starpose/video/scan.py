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

#: Frames decoded ahead of the detector.
READ_AHEAD = 8
#: Frames the ``on_frame`` callback (the online lifter) may lag behind the detector.
ON_FRAME_BEHIND = 2


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


def read_ahead(frames, seconds: dict, depth: int = READ_AHEAD):
    """The ``(number, rgb)`` pairs of the iterable ``frames``, decoded by a thread of their own up
    to ``depth`` frames ahead (the decoder runs on one core while the detector runs on another);
    the decoder's time adds up in ``seconds["decode"]``, its errors are raised here, in order."""
    import queue
    import threading

    pipe: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                pipe.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        iterator = iter(frames)
        try:
            while True:
                clock = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                finally:
                    seconds["decode"] += time.perf_counter() - clock
                if not put(item):
                    return
        except BaseException as err:  # handed to the reading thread, raised there
            put(err)
            return
        put(done)

    thread = threading.Thread(target=decode, name="starpose-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)


def scan_video(source: FrameSource, detector, *, tracker: Tracker | None = None, on_frame=None,
               progress=None) -> Scan:
    """Decode (up to :data:`READ_AHEAD` frames ahead, in a thread), detect and track every frame
    of ``source``; ``progress(n_people)`` after each. ``on_frame`` runs in a thread of its own, in
    frame order, while the next frame is detected (at most :data:`ON_FRAME_BEHIND` frames
    behind); its errors are raised here."""
    tracker = tracker or Tracker()
    seconds = {"decode": 0.0, "detect": 0.0, "track": 0.0, "online": 0.0}
    frames, people = [], []
    behind = _Behind(on_frame, seconds) if on_frame is not None else None
    try:
        for number, rgb in read_ahead(source, seconds):
            now = time.perf_counter()
            found = detector.detect(rgb)
            clock = time.perf_counter()
            seconds["detect"] += clock - now
            pairs = tracker.update(number, found)
            seconds["track"] += time.perf_counter() - clock
            if behind is not None:
                behind.submit(number, rgb, pairs)
            frames.append(number)
            people.append(found)
            if progress is not None:
                progress(len(found))
        if behind is not None:
            behind.finish()
    finally:
        if behind is not None:
            behind.close()
    if not frames:
        raise VideoError(f"{source.info.path}: the video holds no frames")
    return Scan(source.info, np.asarray(frames, np.int64), people, tracker.tracks(), seconds)


class _Behind:
    """``on_frame`` calls run one at a time in a thread, in order; their time adds up in
    ``seconds["online"]``."""

    def __init__(self, on_frame, seconds: dict):
        from concurrent.futures import ThreadPoolExecutor

        self.on_frame, self.seconds, self.pending = on_frame, seconds, []
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="starpose-online")

    def _call(self, *args) -> None:
        clock = time.perf_counter()
        self.on_frame(*args)
        self.seconds["online"] += time.perf_counter() - clock

    def submit(self, *args) -> None:
        self.pending.append(self.pool.submit(self._call, *args))
        while len(self.pending) > ON_FRAME_BEHIND or (self.pending and self.pending[0].done()):
            self.pending.pop(0).result()

    def finish(self) -> None:
        while self.pending:
            self.pending.pop(0).result()

    def close(self) -> None:
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
