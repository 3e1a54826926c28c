"""Synthetic subjects: body dimensions from anthropometric ratios of the height, and how each
subject moves.

Body frame: x forward, y left, z up. A body is the rest offsets ``(32, 3)`` of the 32-joint
Human3.6M tree: child minus parent in the rest pose (standing, arms hanging), so a bone's length
never changes whatever the rotations. Each subject's traits come from its own random stream.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

#: Subjects given female proportions (narrower shoulders, wider hips, shorter).
FEMALE_SUBJECTS = {"S1", "S5", "S7"}


def stream_key(name: str) -> int:
    """A stable integer for a name, to derive independent random streams."""
    return zlib.crc32(name.encode())


@dataclass(frozen=True, eq=False)
class Body:
    """A subject's rest skeleton: height (m), bone offsets and the ankle joint's height above
    the sole (m), which places the heels on the floor."""

    height: float
    offsets: np.ndarray  # (32, 3) metres
    ankle_height: float


def subject_body(subject: str, seed: int) -> Body:
    """Height and segment proportions of a subject (Winter's ratios, jittered per subject)."""
    rng = np.random.default_rng([seed, stream_key(subject), 0])
    female = subject in FEMALE_SUBJECTS
    height = rng.uniform(1.56, 1.70) if female else rng.uniform(1.70, 1.88)
    r = {name: base * (1 + 0.035 * np.clip(rng.standard_normal(), -2, 2)) for name, base in {
        "hip": 0.076 if female else 0.070, "thigh": 0.245, "shank": 0.246, "ankle": 0.039,
        "foot": 0.080, "toe": 0.030, "lumbar": 0.135, "chest": 0.145, "neck": 0.065,
        "head": 0.065, "shoulder": 0.082 if female else 0.092, "upper_arm": 0.165,
        "forearm": 0.145, "hand": 0.055, "finger": 0.040, "thumb": 0.030}.items()}
    o = np.zeros((32, 3))
    for side, sign, (hip, knee, ankle, ball, toe) in (("r", -1, (1, 2, 3, 4, 5)),
                                                      ("l", 1, (6, 7, 8, 9, 10))):
        o[hip] = [0, sign * r["hip"], -0.005]
        o[knee] = [0, 0, -r["thigh"]]
        o[ankle] = [0, 0, -r["shank"]]
        o[ball] = [r["foot"], 0, -r["ankle"]]
        o[toe] = [r["toe"], 0, 0]
    # 11 (spine base) coincides with the root, 16/24 (clavicle roots) with the thorax 13.
    o[12] = [-0.005, 0, r["lumbar"]]
    o[13] = [0.005, 0, r["chest"]]
    o[14] = [0.03, 0, r["neck"]]
    o[15] = [-0.015, 0, r["head"]]
    o[16] = o[24] = o[13]  # same offset from the spine 12 and same rotation as the thorax 13
    for sign, (shoulder, elbow, wrist, thumb, thumb_tip, hand, fingers) in (
            (1, (17, 18, 19, 20, 21, 22, 23)), (-1, (25, 26, 27, 28, 29, 30, 31))):
        o[shoulder] = [-0.005, sign * r["shoulder"], -0.01]
        o[elbow] = [0, 0, -r["upper_arm"]]
        o[wrist] = [0, 0, -r["forearm"]]
        o[thumb] = [0.01, -sign * 0.005, -0.01]
        o[thumb_tip] = [r["thumb"] * 0.7, 0, -r["thumb"] * 0.7]
        o[hand] = [0, 0, -r["hand"]]
        o[fingers] = [0, 0, -r["finger"]]
    return Body(height, o * height, r["ankle"] * height)


def subject_style(subject: str, seed: int) -> dict:
    """How a subject moves: walking speed and amplitude, posture, arm carriage."""
    rng = np.random.default_rng([seed, stream_key(subject), 1])
    return {"speed": rng.uniform(0.9, 1.1), "gait_amp": rng.uniform(0.85, 1.15),
            "lean": rng.uniform(-2, 8), "arm_abd": rng.uniform(0, 8)}
