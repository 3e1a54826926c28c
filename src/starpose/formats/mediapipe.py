"""Reader for MediaPipe Pose's 33 landmarks (normalised x, y, visibility), JSON or CSV.

JSON: a list of frames (each its landmarks, a list of poses, or a dict holding them), or a dict
with ``frames``/``landmarks``. CSV: long (``frame, landmark, x, y, z, visibility`` rows) or wide
(``x0, y0, z0, v0, ...`` or ``nose_x, ...`` columns, one row per frame). Landmarks are fractions
of the image, so the image size must come from the file or the caller.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from starpose.errors import DataError
from starpose.formats.frames import OrderedFrames, frame_number, order_frames, shared_frame_key
from starpose.formats.joint_map import MEDIAPIPE_NAMES
from starpose.formats.json_io import fps_from, number, read_json, size_from
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, Keypoints2D, Note, NoteKind
from starpose.formats.track import from_people


def _landmark(value, path, where) -> tuple[float, float, float]:
    """x, y, visibility of one landmark given as a dict or a list ``[x, y, z, visibility]``."""
    if isinstance(value, dict):
        vis = value.get("visibility", value.get("presence", 1.0))
        return (number(value.get("x"), f"{where} x", path),
                number(value.get("y"), f"{where} y", path),
                number(vis, f"{where} visibility", path))
    if isinstance(value, list) and len(value) >= 2:
        vis = value[3] if len(value) >= 4 else 1.0
        return (number(value[0], f"{where} x", path), number(value[1], f"{where} y", path),
                number(vis, f"{where} visibility", path))
    raise DataError(f"{path}: {where}: a landmark must be {{x, y, z, visibility}} or a list")


def _mediapipe_pose(landmarks, path, where) -> np.ndarray:
    """One pose's 33 landmarks as ``(33, 3)`` (normalised x, y, visibility)."""
    if len(landmarks) != 33:
        raise DataError(
            f"{path}: {where}: expected 33 MediaPipe Pose landmarks, got {len(landmarks)}"
        )
    return np.array([_landmark(v, path, f"{where} landmark {i}") for i, v in enumerate(landmarks)])


def _is_pose(value) -> bool:
    """Whether ``value`` is one pose (a list of landmarks) rather than a list of poses."""
    return isinstance(value, list) and bool(value) and (
        isinstance(value[0], dict) or (isinstance(value[0], list) and value[0]
                                       and isinstance(value[0][0], (int, float)))
    )


def _mediapipe_frame(entry, path, t) -> list:
    """The poses of one frame entry (a list of landmarks, a list of poses, or a dict)."""
    if isinstance(entry, dict):
        for key in ("landmarks", "pose_landmarks", "poses", "people"):
            if key in entry:
                return _mediapipe_frame(entry[key], path, t)
        return []
    if not entry:
        return []
    if _is_pose(entry):
        return [_mediapipe_pose(entry, path, f"frame {t}")]
    return [_mediapipe_pose(p, path, f"frame {t} pose {i}") for i, p in enumerate(entry) if p]


def _mediapipe_json(path):
    obj = read_json(path)
    frames = obj
    if isinstance(obj, dict):
        frames = next((obj[k] for k in ("frames", "landmarks", "pose_landmarks") if k in obj), None)
        if not isinstance(frames, list):
            raise DataError(f"{path}: no 'frames' or 'landmarks' list of MediaPipe landmarks")
    if not isinstance(frames, list):
        raise DataError(f"{path}: expected a JSON list of frames, got {type(obj).__name__}")
    if _is_pose(frames) and len(frames) == 33 and isinstance(frames[0], dict):
        frames = [frames]  # a single frame given as its 33 landmarks
    key = shared_frame_key(frames, _JSON_FRAME)
    if key is not None:  # frame records naming their frame: {"frame": 5, "landmarks": [...]}
        entries: dict = {}
        for t, entry in enumerate(frames):
            entries.setdefault(entry[key], []).extend(_mediapipe_frame(entry, path, t))
        return order_frames(entries), obj
    poses = [_mediapipe_frame(entry, path, t) for t, entry in enumerate(frames)]
    return OrderedFrames(poses, None), obj


# Wide CSV columns: ``x0``/``x_0``, ``0_x`` or ``nose_x`` (channel x, y, z or v/visibility).
_CHANNEL = r"(x|y|z|v|vis|visibility)"
_WIDE = re.compile(rf"^(?:{_CHANNEL}_?(\d+)|(\d+)_{_CHANNEL}|([a-z_]+)_{_CHANNEL})$")
_CSV_FRAME = ("frame", "frame_id", "frame_index", "frame_idx", "frame_number", "image", "t")
_JSON_FRAME = ("frame", "frame_id", "frame_index", "frame_idx", "frame_number", "image_id")
_CSV_LANDMARK = ("landmark", "landmark_id", "id", "index", "joint", "keypoint", "name")


