"""Frame order of detector output keyed by frame ids or file names.

Detectors name frames by number, by image id or by file name; :func:`order_frames` turns
``{frame id: [people]}`` into a list in time order, with empty frames where numbers are missing,
and keeps each frame's number (the result's ``frame_index``) so that the output stays aligned
with the video.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from starpose.formats.keypoints import Note, NoteKind

#: Ids with more gaps than this per frame are not taken as consecutive frame numbers.
MAX_GAPS_PER_FRAME = 3
#: Larger numbers are no frame numbers (and would not fit the int64 ``frame_index``).
_LARGEST_FRAME = 2**53


class OrderedFrames(NamedTuple):
    """Per-frame lists in time order, and where they sit in the input's numbering.

    ``index`` ``(T,)`` int64: each frame's number (None when the ids are not numbers: frames are
    then numbered ``0..T-1``); ``sparse``: the numbers were too sparse to be consecutive frames,
    so the gaps between them were not filled.
    """

    frames: list
    index: np.ndarray | None
    sparse: bool = False

    def notes(self, name: str) -> list[Note]:
        """A note for the user when the ids were too sparse to fill the gaps between them."""
        if not self.sparse:
            return []
        first, last = int(self.index[0]), int(self.index[-1])
        return [Note(
            NoteKind.SPARSE_FRAME_IDS,
            f"{name}: {len(self.frames):,} frame ids from {first} to {last} are too sparse to be "
            "consecutive frames (image ids?); lifted as consecutive frames, the ids kept as "
            "frame_index",
        )]


def frame_number(text) -> int | None:
    """The last integer in a frame id or file name (``img_0042.jpg`` -> 42), if any.

    A number with a fraction (``0.04``, a time in seconds) or beyond 2**53 is not a frame number.
    """
    if isinstance(text, (bool, np.bool_)):
        return None
    if isinstance(text, (int, np.integer)):
        return _in_range(int(text))
    if isinstance(text, (float, np.floating)):
        return _in_range(int(text)) if np.isfinite(text) and float(text).is_integer() else None
    value = _as_float(text)
    if value is not None:
        return _in_range(int(value)) if value.is_integer() else None
    found = re.findall(r"\d+", str(text))
    return _in_range(int(found[-1])) if found else None


def _in_range(number: int) -> int | None:
    return number if abs(number) < _LARGEST_FRAME else None


def _as_float(text) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _sort_key(key):
    """Ids without a frame number: numbers by value, then the rest as text."""
    value = _as_float(key)
    return (0, value, "") if value is not None else (1, 0.0, str(key))


def order_frames(entries: dict) -> OrderedFrames:
    """Values of ``{frame id: [people]}`` in frame order, with the frames' numbers.

    Numeric ids (or names ending in a number) give frame numbers, and frames missing between the
    first and the last become empty (no person) so timing is kept; the first frame keeps its
    number (a clip whose first detection is frame 5 starts at 5). Ids too sparse to be frame
    numbers (more than :data:`MAX_GAPS_PER_FRAME` missing per frame, e.g. COCO image ids) are
    only sorted, and keep their numbers; ids without a number are sorted and numbered from 0.
    """
    numbers = {key: frame_number(key) for key in entries}
    if entries and all(n is not None for n in numbers.values()):
        by_number = {}
        for key, value in entries.items():
            by_number.setdefault(numbers[key], []).extend(value)
        first, last = min(by_number), max(by_number)
        if last - first + 1 <= (MAX_GAPS_PER_FRAME + 1) * len(by_number):
            return OrderedFrames([by_number.get(n, []) for n in range(first, last + 1)],
                                 np.arange(first, last + 1, dtype=np.int64))
        ordered = sorted(by_number)
        return OrderedFrames([by_number[n] for n in ordered], np.array(ordered, dtype=np.int64),
                             sparse=True)
    return OrderedFrames([entries[key] for key in sorted(entries, key=_sort_key)], None)


def shared_frame_key(entries: list, keys) -> str | None:
    """The first of ``keys`` that every entry (a dict) of ``entries`` has, if any: the field
    numbering per-frame records such as ``{"frame": 5, "people": [...]}``."""
    if not entries or not all(isinstance(e, dict) for e in entries):
        return None
    return next((k for k in keys if all(_usable_id(e.get(k)) for e in entries)), None)


def _usable_id(value) -> bool:
    return value is not None and not isinstance(value, (dict, list, bool))
