"""Lifting a video: detect the people of each frame, track them, lift every track (or one).

:func:`lift_video` is the whole path for one video (or image folder): :func:`starpose.video.scan`
decodes, detects and tracks; each kept track becomes a :class:`~starpose.formats.Keypoints2D`
(COCO-17 mapped to the model's joints, frames without a detection filled by interpolation, the
video's own frame numbers, fps and size) and is lifted like a keypoint file. With
``options.online`` every track is lifted causally while the video plays
(:class:`starpose.video.online.OnlineLifter`, the window ending at the current frame).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from starpose.errors import StarposeError
from starpose.formats import Keypoints2D, convert_to_h36m, fill_missing, to_layout
from starpose.formats.keypoints import make_sequence
from starpose.video.reader import VideoError


@dataclass(frozen=True)
class VideoOptions:
    """How a video is lifted. ``person``: ``"all"`` or a track id (1, 2, ... in order of
    appearance); ``detector_model``: None (the bundled BlazePose) or a ``.task``/``.onnx`` file;
    tracks with fewer than ``min_track_frames`` detections are dropped; ``focal_px`` / ``fov``
    (degrees): the camera, for a model that takes rays (default: the typical field of view)."""

    person: str | int = "all"
    online: bool = False
    detector_model: str | None = None
    max_people: int = 4
    min_confidence: float = 0.3
    min_track_frames: int = 5
    stride: int | None = None
    focal_px: float | None = None
    fov: float | None = None


@dataclass
class TrackResult:
    """One lifted person: the track ``id``, the 2D input ``kp`` (model joints, filled),
    ``poses`` ``(T, J, 3)`` root-relative metres, the detections' mean confidence."""

    id: int
    kp: Keypoints2D
    poses: np.ndarray
    mean_confidence: float


@dataclass
class VideoLift:
    """A lifted video: ``results`` (the chosen tracks), ``scan`` (every detection and track,
    for ``save_2d``), and ``seconds`` per stage (``decode``, ``detect``, ``track``, ``lift``)."""

    path: str
    results: list[TrackResult]
    scan: object
    tracks: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)


def track_keypoints(track, scan, path, dataset, min_confidence: float) -> Keypoints2D:
    """A track as a filled :class:`Keypoints2D` in ``dataset``'s joints, over the video's frame
    numbers from its first to its last detection."""
    dense, numbers = track.dense(scan.frames)
    xy, conf = convert_to_h36m(dense[..., :2], dense[..., 2], "coco", min_confidence)
    info = scan.info
    kp = make_sequence(xy, conf, "coco", f"{Path(path).stem}_track{track.id}", path,
                       (float(info.width), float(info.height)), info.fps, frame_index=numbers)
    return fill_missing(keep_guessed_joints(to_layout(kp, dataset), min_confidence), min_confidence)


def keep_guessed_joints(kp: Keypoints2D, min_confidence: float) -> Keypoints2D:
    """Joints the detector never saw surely (a hand out of the picture all along) keep the
    detector's own guess, with a warning note, instead of failing the gap filling."""
    from starpose.formats import Note, NoteKind

    sure = (kp.confidence >= min_confidence) & np.isfinite(kp.xy).all(axis=-1)
    guessed = np.isfinite(kp.xy).all(axis=-1) & (kp.confidence > 0)
    never = np.flatnonzero(~sure.any(axis=0) & guessed.any(axis=0))
    if not len(never):
        return kp
    conf = kp.confidence.copy()
    # a guess is what the detector gave (confidence > 0); frames without it stay missing
    conf[:, never] = np.where(guessed[:, never], min_confidence, 0.0)
    names = ", ".join(kp.joint_names[j] for j in never)
    note = Note(NoteKind.FILLED_JOINTS, f"{kp.name}: {names} never seen surely; kept the "
                "detector's guess (the lifted pose is unsure there)")
    from dataclasses import replace

    return replace(kp, confidence=conf, notes=kp.notes + [note])


def choose_tracks(tracks, person, path) -> list:
    """``tracks`` for ``person == "all"``, else the one whose id is ``person``."""
    if not tracks:
        raise VideoError(f"{path}: no person found in the video")
    if person == "all":
        return list(tracks)
    chosen = [t for t in tracks if t.id == int(person)]
    if not chosen:
        spans = ", ".join(f"{t.id}: frames {t.span[0]}-{t.span[1]}" for t in tracks)
        raise StarposeError(f"{path}: person {person} asked for, but there are "
                            f"{len(tracks)} track(s) ({spans})")
    return chosen


