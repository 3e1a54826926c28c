"""Retargeting a BVH skeleton to the 17 Human3.6M joints by bone names.

A :class:`JointMap` says where each Human3.6M joint comes from: one bone's position (the start
of the bone, i.e. the BVH joint), the midpoint of two bones, or a derived rule. The built-in
naming families (matched case-insensitively, ignoring ``_``, ``.``, ``-`` and spaces, and any
``namespace:`` prefix) are

* ``cmu``: CMU / cgspeed (``LeftUpLeg``, ``LeftLeg``, ``LeftFoot``, ``LeftArm``,
  ``LeftForeArm``, ``LeftHand``, ``Head``);
* ``mixamo``: the same names behind a ``mixamorig:`` prefix;
* ``humanoid``: ``UpperLeg``/``LowerLeg``/``Foot``, ``UpperArm``/``LowerArm``/``Hand`` with
  ``Left``/``Right``/``L``/``R`` as prefix or suffix;
* ``starpose``: the 17 Human3.6M joint names themselves (``Neck/Nose`` as ``Neck_Nose``), as
  ``starpose mocap export`` writes them: every joint, derived ones included, is read directly.

Derived joints (the table in docs/mocap.md): Hip = mid(RHip, LHip), Thorax = mid(LShoulder,
RShoulder), Spine = mid(Hip, Thorax), Neck/Nose = the head bone, Head (top of the head) = the end
of the head bone where the file has one above it, else the head bone moved along the
thorax->head direction by ``HEAD_TOP_FRACTION`` of the stature.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.data.skeleton import H36M_17
from starpose.errors import DataError
from starpose.mocap.bvh import BvhClip
from starpose.mocap.kinematics import forward_kinematics

H36M_NAMES = H36M_17.names
#: The bone chain ankle-knee-hip-thorax-head bone is about this fraction of the stature
#: (Winter's segment ratios: 0.246 + 0.245 + 0.29 + 0.07).
CHAIN_FRACTION = 0.85
#: The top of the head lies this fraction of the stature above the head bone (skull base).
HEAD_TOP_FRACTION = 0.10
#: An End Site (or child joint) counts as the top of the head within this angle of the
#: thorax->head direction and when at least this fraction of the stature away.
_HEAD_TOP_CONE_DEG, _HEAD_TOP_MIN = 35.0, 0.04

_LIMBS = ("Hip", "Knee", "Foot", "Shoulder", "Elbow", "Wrist")
_FAMILY_BASES = {
    "cmu": ("upleg", "leg", "foot", "arm", "forearm", "hand"),
    "humanoid": ("upperleg", "lowerleg", "foot", "upperarm", "lowerarm", "hand"),
}
_SIDES = {"L": ("left", "l"), "R": ("right", "r")}


def bone_key(name: str) -> str:
    """A bone name reduced for matching: no namespace, lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.rsplit(":", 1)[-1].lower())


@dataclass(frozen=True)
class JointMap:
    """Sources of the Human3.6M joints: name -> tuple of 1 or 2 clip joint indices.

    Joints absent from ``sources`` are derived (see the module docstring). ``family`` is the
    detected naming family or ``"mapping file"``.
    """

    sources: dict
    family: str


def _family_candidates(family: str) -> dict[str, list[str]]:
    """H36M joint -> accepted bone keys for a built-in family."""
    bases = _FAMILY_BASES["cmu" if family == "mixamo" else family]
    out = {}
    for side, words in _SIDES.items():
        for limb, base in zip(_LIMBS, bases):
            if family == "humanoid":
                keys = [w + base for w in words] + [base + w for w in words]
            else:
                keys = [words[0] + base]
            out[side + limb] = keys
    out["Neck/Nose"] = ["head"]
    return out


def detect_map(clip: BvhClip) -> JointMap:
    """The built-in family whose names all occur in ``clip`` (DataError listing what is missing)."""
    keys: dict[str, int] = {}
    for j, name in enumerate(clip.names):
        if not clip.end_site[j]:
            keys.setdefault(bone_key(name), j)
    own = [keys.get(bone_key(name)) for name in H36M_NAMES]
    if None not in own:
        return JointMap({name: (j,) for name, j in zip(H36M_NAMES, own)}, "starpose")
    prefixed = any(name.lower().startswith("mixamorig") for name in clip.names)
    best, best_missing = None, None
    for family in (("mixamo",) if prefixed else ()) + ("cmu", "humanoid"):
        sources, missing = {}, []
        for joint, candidates in _family_candidates(family).items():
            found = next((keys[k] for k in candidates if k in keys), None)
            if found is None:
                missing.append(joint)
            else:
                sources[joint] = (found,)
        if not missing:
            return JointMap(sources, family)
        if best_missing is None or len(missing) < len(best_missing):
            best, best_missing = family, missing
    bones = ", ".join(n for n, e in zip(clip.names, clip.end_site) if not e)
    raise DataError(f"{clip.path}: cannot map the skeleton to Human3.6M (closest naming: {best}); "
                    f"no bone for {', '.join(best_missing)}; the file's bones: {bones}")


