"""Gap filling: joints a detector missed or was unsure of, interpolated over time.

:func:`fill_missing` is the last step of :func:`starpose.formats.load_keypoints`; it marks what
it filled in ``Keypoints2D.filled`` and reports it as a :data:`NoteKind.FILLED_JOINTS` note.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from starpose.errors import DataError
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, Keypoints2D, Note, NoteKind


def fill_missing(kp: Keypoints2D, min_confidence=DEFAULT_MIN_CONFIDENCE) -> Keypoints2D:
    """Fill joints that are missing or below ``min_confidence`` by linear interpolation over time.

    Each joint is interpolated on its own between its valid frames; frames before the first or
    after the last valid one take the nearest valid value. Raises :class:`StarposeError` for an
    empty sequence or a joint with no valid frame at all.
    """
    where = kp.path or kp.name
    if kp.num_frames == 0:
        raise DataError(f"{where}: no frames with keypoints")
    valid = (kp.confidence >= min_confidence) & np.isfinite(kp.xy).all(axis=-1)
    names = kp.joint_names or tuple(f"joint {j}" for j in range(kp.xy.shape[1]))
    never = [names[j] for j in np.flatnonzero(~valid.any(axis=0))]
    if never:
        raise DataError(
            f"{where}: joint(s) {', '.join(never)} missing or below confidence "
            f"{min_confidence:g} in every frame, cannot fill them"
        )
    xy = kp.xy.astype(np.float32).copy()
    frames = np.arange(kp.num_frames)
    for j in range(xy.shape[1]):
        ok = valid[:, j]
        for axis in range(2):
            xy[:, j, axis] = np.interp(frames, frames[ok], xy[ok, j, axis])
    notes = list(kp.notes)
    n_filled = int((~valid).sum())
    if n_filled:
        empty = int((~valid).all(axis=1).sum())
        notes.append(Note(
            NoteKind.FILLED_JOINTS,
            f"{kp.name}: filled {n_filled:,} of {valid.size:,} joint positions "
            f"({100 * n_filled / valid.size:.1f} %) by interpolation (missing or confidence "
            f"< {min_confidence:g})" + (f"; {empty:,} frame(s) had no person" if empty else ""),
        ))
    return replace(kp, xy=xy, filled=~valid, notes=notes)