def lift_video(path, predictor, dataset, options: VideoOptions = VideoOptions(), *,
               detector=None, progress: bool = True) -> VideoLift:
    """Detect, track and lift the people of the video (or image folder) ``path``, or of the
    frames of a :class:`~starpose.video.reader.FrameSource`, with a window predictor of
    ``dataset``'s joints; raises :class:`StarposeError` before anything is written
    (no person found, a track id that does not exist, an unreadable video)."""
    from starpose.video.choose import open_detector
    from starpose.video.reader import FrameSource, open_frames

    from starpose.inference.threads import VIDEO_LIFT_THREADS, torch_threads

    own = detector is None
    detector = open_detector(options.detector_model, max_people=options.max_people) if own else detector
    live = isinstance(path, FrameSource)  # frames that arrive one by one (a camera, a test)
    try:
        with (path if live else open_frames(path)) as source, torch_threads(VIDEO_LIFT_THREADS):
            online = _OnlineTracks(predictor, source.info, dataset, options) if options.online else None
            scan = _scan(source, detector, online, progress)
    finally:
        if own:
            detector.close()
    from starpose.video.tracking import keep_tracks

    path = scan.info.path if live else path
    kept = keep_tracks(scan.tracks, options.min_track_frames)
    tracks = choose_tracks(kept, options.person, path)
    clock = time.perf_counter()
    with torch_threads(VIDEO_LIFT_THREADS):
        results = [online.result(t, scan, path) if online else
                   _lift_offline(predictor, track_keypoints(t, scan, path, dataset,
                                                            options.min_confidence),
                                 t, options, dataset.root) for t in tracks]
    seconds = dict(scan.seconds)
    seconds["lift"] = time.perf_counter() - clock + seconds.pop("online")
    return VideoLift(str(path), results, scan, kept, seconds)


def _scan(source, detector, online, progress: bool):
    """:func:`starpose.video.scan.scan_video` with a progress bar (frames/s, ETA)."""
    import sys

    from tqdm import tqdm

    from starpose.video.scan import scan_video

    bar = tqdm(total=source.info.num_frames, desc=Path(source.info.path).name, unit="frame",
               disable=not progress, mininterval=0.5 if sys.stderr.isatty() else 10.0)
    try:
        return scan_video(source, detector, on_frame=online.feed if online else None,
                          progress=lambda n: bar.update(1))
    finally:
        bar.close()


def _lift_offline(predictor, kp: Keypoints2D, track, options: VideoOptions, root: int) -> TrackResult:
    from starpose.lift.lifting import stream_keypoints

    blocks = [block for _, block in stream_keypoints(predictor, kp, stride=options.stride, root=root,
                                                     focal_px=options.focal_px, fov=options.fov)]
    return TrackResult(track.id, kp, np.concatenate(blocks), track.mean_confidence())


class _OnlineTracks:
    """Per track, an :class:`~starpose.video.online.OnlineLifter` fed as frames arrive."""

    def __init__(self, predictor, info, dataset, options: VideoOptions):
        self.predictor, self.info, self.dataset, self.options = predictor, info, dataset, options
        self.lifters, self.out = {}, {}

    def feed(self, number: int, rgb, pairs) -> None:
        from starpose.video.online import OnlineLifter

        for track, person in pairs:
            xy, conf = self._joints(person)
            key = id(track)
            if key not in self.lifters:
                self.lifters[key] = OnlineLifter(self.predictor, self.info.width, self.info.height,
                                                 root=self.dataset.root,
                                                 min_confidence=self.options.min_confidence,
                                                 focal_px=self.options.focal_px, fov=self.options.fov)
                self.out[key] = ([], [], [], [])
            pose, used = self.lifters[key].push(xy, conf)
            for store, value in zip(self.out[key], (number, pose, used, conf)):
                store.append(value)

    def _joints(self, person: np.ndarray):
        xy, conf = convert_to_h36m(person[None, :, :2], person[None, :, 2], "coco",
                                   self.options.min_confidence)
        pick = self.dataset.h36m_joints
        if pick is not None and self.dataset.num_joints != xy.shape[1]:
            xy, conf = xy[:, list(pick)], conf[:, list(pick)]
        return xy[0], conf[0]

    def result(self, track, scan, path) -> TrackResult:
        numbers, poses, used, conf = self.out[id(track)]
        kp = make_sequence(np.stack(used), np.stack(conf), "coco",
                           f"{Path(path).stem}_track{track.id}", path,
                           (float(self.info.width), float(self.info.height)), self.info.fps,
                           frame_index=np.asarray(numbers), joint_names=self.dataset.skeleton.names)
        kp.filled = kp.confidence < self.options.min_confidence
        return TrackResult(track.id, kp, np.stack(poses).astype(np.float32), track.mean_confidence())
