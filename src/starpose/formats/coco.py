"""Reader for COCO-17 keypoint JSON (``[x, y, score] * 17`` per person, several layouts).

Accepted: a COCO results list (detections naming their ``image_id``/``frame``), a list of
per-frame entries, a dict with ``frames``/``annotations``, or a COCO annotation file
(``images`` + ``annotations``). Ground-truth visibility flags (0, 1, 2) become confidence 0 or 1.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.errors import DataError
from starpose.formats.frames import OrderedFrames, frame_number, order_frames, shared_frame_key
from starpose.formats.json_io import fps_from, number, read_json, size_from
from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, Keypoints2D
from starpose.formats.track import from_people


def _confidence_from_scores(scores: np.ndarray) -> np.ndarray:
    """Scores to [0, 1]; COCO ground-truth visibility flags (0, 1, 2) become 0 or 1."""
    finite = scores[np.isfinite(scores)]
    if finite.size and finite.max() == 2 and np.isin(finite, (0, 1, 2)).all():
        return (scores > 0).astype(np.float32)
    return np.clip(np.nan_to_num(scores), 0.0, 1.0).astype(np.float32)



_FRAME_KEYS = ("image_id", "frame", "frame_id", "frame_index", "frame_idx", "image", "file_name")
_PEOPLE_KEYS = ("people", "persons", "detections", "annotations", "instances", "predictions")


def _coco_person(value, path, where) -> np.ndarray:
    """One person's keypoints (a dict with ``keypoints`` or the list itself) as ``(17, 3)``."""
    kps = value.get("keypoints") if isinstance(value, dict) else value
    try:
        arr = np.array(
            [[number(v, "a keypoint value", path) for v in row] for row in kps]
            if kps and isinstance(kps[0], list)
            else [number(v, "a keypoint value", path) for v in kps],
            dtype=np.float64,
        )
    except TypeError:
        raise DataError(f"{path}: {where}: keypoints must be a list of numbers") from None
    if arr.ndim == 2 and arr.shape[0] == 17 and arr.shape[1] in (2, 3):
        arr = arr if arr.shape[1] == 3 else np.concatenate([arr, np.ones((17, 1))], axis=1)
    elif arr.ndim == 1 and arr.size in (51, 34):
        arr = arr.reshape(17, -1)
        arr = arr if arr.shape[1] == 3 else np.concatenate([arr, np.ones((17, 1))], axis=1)
    else:
        count = arr.size // 3 if arr.ndim == 1 else arr.shape[0]
        raise DataError(
            f"{path}: {where}: expected 17 COCO keypoints ([x, y, score] * 17 = 51 numbers), "
            f"got {arr.size} numbers (~{count} joints)"
        )
    return arr


def _coco_frame_people(entry, path, t) -> list:
    """The people of one per-frame entry (a list of people, a dict holding them, or one person)."""
    if entry is None:
        return []
    if isinstance(entry, dict):
        for key in _PEOPLE_KEYS:
            if isinstance(entry.get(key), list):
                return _coco_frame_people(entry[key], path, t)
        return [_coco_person(entry, path, f"frame {t}")] if "keypoints" in entry else []
    if isinstance(entry, list) and entry and all(isinstance(v, (int, float)) for v in entry):
        return [_coco_person(entry, path, f"frame {t}")]
    if isinstance(entry, list):
        return [_coco_person(p, path, f"frame {t}") for p in entry if p]
    raise DataError(f"{path}: frame {t}: cannot read {type(entry).__name__} as keypoints")


def _coco_people_per_frame(obj, path) -> OrderedFrames:
    """Per-frame lists of ``(17, 3)`` people from any of the accepted COCO JSON layouts, with
    the frames' numbers where the file gives them."""
    if isinstance(obj, dict) and all(isinstance(obj.get(k), list) for k in ("images", "annotations")):
        return _coco_by_images(obj["images"], obj["annotations"], path)
    if isinstance(obj, dict):
        for key in ("frames", "annotations", "results", "predictions"):
            if isinstance(obj.get(key), list):
                return _coco_people_per_frame(obj[key], path)
        raise DataError(
            f"{path}: no keypoints found: expected a list of detections, or a dict with 'frames' "
            "or 'annotations'"
        )
    if not isinstance(obj, list):
        raise DataError(f"{path}: expected a JSON list or object, got {type(obj).__name__}")
    flat = [e for e in obj if isinstance(e, dict) and "keypoints" in e]
    if flat and len(flat) == len(obj) and any(k in flat[0] for k in _FRAME_KEYS):
        return _coco_detections_by_frame(flat, path)
    key = shared_frame_key(obj, _FRAME_KEYS)
    if key is not None:  # per-frame records naming their frame: {"frame": 5, "people": [...]}
        entries: dict = {}
        for t, entry in enumerate(obj):
            entries.setdefault(entry[key], []).extend(_coco_frame_people(entry, path, t))
        return order_frames(entries)
    return OrderedFrames([_coco_frame_people(entry, path, t) for t, entry in enumerate(obj)], None)


def _coco_detections_by_frame(detections, path) -> OrderedFrames:
    """COCO results style: a flat list of detections, each naming its frame."""
    key = next(k for k in _FRAME_KEYS if k in detections[0])
    entries: dict = {}
    for i, det in enumerate(detections):
        if key not in det:
            raise DataError(f"{path}: detection {i} has no '{key}' like the others")
        if isinstance(det[key], (dict, list, bool)) or det[key] is None:
            raise DataError(f"{path}: detection {i}: '{key}' must be a frame number or name, "
                            f"got {type(det[key]).__name__}")
        entries.setdefault(det[key], []).append(_coco_person(det, path, f"detection {i}"))
    return order_frames(entries)


def _coco_by_images(images, annotations, path) -> OrderedFrames:
    """A COCO annotation file: frames by the number in the images' file names when each has
    one (gaps filled as frames without a person), else in the order of ``images``; each frame
    holds the annotations of its ``image_id``."""
    people: dict = {}
    for i, ann in enumerate(annotations):
        if isinstance(ann, dict) and "keypoints" in ann:
            people.setdefault(ann.get("image_id"), []).append(_coco_person(ann, path, f"annotation {i}"))
    images = [img for img in images if isinstance(img, dict)]
    names = [img.get("file_name", "") for img in images]
    if images and all(isinstance(n, str) and frame_number(n) is not None for n in names):
        entries: dict = {}
        for name, img in zip(names, images):
            entries.setdefault(name, []).extend(people.get(img.get("id"), []))
        return order_frames(entries)
    return OrderedFrames([people.get(img.get("id"), []) for img in images], None)


def read_coco_json(path, min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read COCO-17 keypoints from a JSON file (several people per frame allowed).

    Accepted layouts: a COCO results list ``[{"image_id": i, "keypoints": [51 numbers]}, ...]``;
    a list of per-frame entries (each a list of people, a dict with ``people``/``annotations``,
    or a bare keypoint list); a dict with ``frames`` or ``annotations`` (+ ``images``).
    ``frame_index`` holds the frame numbers the file gives (``image_id``, a per-frame ``frame``,
    the number in an image's file name), gaps between them filled as frames without a person.
    """
    path = Path(path)
    obj = read_json(path)
    ordered = _coco_people_per_frame(obj, path)
    for frame in ordered.frames:
        for person in frame:
            person[:, 2] = _confidence_from_scores(person[:, 2])
    return [from_people(ordered.frames, "coco", path, path.stem, min_confidence, size_from(obj),
                        fps_from(obj), frame_index=ordered.index, notes=ordered.notes(path.stem))]

