"""Frame order of detector output keyed by frame ids or file names.

Detectors name frames by number, by image id or by file name; :func:`order_frames` turns
``{frame id: [people]}`` into a list in time order, with empty frames where numbers are missing.
"""
from __future__ import annotations

import re

import numpy as np


def frame_number(text) -> int | None:
    """The last integer in a frame id or file name (``img_0042.jpg`` -> 42), if any."""
    if isinstance(text, (int, np.integer)):
        return int(text)
    found = re.findall(r"\d+", str(text))
    return int(found[-1]) if found else None


def order_frames(entries: dict) -> list:
    """Values of ``{frame id: [people]}`` in frame order.

    Numeric ids (or names ending in a number) give frame numbers, and frames missing between the
    first and the last become empty (no person) so timing is kept, unless the ids are too sparse
    to be frame numbers (more than 4 gaps per frame, e.g. COCO image ids): then they are only
    sorted, as are ids without a number.
    """
    numbers = {key: frame_number(key) for key in entries}
    if entries and all(n is not None for n in numbers.values()):
        by_number = {}
        for key, value in entries.items():
            by_number.setdefault(numbers[key], []).extend(value)
        first, last = min(by_number), max(by_number)
        if last - first + 1 <= 4 * len(by_number):
            return [by_number.get(n, []) for n in range(first, last + 1)]
        return [by_number[n] for n in sorted(by_number)]
    return [entries[key] for key in sorted(entries, key=str)]

