"""Sanity checks on what a reader found, before gaps are filled and the sequence is lifted.

:func:`check_found` refuses a sequence without a single usable keypoint, saying why (no
keypoints of the format read, the file looks like another format, every confidence below the
threshold) in a :class:`NoKeypointsError`; :func:`outside_image_notes` warns when most keypoints
lie outside the image, the sign of a wrong image size.
"""
from __future__ import annotations

import numpy as np

from starpose.errors import DataError, StarposeError
from starpose.formats.keypoints import Keypoints2D, Note, NoteKind
from starpose.formats.table import FORMAT_TITLES

#: More than this share of the keypoints outside the image is taken as a wrong image size
#: (a person partly out of the picture leaves far fewer outside).
OUTSIDE_SHARE = 0.5


class NoKeypointsError(DataError):
    """A reader found no usable keypoint in a file.

    ``detected``: the format the file looks like, when it is not the one it was read as (None
    otherwise); ``highest_confidence``: the best confidence of the keypoints found, when there
    were keypoints but all below the minimum confidence (None when there were none).
    """

    def __init__(self, message: str, detected: str | None = None,
                 highest_confidence: float | None = None):
        super().__init__(message)
        self.detected = detected
        self.highest_confidence = highest_confidence


def other_format(path, fmt: str) -> str | None:
    """The format ``path`` is detected as, when it differs from ``fmt`` (None if it does not,
    or if the format cannot be told)."""
    from starpose.formats.detect import detect_format

    try:
        detected = detect_format(path)
    except StarposeError:
        return None
    return detected if detected != fmt else None


def looks_like(detected: str | None) -> str:
    """``"; the file looks like <format title> instead"``, or nothing."""
    return f"; the file looks like {FORMAT_TITLES[detected]} instead" if detected else ""


def check_found(kp: Keypoints2D, fmt: str, forced: bool, min_confidence: float) -> None:
    """Raise :class:`NoKeypointsError` when ``kp`` has no keypoint at or above ``min_confidence``.

    ``forced``: the format was named by the caller rather than detected, so a file that looks
    like another format is said to. Empty sequences are left to
    :func:`starpose.formats.fill.fill_missing`, which reports them.
    """
    if kp.num_frames == 0:
        return
    finite = np.isfinite(kp.xy).all(axis=-1)
    if (finite & (kp.confidence >= min_confidence)).any():
        return
    where = kp.path or kp.name
    detected = other_format(kp.path, fmt) if forced and kp.path else None
    if not finite.any():
        raise NoKeypointsError(
            f"{where}: no {FORMAT_TITLES[fmt]} keypoints found in {kp.num_frames:,} frame(s)"
            + looks_like(detected), detected=detected)
    highest = float(kp.confidence[finite].max())
    raise NoKeypointsError(
        f"{where}: every keypoint's confidence is below the minimum {min_confidence:g} (the "
        f"highest is {highest:g}), nothing to lift" + looks_like(detected),
        detected=detected, highest_confidence=highest)


def outside_image_notes(kp: Keypoints2D, min_confidence: float) -> list[Note]:
    """A warning note when most confident keypoints lie outside the ``width x height`` image.

    None when MediaPipe landmarks were already found to be pixels (the same cause, said better).
    """
    if any(note.kind is NoteKind.PIXEL_LANDMARKS for note in kp.notes):
        return []
    valid = (kp.confidence >= min_confidence) & np.isfinite(kp.xy).all(axis=-1)
    xy = kp.xy[valid].astype(np.float64)
    if not len(xy):
        return []
    w, h = kp.width, kp.height
    outside = (xy[:, 0] < 0) | (xy[:, 0] > w) | (xy[:, 1] < 0) | (xy[:, 1] > h)
    if outside.mean() <= OUTSIDE_SHARE:
        return []
    low, high = xy.min(axis=0), xy.max(axis=0)
    return [Note(
        NoteKind.OUTSIDE_IMAGE,
        f"{kp.name}: {100 * outside.mean():.0f} % of the keypoints lie outside the {w:g}x{h:g} "
        f"px image (x {low[0]:,.0f}..{high[0]:,.0f}, y {low[1]:,.0f}..{high[1]:,.0f}); is the "
        "image size right?",
    )]