def _read_csv(path: Path) -> tuple[list[str], list[dict]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None
    rows = [{k.strip().lower(): (v if isinstance(v, str) else "").strip() for k, v in row.items() if k is not None}
            for row in rows]  # cells beyond the header come as a list under the key None: dropped
    return header, rows


def _landmark_index(value, path) -> int:
    if value.isdigit():
        index = int(value)
    elif value.lower() in MEDIAPIPE_NAMES:
        index = MEDIAPIPE_NAMES.index(value.lower())
    else:
        raise DataError(f"{path}: unknown MediaPipe landmark {value!r}")
    if not 0 <= index < 33:
        raise DataError(f"{path}: landmark index {index} outside 0..32 (MediaPipe Pose has 33)")
    return index


def _mediapipe_csv_long(path, header, rows) -> OrderedFrames:
    """Rows ``frame, landmark, x, y, z, visibility`` -> per-frame pose lists."""
    frame_key = next(k for k in _CSV_FRAME if k in header)
    mark_key = next(k for k in _CSV_LANDMARK if k in header)
    vis_key = next((k for k in ("visibility", "vis", "v", "score") if k in header), None)
    frames: dict = {}
    for i, row in enumerate(rows):
        where = f"row {i + 2}"
        pose = frames.setdefault(row[frame_key], np.full((33, 3), np.nan))
        index = _landmark_index(row[mark_key], path)
        vis = (row.get(vis_key) or "1") if vis_key else "1"
        pose[index] = [number(row["x"] or None, f"{where} x", path),
                       number(row["y"] or None, f"{where} y", path),
                       number(vis, f"{where} visibility", path)]
    return order_frames({k: [v] for k, v in frames.items()})


def _wide_columns(header) -> dict[tuple[int, str], str]:
    """Map (landmark index, channel x|y|v) -> column name for wide CSVs."""
    columns = {}
    for col in header:
        m = _WIDE.match(col)
        if not m:
            continue
        channel = (m.group(1) or m.group(4) or m.group(6))[0]
        ident = m.group(2) or m.group(3) or m.group(5)
        if ident.isdigit() or ident in MEDIAPIPE_NAMES:
            columns[(int(ident) if ident.isdigit() else MEDIAPIPE_NAMES.index(ident), channel)] = col
    return columns


def _mediapipe_csv_wide(path, header, rows) -> OrderedFrames:
    """Rows with columns ``x0, y0, z0, v0, ...`` (or ``nose_x``, ...) -> per-frame pose lists,
    ordered and numbered by the frame column when it holds frame numbers (a missing row is a
    frame without a person, not a shift of every later frame), else in the rows' order."""
    columns = _wide_columns(header)
    found = sorted({i for i, ch in columns if ch in "xy"})
    if found != list(range(33)):
        raise DataError(
            f"{path}: expected x and y columns for the 33 MediaPipe landmarks, found "
            f"{len(found)} landmark(s)"
        )
    frames = []
    for i, row in enumerate(rows):
        pose = np.array([[
            number(row[columns[(j, "x")]] or None, f"row {i + 2} x{j}", path),
            number(row[columns[(j, "y")]] or None, f"row {i + 2} y{j}", path),
            number(row[columns[(j, "v")]] or None if (j, "v") in columns else 1.0,
                    f"row {i + 2} v{j}", path),
        ] for j in range(33)])
        frames.append([] if np.isnan(pose[:, :2]).all() else [pose])
    frame_key = next((k for k in _CSV_FRAME if k in header), None)
    if frame_key is None or any(frame_number(row[frame_key]) is None for row in rows):
        return OrderedFrames(frames, None)  # no frame numbers (or times): the rows' order
    entries: dict = {}
    for row, poses in zip(rows, frames):
        entries.setdefault(row[frame_key], []).extend(poses)
    return order_frames(entries)


def _mediapipe_csv(path):
    header, rows = _read_csv(path)
    long = any(k in header for k in _CSV_LANDMARK) and {"x", "y"} <= set(header)
    if long and any(k in header for k in _CSV_FRAME):
        return _mediapipe_csv_long(path, header, rows), {}
    return _mediapipe_csv_wide(path, header, rows), {}


def read_mediapipe(path, width=None, height=None,
                   min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read MediaPipe Pose landmarks (JSON or CSV) and convert them to pixels.

    MediaPipe stores x, y normalised to [0, 1] of the image width and height, so the image size
    (from the file or ``width``/``height``) is required; landmarks that look like pixels give a
    warning note. ``frame_index``: a CSV's frame column or the frame records' ``frame`` field
    (gaps filled as frames without a person), else ``0..T-1``.
    """
    path = Path(path)
    ordered, obj = _mediapipe_csv(path) if path.suffix.lower() == ".csv" else _mediapipe_json(path)
    frames, notes = ordered.frames, ordered.notes(path.stem) + _pixel_notes(ordered.frames, path.stem)
    file_w, file_h = size_from(obj) if isinstance(obj, dict) else (None, None)
    w, h = width or file_w, height or file_h
    if not w or not h:
        raise DataError(
            f"{path}: MediaPipe landmarks are normalised to the image size; the image width "
            "and height in pixels are needed to convert them"
        )
    for poses in frames:
        for pose in poses:
            pose[:, 0] *= w
            pose[:, 1] *= h
            pose[:, 2] = np.clip(np.nan_to_num(pose[:, 2]), 0.0, 1.0)
    fps = fps_from(obj)
    return [from_people(frames, "mediapipe", path, path.stem, min_confidence, (w, h), fps,
                        frame_index=ordered.index, notes=notes)]


#: Normalised landmarks stray a little outside [0, 1] (points out of the picture); pixels do not
#: stay below this.
_PIXEL_LIKE = 2.0


def _pixel_notes(frames, name) -> list[Note]:
    """A warning when most landmark coordinates are far above 1: pixels, not fractions."""
    values = [pose[:, :2].ravel() for poses in frames for pose in poses]
    values = np.concatenate(values) if values else np.zeros(0)
    values = np.abs(values[np.isfinite(values)])
    if not values.size or np.mean(values > _PIXEL_LIKE) <= 0.5:
        return []
    return [Note(
        NoteKind.PIXEL_LANDMARKS,
        f"{name}: MediaPipe landmarks are fractions of the image (0..1), but these reach "
        f"{values.max():,.0f}: they look like pixels; divide x by the image width and y by its "
        "height, or give the keypoints as a Human3.6M-ordered array",
    )]

