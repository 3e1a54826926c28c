"""Body proportions the world estimates rest on (Winter's segment ratios).

The 17 Human3.6M joints: ankles ("Foot") are 3 and 6, the pelvis is 0.
"""
from __future__ import annotations

import numpy as np

ANKLES = (3, 6)
#: The stature (m) a lifted body is given where the person's own is not known: about the
#: mean of adults (women about 1.63, men about 1.76).
TYPICAL_STATURE_M = 1.70
#: Ankle height over the floor as a fraction of the stature.
ANKLE_FRACTION = 0.039
#: The chain ankle-knee-hip-thorax-head bone is about this fraction of the stature.
CHAIN_FRACTION = 0.85


def stature(joints: np.ndarray) -> float:
    """Stature estimate (metres) from joints ``(T, 17, 3)``: the median over frames of the
    chain ankle-knee-hip-thorax-neck (legs averaged) over :data:`CHAIN_FRACTION`."""
    def length(a, b):
        return np.linalg.norm(joints[:, a] - joints[:, b], axis=-1)

    legs = (length(3, 2) + length(2, 1) + length(6, 5) + length(5, 4)) / 2
    return float(np.median(legs + length(0, 8) + length(8, 9))) / CHAIN_FRACTION


def scaled_to_stature(joints: np.ndarray, stature_m: float) -> np.ndarray:
    """Root-relative ``joints`` ``(T, 17, 3)`` scaled so that their stature is ``stature_m``."""
    return joints * (stature_m / max(stature(joints), 1e-6))


def ankle_height(joints: np.ndarray) -> float:
    """The ankle joint's height over the floor (metres) for the body of ``joints``."""
    return ANKLE_FRACTION * stature(joints)
