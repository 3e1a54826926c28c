"""Reading any keypoint file in one call: detect, read, put in the model's joint layout, check
the image size, fill the gaps.

Each format's reader is a row of :data:`starpose.formats.table.TABLE`; :func:`load_keypoints` is
the entry point ``starpose lift`` and library users call.
"""
from __future__ import annotations

from dataclasses import replace

from starpose.errors import DataError, StarposeError
from starpose.formats.checks import (
    NoKeypointsError,
    check_found,
    looks_like,
    other_format,
    outside_image_notes,
)
from starpose.formats.detect import detect_format
from starpose.formats.fill import fill_missing
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, Keypoints2D
from starpose.formats.layout import to_layout
from starpose.formats.table import FORMATS, READERS, format_title


def read_format(path, fmt: str, width=None, height=None,
                min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read ``path`` in format ``fmt`` (not ``auto``) without filling gaps."""
    if fmt not in READERS:
        raise StarposeError(f"unknown keypoint format {fmt!r}; choose from auto, {', '.join(FORMATS)}")
    return READERS[fmt](path, width, height, min_confidence)


def load_keypoints(path, fmt="auto", *, width=None, height=None, fps=None,
                   min_confidence=DEFAULT_MIN_CONFIDENCE, dataset=None) -> list[Keypoints2D]:
    """Detect (if ``fmt == "auto"``), read, put in ``dataset``'s joints, check the image size and
    fill gaps.

    ``width``/``height``/``fps`` given here override what the file says. ``dataset``: the
    :class:`starpose.datasets.registry.Dataset` whose joints the model lifts (default Human3.6M);
    see :func:`starpose.formats.layout.to_layout`. Returns one :class:`Keypoints2D` per sequence
    (a VideoPose3D file may hold several videos), each with every joint filled and
    ``width``/``height`` set; raises :class:`StarposeError` otherwise (:class:`NoKeypointsError`
    when a sequence has no usable keypoint, saying which format the file looks like when ``fmt``
    was named and does not fit). Most keypoints outside the image add a warning note.
    """
    if (width is None) != (height is None):
        raise StarposeError("give both the image width and height, or neither")
    if width is not None and (width <= 0 or height <= 0):
        raise StarposeError(f"image size must be positive, got {width} x {height}")
    forced = fmt != "auto"
    if dataset is None:
        from starpose.datasets.registry import DEFAULT_DATASET, get_dataset

        dataset = get_dataset(DEFAULT_DATASET)
    fmt = detect_format(path) if fmt == "auto" else fmt
    try:
        sequences = read_format(path, fmt, width, height, min_confidence)
    except NoKeypointsError:
        raise
    except DataError as err:
        detected = other_format(path, fmt) if forced else None
        if detected:  # the reader of the named format failed on a file of another format
            raise NoKeypointsError(f"{err}{looks_like(detected)}", detected=detected) from None
        raise
    if not sequences:
        raise DataError(f"{path}: no keypoint sequences found")
    for kp in sequences:
        check_found(kp, fmt, forced, min_confidence)
    return [_finish(to_layout(kp, dataset), width, height, fps, min_confidence, dataset)
            for kp in sequences]


def _finish(kp: Keypoints2D, width, height, fps, min_confidence, dataset) -> Keypoints2D:
    w, h = width or kp.width, height or kp.height
    if not w or not h:
        sizes = set(dataset.image_sizes.values())
        hint = f" ({dataset.title}'s cameras: {'x'.join(map(str, sizes.pop()))})" if len(sizes) == 1 else ""
        raise DataError(
            f"{kp.path}: the image size is not stored in this "
            f"{format_title(kp.source_format, dataset)}; give the image width and height "
            f"(in pixels){hint}"
        )
    kp = replace(kp, width=float(w), height=float(h), fps=fps or kp.fps)
    kp = replace(kp, notes=kp.notes + outside_image_notes(kp, min_confidence))
    return fill_missing(kp, min_confidence)
