"""The mapping from detector layouts to the Human3.6M 17 joints (the table ``docs/lift.md`` documents).

Source layouts: COCO-17, MediaPipe Pose 33 and OpenPose BODY_25. Limbs map one to one; Hip is
the hips' midpoint (BODY_25: ``mid_hip``), Thorax the shoulders' (BODY_25: ``neck``), Spine half
way between, Neck/Nose the nose, and Head the face centre pushed away from the thorax (the head
rule below). :func:`convert_to_h36m` turns ``(T, K, 2)`` points of a layout into ``(T, 17, 2)``.
"""
from __future__ import annotations

import numpy as np

from starpose.formats.keypoints import DEFAULT_MIN_CONFIDENCE, H36M_NAMES

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