def read_mapping(path, clip: BvhClip) -> JointMap:
    """A user mapping: JSON {H36M joint: bone name or [bone, bone] for a midpoint}."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable JSON mapping ({err})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a JSON object {{H36M joint: bone name}}")
    exact = {n: j for j, n in enumerate(clip.names)}
    folded = {n.lower(): j for j, n in reversed(list(enumerate(clip.names)))}
    sources = {}
    for joint, bones in raw.items():
        if joint not in H36M_NAMES:
            raise DataError(f"{path}: '{joint}' is not a Human3.6M joint "
                            f"({', '.join(H36M_NAMES)})")
        bones = [bones] if isinstance(bones, str) else bones
        if not isinstance(bones, list) or not 1 <= len(bones) <= 2 \
                or not all(isinstance(b, str) for b in bones):
            raise DataError(f"{path}: '{joint}' must name a bone or a list of two bones")
        indices = [exact.get(b, folded.get(b.lower())) for b in bones]
        if None in indices:
            unknown = bones[indices.index(None)]
            raise DataError(f"{path}: bone '{unknown}' (for {joint}) is not in {clip.path} "
                            f"(bones: {', '.join(clip.names)})")
        sources[joint] = tuple(indices)
    required = [n for n in H36M_NAMES if n not in _DERIVED and n not in sources]
    if required:
        raise DataError(f"{path}: no bone given for {', '.join(required)}")
    return JointMap(sources, "mapping file")


_DERIVED = ("Hip", "Spine", "Thorax", "Head")


def _head_top_source(clip: BvhClip, head: int, rest: np.ndarray, thorax: np.ndarray,
                     stature: float) -> int | None:
    """A child of the head bone that lies above it (End Site or e.g. ``HeadTop_End``)."""
    up = rest[head] - thorax
    up /= max(np.linalg.norm(up), 1e-12)
    best, best_cos = None, np.cos(np.radians(_HEAD_TOP_CONE_DEG))
    for child in clip.children(head):
        vector = rest[child] - rest[head]
        length = np.linalg.norm(vector)
        cos = float(vector @ up) / max(length, 1e-12)
        if length >= _HEAD_TOP_MIN * stature and cos >= best_cos:
            best, best_cos = child, cos
    return best


def retarget(clip: BvhClip, joint_map: JointMap) -> tuple[np.ndarray, float]:
    """Human3.6M joints (T, 17, 3) in the file's units and axes, and the stature estimate.

    The stature is the median over frames of the ankle-knee-hip-thorax-head chain divided by
    :data:`CHAIN_FRACTION`.
    """
    sources = dict(joint_map.sources)
    used = sorted({j for bones in sources.values() for j in bones}
                  | set(clip.children(sources["Neck/Nose"][0])))
    positions = forward_kinematics(clip, used)
    column = {j: k for k, j in enumerate(used)}
    out = np.full((clip.num_frames, 17, 3), np.nan)
    for joint, bones in sources.items():
        out[:, H36M_NAMES.index(joint)] = positions[:, [column[b] for b in bones]].mean(1)
    index = H36M_NAMES.index
    if "Hip" not in sources:
        out[:, 0] = (out[:, index("RHip")] + out[:, index("LHip")]) / 2
    if "Thorax" not in sources:
        out[:, 8] = (out[:, index("LShoulder")] + out[:, index("RShoulder")]) / 2
    if "Spine" not in sources:
        out[:, 7] = (out[:, 0] + out[:, 8]) / 2
    stature = _stature(out)
    if "Head" not in sources:
        out[:, 10] = _head_top(clip, sources["Neck/Nose"][0], positions, column, out, stature)
    return out, stature


def _head_top(clip, head, positions, column, out, stature) -> np.ndarray:
    rest = {j: positions[0, k] for j, k in column.items()}
    top = _head_top_source(clip, head, rest, out[0, 8], stature)
    if top is not None:
        return positions[:, column[top]]
    direction = out[:, 9] - out[:, 8]
    direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-12)
    return out[:, 9] + HEAD_TOP_FRACTION * stature * direction


def _stature(joints: np.ndarray) -> float:
    """Stature estimate (file units) from the bone chain ankle-knee-hip-thorax-head bone."""
    def length(a, b):
        return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)

    legs = (length(3, 2) + length(2, 1) + length(6, 5) + length(5, 4)) / 2
    chain = legs + length(0, 8) + length(8, 9)
    return float(np.median(chain)) / CHAIN_FRACTION
