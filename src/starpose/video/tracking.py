"""Linking per-frame detections into tracks: one track per person over the video.

:class:`Tracker` is causal (it sees one frame at a time, so the online mode and a camera use it
as is); :func:`link_tracks` runs it over a whole list of frames and returns :class:`Track` values.

Matching, frame by frame: each open track predicts its keypoints in this frame from its last two
detections (constant velocity over the frames between them); the cost of pairing a track with a
detection is ``(1 - IoU of their boxes) + keypoint distance``, the keypoint distance being the
mean distance of the joints both see confidently divided by the diagonal of the track's box.
Pairs costing more than ``max_cost`` are never made; the rest are assigned by
``scipy.optimize.linear_sum_assignment`` (minimum total cost). A detection left over starts a
track; a track unmatched for more than ``max_gap`` frames ends (a gap up to ``max_gap`` frames is
bridged: the track holds no detection there, which the lifter's gap filling interpolates).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from starpose.video.detector import box_iou, boxes_of

MAX_GAP = 8
MAX_COST = 1.5
MIN_CONFIDENCE = 0.3
#: Gaps in a video's frame numbers up to this size are frames to fill (dropped frames); wider
#: gaps (an image folder of every 10th frame) are kept as they are.
FILLED_GAP = 4


@dataclass
class Track:
    """One person: ``frames`` (the frame numbers with a detection) and ``keypoints`` ``(n, K, 3)``
    (pixels and confidence), in frame order; ``id`` counts from 1 in order of appearance."""

    id: int
    frames: list = field(default_factory=list)
    keypoints: list = field(default_factory=list)
    missed: int = 0

    @property
    def span(self) -> tuple[int, int]:
        return int(self.frames[0]), int(self.frames[-1])

    def dense(self, frame_numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(T, K, 3)`` keypoints over ``frame_numbers`` (the video's, within the span; a gap
        of up to :data:`FILLED_GAP` numbers, a dropped frame, counts as frames without a
        detection), NaN and confidence 0 where the track holds no detection, and the ``(T,)``
        numbers themselves."""
        lo, hi = self.span
        numbers = np.asarray([f for f in frame_numbers if lo <= f <= hi], np.int64)
        if len(numbers) > 1 and np.diff(numbers).max() <= FILLED_GAP:
            numbers = np.arange(lo, hi + 1, dtype=np.int64)
        out = np.full((len(numbers), self.keypoints[0].shape[0], 3), np.nan, np.float32)
        out[..., 2] = 0.0
        where = np.searchsorted(numbers, np.asarray(self.frames, np.int64))
        out[where] = np.stack(self.keypoints)
        return out, numbers

    def mean_confidence(self) -> float:
        return float(np.mean([k[:, 2].mean() for k in self.keypoints]))

    def predicted(self, frame: int) -> np.ndarray:
        """Keypoints ``(K, 3)`` expected at ``frame``: constant velocity from the last two."""
        last = self.keypoints[-1]
        if len(self.frames) < 2:
            return last
        step = (last[:, :2] - self.keypoints[-2][:, :2]) / max(self.frames[-1] - self.frames[-2], 1)
        out = last.copy()
        out[:, :2] += step * (frame - self.frames[-1])
        return out


def pair_cost(predicted: np.ndarray, detection: np.ndarray, min_confidence=MIN_CONFIDENCE) -> float:
    """``1 - IoU`` of the two people's boxes plus their mean keypoint distance over the box
    diagonal of ``predicted`` (joints both see with ``min_confidence``; all joints where none)."""
    a, b = boxes_of(np.stack([predicted, detection]), min_confidence)
    both = (predicted[:, 2] >= min_confidence) & (detection[:, 2] >= min_confidence)
    both = both if both.any() else np.ones(len(both), bool)
    dist = np.linalg.norm(predicted[both, :2] - detection[both, :2], axis=-1).mean()
    diagonal = max(float(np.hypot(a[2] - a[0], a[3] - a[1])), 1.0)
    return (1.0 - box_iou(a, b)) + float(dist) / diagonal


class Tracker:
    """Causal tracker: :meth:`update` with each frame's detections, in frame order."""

    def __init__(self, max_gap: int = MAX_GAP, max_cost: float = MAX_COST):
        from scipy.optimize import linear_sum_assignment

        self._assign = linear_sum_assignment  # imported once, before any frame is timed
        self.max_gap, self.max_cost = int(max_gap), float(max_cost)
        self.open: list[Track] = []
        self.closed: list[Track] = []
        self._next_id = 1

    def update(self, frame: int, people: np.ndarray) -> list[tuple[Track, np.ndarray]]:
        """Assign ``people`` ``(P, K, 3)`` of frame number ``frame``; returns ``(track,
        keypoints)`` per detection (new tracks included)."""
        people = np.asarray(people, np.float32)
        if people.size == 0:
            self._age(set())
            return []
        cost = np.array([[pair_cost(t.predicted(frame), p) for p in people] for t in self.open])
        matched = {}
        if cost.size:
            rows, cols = self._assign(np.where(cost > self.max_cost, 1e6, cost))
            matched = {int(c): self.open[int(r)] for r, c in zip(rows, cols)
                       if cost[r, c] <= self.max_cost}
        out = []
        for i, person in enumerate(people):
            track = matched.get(i)
            if track is None:
                track = Track(self._next_id)
                self._next_id += 1
                self.open.append(track)
            track.frames.append(int(frame))
            track.keypoints.append(person)
            out.append((track, person))
        self._age(set(map(id, (t for t, _ in out))))
        return out

    def _age(self, seen: set) -> None:
        still = []
        for track in self.open:
            track.missed = 0 if id(track) in seen else track.missed + 1
            (still if track.missed <= self.max_gap else self.closed).append(track)
        self.open = still

    def tracks(self) -> list[Track]:
        """Every track so far (ended and open), by id."""
        return sorted(self.closed + self.open, key=lambda t: t.id)


def link_tracks(frames, people_per_frame, *, max_gap: int = MAX_GAP, max_cost: float = MAX_COST,
                min_frames: int = 1) -> list[Track]:
    """Tracks over ``frames`` (frame numbers, increasing) with ``people_per_frame[t]`` ``(P_t, K,
    3)``; tracks with fewer than ``min_frames`` detections are dropped (ids renumbered 1, 2, ...)."""
    tracker = Tracker(max_gap, max_cost)
    for frame, people in zip(frames, people_per_frame):
        tracker.update(frame, people)
    return keep_tracks(tracker.tracks(), min_frames)


def keep_tracks(tracks: list[Track], min_frames: int) -> list[Track]:
    """Tracks with at least ``min_frames`` detections (flickers dropped), renumbered 1, 2, ...
    in order of appearance (the dropped ones get id 0); the tracks keep their detections."""
    kept = [t for t in tracks if len(t.frames) >= min_frames]
    for track in tracks:
        track.id = 0  # dropped tracks have no id
    for k, track in enumerate(kept, start=1):
        track.id = k
    return kept
