"""Input 2D keypoint formats, converted to the Human3.6M 17-joint layout the lifter expects.

One reader per format, each returning :class:`Keypoints2D` objects (pixels, H36M order):

* ``videopose3d``: VideoPose3D's ``data_2d_custom_<name>.npz`` (COCO order, one or more videos);
* ``coco``: COCO-17 keypoint JSON (``[x, y, score] * 17`` per person, several layouts);
* ``mediapipe``: MediaPipe Pose 33 landmarks (normalised x, y, visibility), JSON or CSV;
* ``openpose``: a folder of OpenPose BODY_25 ``*_keypoints.json`` files, one per frame;
* ``h36m``: a plain ``.npy``/``.npz`` array ``(T, 17, 2|3)`` already in H36M order.

Readers keep missing or unsure joints as they are (NaN / low confidence); :func:`fill_missing`
then fills them by interpolation over time. :func:`load_keypoints` does detection, reading,
image-size checks and filling in one call.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from starpose.data.skeleton import H36M_17
from starpose.errors import DataError, StarposeError

FORMATS = ("h36m", "coco", "mediapipe", "openpose", "videopose3d")
FORMAT_TITLES = {
    "h36m": "Human3.6M-ordered keypoint array",
    "coco": "COCO-17 keypoints JSON",
    "mediapipe": "MediaPipe Pose 33 landmarks",
    "openpose": "OpenPose BODY_25 folder",
    "videopose3d": "VideoPose3D custom 2D npz",
}
DEFAULT_MIN_CONFIDENCE = 0.3
H36M_NAMES = tuple(H36M_17.names)

COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
MEDIAPIPE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
OPENPOSE_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)


class AnyOf(tuple):
    """A group of points of which any confident subset will do (the face points).

    Its position is the mean of the members at or above the confidence threshold and its
    confidence the best member's, so a head seen in profile (one ear hidden) still counts.
    """


# Each H36M joint is an affine combination of groups of source points:
# ``[(weight, group), ...]`` with weights summing to 1. A plain tuple group is the mean of all
# its members and is only as confident as its least confident member.
_HIPS = ("left_hip", "right_hip")
_SHOULDERS = ("left_shoulder", "right_shoulder")
_FACE = AnyOf(("left_ear", "right_ear", "left_eye", "right_eye"))
# Head top = face centre pushed away from the thorax by half the thorax-to-face distance
# (the ears sit about two thirds of the way from the shoulder line to the top of the head).
_HEAD = [(1.5, _FACE), (-0.5, _SHOULDERS)]


def _limbs(ankle: str) -> dict:
    """The joints every source layout has under the same names; ``ankle`` names its foot point."""
    table = {}
    for side, h36m_side in (("right", "R"), ("left", "L")):
        table[f"{h36m_side}Hip"] = [(1.0, (f"{side}_hip",))]
        table[f"{h36m_side}Knee"] = [(1.0, (f"{side}_knee",))]
        table[f"{h36m_side}Foot"] = [(1.0, (f"{side}_{ankle}",))]
        table[f"{h36m_side}Shoulder"] = [(1.0, (f"{side}_shoulder",))]
        table[f"{h36m_side}Elbow"] = [(1.0, (f"{side}_elbow",))]
        table[f"{h36m_side}Wrist"] = [(1.0, (f"{side}_wrist",))]
    return table


COCO_TO_H36M = {
    **_limbs("ankle"),
    "Hip": [(1.0, _HIPS)],
    "Spine": [(0.5, _HIPS), (0.5, _SHOULDERS)],
    "Thorax": [(1.0, _SHOULDERS)],
    "Neck/Nose": [(1.0, ("nose",))],
    "Head": _HEAD,
}
MEDIAPIPE_TO_H36M = dict(COCO_TO_H36M)
OPENPOSE_TO_H36M = {
    **_limbs("ankle"),
    "Hip": [(1.0, ("mid_hip",))],
    "Spine": [(0.5, ("mid_hip",)), (0.5, ("neck",))],
    "Thorax": [(1.0, ("neck",))],
    "Neck/Nose": [(1.0, ("nose",))],
    "Head": [(1.5, _FACE), (-0.5, ("neck",))],
}
LAYOUTS = {
    "coco": (COCO_NAMES, COCO_TO_H36M),
    "mediapipe": (MEDIAPIPE_NAMES, MEDIAPIPE_TO_H36M),
    "openpose": (OPENPOSE_NAMES, OPENPOSE_TO_H36M),
}


@dataclass
class Keypoints2D:
    """A 2D keypoint sequence in the Human3.6M 17-joint order.

    ``xy`` is ``(T, 17, 2)`` float32 pixels (NaN where a reader found nothing), ``confidence``
    ``(T, 17)`` in [0, 1], ``filled`` ``(T, 17)`` bool marks positions filled by
    :func:`fill_missing`. ``notes`` collects messages for the user (people picked, joints filled).
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
    notes: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return int(self.xy.shape[0])


