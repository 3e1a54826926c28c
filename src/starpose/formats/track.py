"""Person tracking: one person per frame out of a detector's several.

Readers that see several people per frame (COCO, MediaPipe, OpenPose) hand their per-frame
lists to :func:`from_people`, which keeps the most confident person and then follows the
previous pick's hip, and reports crowded frames as a :class:`Note`.
"""
from __future__ import annotations

import numpy as np

from starpose.formats.joint_map import convert_to_h36m
from starpose.formats.keypoints import Keypoints2D, Note, NoteKind, make_sequence


def choose_people(people_per_frame, layout, min_confidence):
    """Pick one person per frame; returns ``(T, 17, 2)``, ``(T, 17)`` and how many frames had several.

    ``people_per_frame[t]`` is a list of ``(K, 3)`` arrays (x, y, confidence) in ``layout``.
    The first pick is the most confident person (highest mean confidence); afterwards, among
    people at least half as confident as the best, the one whose hip is nearest the previous
    pick's hip, so a passer-by with a momentarily higher score does not steal the track.
    """
    T = len(people_per_frame)
    xy = np.full((T, 17, 2), np.nan, dtype=np.float32)
    conf = np.zeros((T, 17), dtype=np.float32)
    previous_root, crowded = None, 0
    for t, people in enumerate(people_per_frame):
        if not people:
            continue
        stacked = np.stack(people)
        cand_xy, cand_conf = convert_to_h36m(
            stacked[..., :2], stacked[..., 2], layout, min_confidence
        )
        best = _pick(cand_xy, cand_conf, previous_root)
        crowded += len(people) > 1
        xy[t], conf[t] = cand_xy[best], cand_conf[best]
        if conf[t, 0] >= min_confidence:
            previous_root = xy[t, 0]
    return xy, conf, crowded


def _pick(cand_xy, cand_conf, previous_root) -> int:
    """Index of the person to keep among ``(P, 17, 2)`` candidates (see :func:`choose_people`)."""
    score = cand_conf.mean(axis=1)
    if previous_root is None or len(score) == 1:
        return int(np.argmax(score))
    plausible = np.flatnonzero(score >= 0.5 * score.max())
    dist = np.linalg.norm(cand_xy[plausible, 0] - previous_root, axis=-1)
    return int(plausible[np.argmin(dist)])


def from_people(people_per_frame, layout, path, name, min_confidence, size=(None, None),
                fps=None, frame_index=None, notes=()) -> Keypoints2D:
    """Build a :class:`Keypoints2D` from per-frame lists of ``(K, 3)`` people in ``layout``
    (``frame_index``: the input's frame numbers, default ``0..T-1``; ``notes`` come first)."""
    xy, conf, crowded = choose_people(people_per_frame, layout, min_confidence)
    notes = list(notes)
    if crowded:
        notes.append(Note(
            NoteKind.SEVERAL_PEOPLE,
            f"{name}: {crowded:,} frame(s) show several people; kept the most confident one, "
            "following the previous frame's hip",
        ))
    return make_sequence(xy, conf, layout, name, path, size, fps, notes, frame_index)

