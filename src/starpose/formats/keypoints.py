"""The value every reader returns: a 2D keypoint sequence with its joint names, with typed notes.

:class:`Keypoints2D` holds ``(T, J, 2)`` pixels and ``(T, J)`` confidences (the detector formats
give the Human3.6M 17 joints; arrays come in the lifting model's own order); :class:`Note` is a
message for the user whose :class:`NoteKind` says what happened (callers decide by the kind,
never by the wording). The formats' names and titles: :mod:`starpose.formats.table`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np

from starpose.data.skeleton import H36M_17

DEFAULT_MIN_CONFIDENCE = 0.3
H36M_NAMES = tuple(H36M_17.names)


class NoteKind(enum.Enum):
    """What a :class:`Note` reports."""

    SEVERAL_PEOPLE = "several_people"  # frames with several people; one was kept
    FILLED_JOINTS = "filled_joints"  # joints missing or unsure, filled by interpolation
    SPARSE_FRAME_IDS = "sparse_frame_ids"  # frame ids too sparse to fill the gaps between them
    OUTSIDE_IMAGE = "outside_image"  # most keypoints outside the image: a wrong image size?
    PIXEL_LANDMARKS = "pixel_landmarks"  # MediaPipe landmarks that look like pixels, not fractions

    @property
    def is_warning(self) -> bool:
        """Whether the note says the data the lifter sees is changed or suspect (the user
        should check it)."""
        return self in _WARNINGS


_WARNINGS = frozenset({NoteKind.FILLED_JOINTS, NoteKind.OUTSIDE_IMAGE, NoteKind.PIXEL_LANDMARKS})


@dataclass(frozen=True)
class Note:
    """A message for the user about a sequence: its ``kind`` and one line of ``text``."""

    kind: NoteKind
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class Keypoints2D:
    """A 2D keypoint sequence of ``J`` joints (the Human3.6M 17 from the detector formats).

    ``xy`` is ``(T, J, 2)`` float32 pixels (NaN where a reader found nothing), ``confidence``
    ``(T, J)`` in [0, 1], ``filled`` ``(T, J)`` bool marks positions filled by
    :func:`starpose.formats.fill.fill_missing`. ``notes`` collects :class:`Note` values for the
    user (people picked, joints filled). ``frame_index`` ``(T,)`` int64 numbers each frame as
    the input does (COCO ``image_id``, a CSV ``frame`` column, an OpenPose file's number;
    ``0..T-1`` where the input has no numbers); None means ``0..T-1``.
    ``joint_names`` names the joints; empty when they are in the order of the lifting model's
    dataset (a plain array), which :func:`starpose.formats.layout.to_layout` then checks and names.
    """

    xy: np.ndarray
    confidence: np.ndarray
    width: float | None
    height: float | None
    fps: float | None
    source_format: str
    name: str
    path: str = ""
    filled: np.ndarray | None = None
    notes: list[Note] = field(default_factory=list)
    frame_index: np.ndarray | None = None
    joint_names: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])

    @property
    def frame_numbers(self) -> np.ndarray:
        """``frame_index``, or ``0..T-1`` when the reader gave none: ``(T,)`` int64."""
        if self.frame_index is None:
            return np.arange(self.num_frames, dtype=np.int64)
        return np.asarray(self.frame_index, dtype=np.int64)


def make_sequence(xy, conf, source_format, name, path, size=(None, None), fps=None, notes=(),
                  frame_index=None, joint_names=H36M_NAMES):
    """A :class:`Keypoints2D` from ``(T, J, 2)`` pixels and ``(T, J)`` confidences (as float32),
    by default the Human3.6M 17 joints the detector formats are mapped to; ``frame_index``
    ``(T,)``: the input's frame numbers (default ``0..T-1``)."""
    frames = len(xy)
    frame_index = np.arange(frames) if frame_index is None else np.asarray(frame_index)
    if frame_index.shape != (frames,):
        raise ValueError(f"frame_index has shape {frame_index.shape}, expected ({frames},)")
    return Keypoints2D(
        xy=np.asarray(xy, dtype=np.float32),
        confidence=np.asarray(conf, dtype=np.float32),
        width=size[0],
        height=size[1],
        fps=fps,
        source_format=source_format,
        name=name,
        path=str(path),
        notes=list(notes),
        frame_index=frame_index.astype(np.int64),
        joint_names=tuple(joint_names),
    )