# --------------------------------------------------------------------------- conversion


def _group_point(points, conf, group, min_confidence):
    """Mean position ``(T, 2)`` and confidence ``(T,)`` of a group of source points."""
    p, c = points[:, list(group)], conf[:, list(group)]
    if not isinstance(group, AnyOf):
        return p.mean(axis=1), c.min(axis=1)
    # Average only the confident members; where none is, fall back to a confidence-weighted
    # mean (the result is below the threshold anyway and will be filled).
    weights = np.where(c >= min_confidence, 1.0, 0.0)
    weights = np.where(weights.sum(axis=1, keepdims=True) > 0, weights, c + 1e-12)
    mean = (p * weights[..., None]).sum(axis=1) / weights.sum(axis=1)[:, None]
    return mean, c.max(axis=1)


def convert_to_h36m(points, conf, layout: str, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """Convert ``(T, K, 2)`` points and ``(T, K)`` confidences of ``layout`` to H36M-17.

    Returns ``(T, 17, 2)`` float32 points and ``(T, 17)`` confidences; a derived joint is as
    confident as the least confident group it is built from. Missing points (NaN) count as
    confidence 0.
    """
    names, table = LAYOUTS[layout]
    index = {name: i for i, name in enumerate(names)}
    points = np.asarray(points, dtype=np.float64)
    conf = np.asarray(conf, dtype=np.float64)
    conf = np.where(np.isfinite(points).all(axis=-1), np.nan_to_num(conf), 0.0)
    points = np.nan_to_num(points)
    out_xy = np.zeros(points.shape[:1] + (17, 2))
    out_conf = np.zeros(points.shape[:1] + (17,))
    for j, joint in enumerate(H36M_NAMES):
        confs = []
        for weight, group in table[joint]:
            ids = AnyOf(index[n] for n in group) if isinstance(group, AnyOf) else tuple(
                index[n] for n in group
            )
            xy, c = _group_point(points, conf, ids, min_confidence)
            out_xy[:, j] += weight * xy
            confs.append(c)
        out_conf[:, j] = np.min(confs, axis=0)
    return out_xy.astype(np.float32), out_conf.astype(np.float32)


def coco_to_h36m(points, conf, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """COCO-17 ``(T, 17, 2)`` -> H36M-17 ``(T, 17, 2)`` and ``(T, 17)`` confidences."""
    return convert_to_h36m(points, conf, "coco", min_confidence)


def mediapipe_to_h36m(points, conf, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """MediaPipe Pose ``(T, 33, 2)`` -> H36M-17 ``(T, 17, 2)`` and ``(T, 17)`` confidences."""
    return convert_to_h36m(points, conf, "mediapipe", min_confidence)


def openpose_to_h36m(points, conf, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """OpenPose BODY_25 ``(T, 25, 2)`` -> H36M-17 ``(T, 17, 2)`` and ``(T, 17)`` confidences."""
    return convert_to_h36m(points, conf, "openpose", min_confidence)


# --------------------------------------------------------------------------- people and gaps


def _choose_people(people_per_frame, layout, min_confidence):
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
    """Index of the person to keep among ``(P, 17, 2)`` candidates (see :func:`_choose_people`)."""
    score = cand_conf.mean(axis=1)
    if previous_root is None or len(score) == 1:
        return int(np.argmax(score))
    plausible = np.flatnonzero(score >= 0.5 * score.max())
    dist = np.linalg.norm(cand_xy[plausible, 0] - previous_root, axis=-1)
    return int(plausible[np.argmin(dist)])


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
    never = [H36M_NAMES[j] for j in np.flatnonzero(~valid.any(axis=0))]
    if never:
        raise DataError(
            f"{where}: joint(s) {', '.join(never)} missing or below confidence "
            f"{min_confidence:g} in every frame, cannot fill them"
        )
    xy = kp.xy.astype(np.float32).copy()
    frames = np.arange(kp.num_frames)
    for j in range(17):
        ok = valid[:, j]
        for axis in range(2):
            xy[:, j, axis] = np.interp(frames, frames[ok], xy[ok, j, axis])
    notes = list(kp.notes)
    n_filled = int((~valid).sum())
    if n_filled:
        empty = int((~valid).all(axis=1).sum())
        notes.append(
            f"{kp.name}: filled {n_filled:,} of {valid.size:,} joint positions "
            f"({100 * n_filled / valid.size:.1f} %) by interpolation (missing or confidence "
            f"< {min_confidence:g})" + (f"; {empty:,} frame(s) had no person" if empty else "")
        )
    return replace(kp, xy=xy, filled=~valid, notes=notes)


# --------------------------------------------------------------------------- small helpers


def read_json(path: Path):
    """Parsed JSON, or a :class:`DataError` naming the file and the problem."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None


def _number(value, what: str, path) -> float:
    """``value`` as a float (None -> NaN), or a DataError naming ``what``."""
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {what} is not a number: {value!r}") from None


def _size_from(obj) -> tuple[float | None, float | None]:
    """Image width and height stored in a JSON object, if any (several spellings)."""
    if isinstance(obj, list):
        return (None, None)
    for wk, hk in (("width", "height"), ("image_width", "image_height"), ("w", "h")):
        if isinstance(obj.get(wk), (int, float)) and isinstance(obj.get(hk), (int, float)):
            return float(obj[wk]), float(obj[hk])
    size = obj.get("image_size")
    if isinstance(size, list) and len(size) == 2:
        return float(size[0]), float(size[1])
    for key in ("metadata", "video", "info", "images"):
        inner = obj.get(key)
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, dict):
            found = _size_from(inner)
            if found[0] is not None:
                return found
    return (None, None)


def _fps_from(obj) -> float | None:
    if isinstance(obj, dict):
        for key in ("fps", "frame_rate", "framerate"):
            if isinstance(obj.get(key), (int, float)) and obj[key] > 0:
                return float(obj[key])
        for key in ("metadata", "video", "info"):
            found = _fps_from(obj.get(key))
            if found:
                return found
    return None


def _confidence_from_scores(scores: np.ndarray) -> np.ndarray:
    """Scores to [0, 1]; COCO ground-truth visibility flags (0, 1, 2) become 0 or 1."""
    finite = scores[np.isfinite(scores)]
    if finite.size and finite.max() == 2 and np.isin(finite, (0, 1, 2)).all():
        return (scores > 0).astype(np.float32)
    return np.clip(np.nan_to_num(scores), 0.0, 1.0).astype(np.float32)


def _sequence(xy, conf, source_format, name, path, size=(None, None), fps=None, notes=()):
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
    )


def _from_people(people_per_frame, layout, path, name, min_confidence, size=(None, None), fps=None):
    """Build a :class:`Keypoints2D` from per-frame lists of ``(K, 3)`` people in ``layout``."""
    xy, conf, crowded = _choose_people(people_per_frame, layout, min_confidence)
    notes = []
    if crowded:
        notes.append(
            f"{name}: {crowded:,} frame(s) show several people; kept the most confident one, "
            "following the previous frame's hip"
        )
    return _sequence(xy, conf, layout, name, path, size, fps, notes)


def _frame_number(text) -> int | None:
    """The last integer in a frame id or file name (``img_0042.jpg`` -> 42), if any."""
    if isinstance(text, (int, np.integer)):
        return int(text)
    found = re.findall(r"\d+", str(text))
    return int(found[-1]) if found else None


def _order_frames(entries: dict) -> list:
    """Values of ``{frame id: [people]}`` in frame order.

    Numeric ids (or names ending in a number) give frame numbers, and frames missing between the
    first and the last become empty (no person) so timing is kept, unless the ids are too sparse
    to be frame numbers (more than 4 gaps per frame, e.g. COCO image ids): then they are only
    sorted, as are ids without a number.
    """
    numbers = {key: _frame_number(key) for key in entries}
    if entries and all(n is not None for n in numbers.values()):
        by_number = {}
        for key, value in entries.items():
            by_number.setdefault(numbers[key], []).extend(value)
        first, last = min(by_number), max(by_number)
        if last - first + 1 <= 4 * len(by_number):
            return [by_number.get(n, []) for n in range(first, last + 1)]
        return [by_number[n] for n in sorted(by_number)]
    return [entries[key] for key in sorted(entries, key=str)]


# --------------------------------------------------------------------------- COCO JSON

_FRAME_KEYS = ("image_id", "frame", "frame_id", "frame_index", "frame_idx", "image", "file_name")
_PEOPLE_KEYS = ("people", "persons", "detections", "annotations", "instances", "predictions")


def _coco_person(value, path, where) -> np.ndarray:
    """One person's keypoints (a dict with ``keypoints`` or the list itself) as ``(17, 3)``."""
    kps = value.get("keypoints") if isinstance(value, dict) else value
    try:
        arr = np.array(
            [[_number(v, "a keypoint value", path) for v in row] for row in kps]
            if kps and isinstance(kps[0], list)
            else [_number(v, "a keypoint value", path) for v in kps],
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


def _coco_people_per_frame(obj, path) -> list:
    """Per-frame lists of ``(17, 3)`` people from any of the accepted COCO JSON layouts."""
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
    return [_coco_frame_people(entry, path, t) for t, entry in enumerate(obj)]


def _coco_detections_by_frame(detections, path) -> list:
    """COCO results style: a flat list of detections, each naming its frame."""
    key = next(k for k in _FRAME_KEYS if k in detections[0])
    entries: dict = {}
    for i, det in enumerate(detections):
        if key not in det:
            raise DataError(f"{path}: detection {i} has no '{key}' like the others")
        entries.setdefault(det[key], []).append(_coco_person(det, path, f"detection {i}"))
    return _order_frames(entries)


def _coco_by_images(images, annotations, path) -> list:
    """A COCO annotation file: frames in the order of ``images`` (by the number in the file
    name when there is one), each with the annotations of its ``image_id``."""
    people: dict = {}
    for i, ann in enumerate(annotations):
        if isinstance(ann, dict) and "keypoints" in ann:
            people.setdefault(ann.get("image_id"), []).append(_coco_person(ann, path, f"annotation {i}"))
    images = [img for img in images if isinstance(img, dict)]
    if all(_frame_number(img.get("file_name", "")) is not None for img in images):
        images = sorted(images, key=lambda img: _frame_number(img["file_name"]))
    return [people.get(img.get("id"), []) for img in images]


def read_coco_json(path, min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read COCO-17 keypoints from a JSON file (several people per frame allowed).

    Accepted layouts: a COCO results list ``[{"image_id": i, "keypoints": [51 numbers]}, ...]``;
    a list of per-frame entries (each a list of people, a dict with ``people``/``annotations``,
    or a bare keypoint list); a dict with ``frames`` or ``annotations`` (+ ``images``).
    """
    path = Path(path)
    obj = read_json(path)
    people = _coco_people_per_frame(obj, path)
    for frame in people:
        for person in frame:
            person[:, 2] = _confidence_from_scores(person[:, 2])
    return [_from_people(people, "coco", path, path.stem, min_confidence, _size_from(obj), _fps_from(obj))]


# --------------------------------------------------------------------------- MediaPipe


def _landmark(value, path, where) -> tuple[float, float, float]:
    """x, y, visibility of one landmark given as a dict or a list ``[x, y, z, visibility]``."""
    if isinstance(value, dict):
        vis = value.get("visibility", value.get("presence", 1.0))
        return (_number(value.get("x"), f"{where} x", path),
                _number(value.get("y"), f"{where} y", path),
                _number(vis, f"{where} visibility", path))
    if isinstance(value, list) and len(value) >= 2:
        vis = value[3] if len(value) >= 4 else 1.0
        return (_number(value[0], f"{where} x", path), _number(value[1], f"{where} y", path),
                _number(vis, f"{where} visibility", path))
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
    return [_mediapipe_frame(entry, path, t) for t, entry in enumerate(frames)], obj


# Wide CSV columns: ``x0``/``x_0``, ``0_x`` or ``nose_x`` (channel x, y, z or v/visibility).
_CHANNEL = r"(x|y|z|v|vis|visibility)"
_WIDE = re.compile(rf"^(?:{_CHANNEL}_?(\d+)|(\d+)_{_CHANNEL}|([a-z_]+)_{_CHANNEL})$")
_CSV_FRAME = ("frame", "frame_id", "frame_index", "frame_idx", "frame_number", "image", "t")
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
    rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in rows]
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


def _mediapipe_csv_long(path, header, rows) -> list:
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
        pose[index] = [_number(row["x"] or None, f"{where} x", path),
                       _number(row["y"] or None, f"{where} y", path),
                       _number(vis, f"{where} visibility", path)]
    return _order_frames({k: [v] for k, v in frames.items()})


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


def _mediapipe_csv_wide(path, header, rows) -> list:
    """Rows with columns ``x0, y0, z0, v0, ...`` (or ``nose_x``, ...) -> per-frame pose lists."""
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
            _number(row[columns[(j, "x")]] or None, f"row {i + 2} x{j}", path),
            _number(row[columns[(j, "y")]] or None, f"row {i + 2} y{j}", path),
            _number(row[columns[(j, "v")]] or None if (j, "v") in columns else 1.0,
                    f"row {i + 2} v{j}", path),
        ] for j in range(33)])
        frames.append([] if np.isnan(pose[:, :2]).all() else [pose])
    return frames


def _mediapipe_csv(path):
    header, rows = _read_csv(path)
    long = any(k in header for k in _CSV_LANDMARK) and {"x", "y"} <= set(header)
    if long and any(k in header for k in _CSV_FRAME):
        return _mediapipe_csv_long(path, header, rows), {}
    return _mediapipe_csv_wide(path, header, rows), {}


def read_mediapipe(path, width=None, height=None, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """Read MediaPipe Pose landmarks (JSON or CSV) and convert them to pixels.

    MediaPipe stores x, y normalised to [0, 1] of the image width and height, so the image size
    (from the file or ``width``/``height``) is required.
    """
    path = Path(path)
    frames, obj = _mediapipe_csv(path) if path.suffix.lower() == ".csv" else _mediapipe_json(path)
    file_w, file_h = _size_from(obj) if isinstance(obj, dict) else (None, None)
    w, h = width or file_w, height or file_h
    if not w or not h:
        raise DataError(
            f"{path}: MediaPipe landmarks are normalised to the image size; pass --width and "
            "--height (in pixels) to convert them"
        )
    for poses in frames:
        for pose in poses:
            pose[:, 0] *= w
            pose[:, 1] *= h
            pose[:, 2] = np.clip(np.nan_to_num(pose[:, 2]), 0.0, 1.0)
    fps = _fps_from(obj)
    return [_from_people(frames, "mediapipe", path, path.stem, min_confidence, (w, h), fps)]


# --------------------------------------------------------------------------- OpenPose


def _openpose_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json"))
    return sorted(files, key=lambda p: (_frame_number(p.stem) is None, _frame_number(p.stem) or 0, p.name))


def read_openpose(path, min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read a folder of OpenPose BODY_25 ``*_keypoints.json`` files, one per frame.

    Files are ordered by the frame number in their names; ``people[i].pose_keypoints_2d`` holds
    25 * (x, y, confidence), where confidence 0 means "not detected".
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{folder}: OpenPose input must be a folder of *_keypoints.json files")
    files = _openpose_files(folder)
    if not files:
        raise DataError(f"{folder}: no OpenPose *_keypoints.json files in this folder")
    return [_from_people([_openpose_frame(f) for f in files], "openpose", folder, folder.name,
                         min_confidence)]


def _openpose_frame(file: Path) -> list:
    obj = read_json(file)
    if not isinstance(obj, dict) or not isinstance(obj.get("people"), list):
        raise DataError(f"{file}: not an OpenPose keypoint file (no 'people' list)")
    people = []
    for i, person in enumerate(obj["people"]):
        values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(values, list):
            raise DataError(f"{file}: person {i} has no 'pose_keypoints_2d' list")
        if len(values) != 75:
            raise DataError(
                f"{file}: person {i}: expected 25 BODY_25 keypoints (75 numbers), got "
                f"{len(values)} numbers ({len(values) // 3} joints)"
            )
        arr = np.array([_number(v, "a keypoint value", file) for v in values]).reshape(25, 3)
        arr[arr[:, 2] <= 0, :2] = np.nan  # OpenPose writes (0, 0, 0) for undetected joints
        arr[:, 2] = np.clip(arr[:, 2], 0.0, 1.0)
        if np.isfinite(arr[:, :2]).any():
            people.append(arr)
    return people


# --------------------------------------------------------------------------- arrays


def _load_array_file(path: Path) -> np.ndarray:
    """The keypoint array of a ``.npy`` or ``.npz`` (a single array or the key ``keypoints``)."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable numpy array file ({err})") from None
    if isinstance(data, np.ndarray):
        return data
    with data:
        keys = list(data.files)
        key = "keypoints" if "keypoints" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise DataError(
                f"{path}: expected a single array or a 'keypoints' array, found keys {keys}"
            )
        try:
            return data[key]
        except ValueError as err:
            raise DataError(f"{path}: array {key!r} cannot be read safely ({err})") from None


def read_h36m_array(path) -> list[Keypoints2D]:
    """Read ``(T, 17, 2|3)`` pixel keypoints in H36M order; the third channel is confidence."""
    path = Path(path)
    arr = _load_array_file(path)
    if arr.ndim != 3 or arr.shape[1] != 17 or arr.shape[2] not in (2, 3):
        raise DataError(
            f"{path}: expected an array of shape (T, 17, 2) or (T, 17, 3) in Human3.6M joint "
            f"order, got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    conf = np.clip(np.nan_to_num(arr[..., 2]), 0, 1) if arr.shape[2] == 3 else np.ones(arr.shape[:2])
    return [_sequence(arr[..., :2], conf, "h36m", path.stem, path)]


def read_videopose3d(path, min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Read VideoPose3D's custom 2D dataset: one :class:`Keypoints2D` per video.

    ``positions_2d[video]['custom'][0]`` is ``(T, 17, 2)`` in the layout named by
    ``metadata['layout_name']`` (``coco`` as VideoPose3D's Detectron scripts write it; ``h36m``
    is taken as is) and ``metadata['video_metadata'][video]`` holds ``{'w': ..., 'h': ...}``.
    The pickled dicts are read with a restricted unpickler, never ``allow_pickle=True``.
    """
    from starpose.data.safe_pickle import load_npz

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = load_npz(path)
    positions, metadata = _unwrap(data.get("positions_2d")), _unwrap(data.get("metadata")) or {}
    if not isinstance(positions, dict) or not positions:
        raise DataError(f"{path}: no 'positions_2d' dict of videos (not a VideoPose3D custom file)")
    layout = str(metadata.get("layout_name", "coco")).lower()
    if layout not in ("coco", "h36m"):
        raise DataError(f"{path}: unsupported keypoint layout {layout!r} (expected coco or h36m)")
    video_meta = metadata.get("video_metadata", {}) or {}
    return [
        _videopose3d_video(path, video, streams, layout, video_meta.get(video, {}), min_confidence)
        for video, streams in positions.items()
    ]


def _unwrap(value):
    """A pickled object stored in an npz comes back as a 0-d object array; take it out."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
        return value.item()
    return value


def _videopose3d_video(path, video, streams, layout, meta, min_confidence) -> Keypoints2D:
    where = f"{path}: video {video!r}"
    custom = streams.get("custom") if isinstance(streams, dict) else None
    if not custom:
        raise DataError(f"{where}: no 'custom' keypoint stream")
    arr = np.asarray(custom[0], dtype=np.float64)
    if arr.ndim != 3 or arr.shape[1] != 17 or arr.shape[2] not in (2, 3):
        raise DataError(f"{where}: expected keypoints of shape (T, 17, 2), got {arr.shape}")
    conf = np.clip(arr[..., 2], 0, 1) if arr.shape[2] == 3 else np.ones(arr.shape[:2])
    size = (meta.get("w"), meta.get("h")) if isinstance(meta, dict) else (None, None)
    size = tuple(float(v) if v else None for v in size)
    if layout == "coco":
        xy, conf = coco_to_h36m(arr[..., :2], conf, min_confidence)
    else:
        xy, conf = arr[..., :2], np.where(np.isfinite(arr[..., :2]).all(-1), conf, 0.0)
    return _sequence(xy, conf, "videopose3d", str(video), path, size)


# --------------------------------------------------------------------------- detection


def _walk(obj, limit=5000):
    """Breadth-first walk over a JSON value's dicts and lists (bounded, for sniffing)."""
    queue, seen = [obj], 0
    while queue and seen < limit:
        node = queue.pop(0)
        seen += 1
        yield node
        if isinstance(node, dict):
            queue.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            queue.extend(v for v in node[:50] if isinstance(v, (dict, list)))


def _json_kind(obj) -> str | None:
    """Guess the format of parsed JSON: COCO keypoints, MediaPipe landmarks or OpenPose."""
    for node in _walk(obj):
        if isinstance(node, dict):
            if "pose_keypoints_2d" in node:
                return "openpose"
            if "keypoints" in node:
                return "coco"
            if {"x", "y"} <= node.keys():
                return "mediapipe"
        elif node and all(isinstance(v, (int, float)) for v in node) and len(node) in (34, 51):
            return "coco"
    return None


def detect_format(path) -> str:
    """The format of ``path`` for ``--format auto``: one of :data:`FORMATS`.

    Folders are OpenPose; ``.npz`` with ``positions_2d`` is VideoPose3D, other ``.npz``/``.npy``
    are H36M arrays; ``.csv`` is MediaPipe; JSON is sniffed (51-number ``keypoints`` = COCO,
    ``{x, y, visibility}`` landmarks = MediaPipe, ``pose_keypoints_2d`` = OpenPose).
    """
    path = Path(path)
    if path.is_dir():
        return "openpose"
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "h36m"
    if suffix == ".npz":
        return _npz_kind(path)
    if suffix == ".csv":
        return "mediapipe"
    if suffix == ".json":
        kind = _json_kind(read_json(path))
        if kind == "openpose":
            raise DataError(
                f"{path}: a single OpenPose frame; pass the folder holding all the frames' "
                "*_keypoints.json files"
            )
        if kind:
            return kind
    raise DataError(
        f"{path}: cannot tell the keypoint format; pass --format "
        f"({'|'.join(FORMATS)})"
    )


def _npz_kind(path: Path) -> str:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
    except (ValueError, OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from None
    return "videopose3d" if "positions_2d" in keys else "h36m"


# --------------------------------------------------------------------------- all in one


def read_format(path, fmt: str, width=None, height=None, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """Read ``path`` in format ``fmt`` (not ``auto``) without filling gaps."""
    if fmt == "h36m":
        return read_h36m_array(path)
    if fmt == "coco":
        return read_coco_json(path, min_confidence)
    if fmt == "mediapipe":
        return read_mediapipe(path, width, height, min_confidence)
    if fmt == "openpose":
        return read_openpose(path, min_confidence)
    if fmt == "videopose3d":
        return read_videopose3d(path, min_confidence)
    raise StarposeError(f"unknown keypoint format {fmt!r}; choose from auto, {', '.join(FORMATS)}")


def load_keypoints(path, fmt="auto", *, width=None, height=None, fps=None,
                   min_confidence=DEFAULT_MIN_CONFIDENCE) -> list[Keypoints2D]:
    """Detect (if ``fmt == "auto"``), read, check the image size and fill gaps.

    ``width``/``height``/``fps`` given here override what the file says. Returns one
    :class:`Keypoints2D` per sequence (a VideoPose3D file may hold several videos), each with
    every joint filled and ``width``/``height`` set; raises :class:`StarposeError` otherwise.
    """
    if (width is None) != (height is None):
        raise StarposeError("give both --width and --height, or neither")
    if width is not None and (width <= 0 or height <= 0):
        raise StarposeError(f"image size must be positive, got {width} x {height}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    sequences = read_format(path, fmt, width, height, min_confidence)
    if not sequences:
        raise DataError(f"{path}: no keypoint sequences found")
    return [_finish(kp, width, height, fps, min_confidence) for kp in sequences]


def _finish(kp: Keypoints2D, width, height, fps, min_confidence) -> Keypoints2D:
    w, h = width or kp.width, height or kp.height
    if not w or not h:
        raise DataError(
            f"{kp.path}: the image size is not stored in this {FORMAT_TITLES[kp.source_format]}; "
            "pass --width and --height (in pixels)"
        )
    kp = replace(kp, width=float(w), height=float(h), fps=fps or kp.fps)
    return fill_missing(kp, min_confidence)
