"""A synthetic Human3.6M: procedural motion written in the exact file formats of the real set.

For every subject (S1 S5 S6 S7 S8 S9 S11, each with their own height and proportions) and each of
the 15 action types (two takes, named like the real ones: ``"Walking"`` and ``"Walking 1"``):

1. joint angles are generated over time (smooth sums of sinusoids and smoothly interpolated
   key poses: gait cycles, sitting down and standing up, arm gestures), softly clipped to the
   joint limits, with a root that walks and turns inside the capture volume;
2. forward kinematics on the 32-joint Human3.6M tree turns them into positions (so bone lengths
   are exactly constant), and the body is lowered so that the lowest foot point touches the
   floor (world z up, metres, floor at z = 0);
3. the 3D poses are projected through the subject's 4 real calibrated cameras with lens
   distortion (``data_2d_h36m_gt.npz``), and a detector-like corruption of those gives
   ``data_2d_h36m_noisy.npz``: per-joint noise, temporally correlated jitter and occasional gross
   errors (left/right swaps, lost joints).

Everything is deterministic for a given seed; each take has its own random stream.
"""
from __future__ import annotations

import contextlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.data.cameras import h36m_cameras
from starpose.data.safe_pickle import check_writable_file, write_npz
from starpose.data.skeleton import H36M_32, H36M_FPS, JOINTS_KEPT_FOR_17, h36m_metadata
from starpose.errors import DataError
from starpose.io import atomic_path

SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
           "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
           "WalkTogether")
#: Frames per take (3D, at 50 fps) drawn uniformly in these ranges.
#: Frames per take (min, max). h36m-size: the real training split S1 S5 S6 S7 S8 holds about
#: 1.56 M 2D frames (390 k poses x 4 cameras); 5 subjects x 30 takes x 4 cameras x 2600 match it.
PRESETS = {"tiny": (100, 200), "small": (300, 600), "h36m-size": (1400, 3800)}
_FEMALE = {"S1", "S5", "S7"}
_WALKING = {"Walking", "WalkDog", "WalkTogether"}
# The floor ellipse (centre, semi-axes along x and y, metres) in which a standing body is seen
# whole by all four cameras of every subject: the region they share is a diamond around it.
_VOLUME_CENTRE = np.array([0.25, 0.45])
_VOLUME_AXES = np.array([0.85, 1.2])


# ---------------------------------------------------------------------------------------------
# Body: rest offsets of the 32-joint tree from anthropometric ratios of the height.
# Body frame: x forward, y left, z up. Offsets are child - parent in the rest pose (standing,
# arms hanging), so a bone's length never changes whatever the rotations.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Body:
    height: float
    offsets: np.ndarray  # (32, 3) metres
    ankle_height: float


def subject_body(subject: str, seed: int) -> Body:
    """Height and segment proportions of a subject (Winter's ratios, jittered per subject)."""
    rng = np.random.default_rng([seed, _key(subject), 0])
    female = subject in _FEMALE
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


# ---------------------------------------------------------------------------------------------
# Rotations and forward kinematics
# ---------------------------------------------------------------------------------------------

def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) about a body axis (0 x, 1 y, 2 z) by ``angle`` (T,) radians."""
    c, s = np.cos(angle), np.sin(angle)
    m = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m[..., axis, axis] = 1
    m[..., i, i], m[..., j, j] = c, c
    m[..., i, j], m[..., j, i] = -s, s
    return m


def forward_kinematics(offsets: np.ndarray, root: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Joint positions (T, 32, 3) from rest ``offsets`` (32, 3), root positions (T, 3) and
    per-bone local rotations (T, 32, 3, 3): bone j turns by ``rotations[:, j]`` relative to its
    parent's frame (entry 0 is the root's orientation in the world)."""
    T = len(root)
    world_rot = np.empty((T, 32, 3, 3))
    pos = np.empty((T, 32, 3))
    world_rot[:, 0], pos[:, 0] = rotations[:, 0], root
    for j, parent in enumerate(H36M_32.parents[1:], start=1):  # parents precede children
        world_rot[:, j] = world_rot[:, parent] @ rotations[:, j]
        pos[:, j] = pos[:, parent] + world_rot[:, j] @ offsets[j]
    return pos


def _bone_rotations(a: dict, T: int) -> np.ndarray:
    """Local rotations (T, 32, 3, 3) from the joint angles ``a`` (degrees, root yaw radians)."""
    d = {k: np.radians(v) for k, v in a.items() if k != "yaw"}
    rot = np.broadcast_to(np.eye(3), (T, 32, 3, 3)).copy()
    rot[:, 0] = _rot(2, a["yaw"]) @ _rot(1, d["pelvis_pitch"]) @ _rot(0, d["pelvis_roll"]) \
        @ _rot(2, d["pelvis_twist"])
    for side, sign, (thigh, shank, foot) in (("r", -1, (2, 3, 4)), ("l", 1, (7, 8, 9))):
        # Flexion brings the thigh forward (negative turn about y), abduction outwards.
        rot[:, thigh] = _rot(1, -d["hip_flex_" + side]) @ _rot(0, sign * d["hip_abd_" + side]) \
            @ _rot(2, sign * d["hip_rot_" + side])
        rot[:, shank] = _rot(1, d["knee_" + side])
        rot[:, foot] = _rot(1, d["ankle_" + side])
    rot[:, 12] = _rot(1, d["spine_flex"]) @ _rot(0, d["spine_lat"]) @ _rot(2, d["spine_twist"])
    rot[:, 13] = _rot(1, d["chest_flex"]) @ _rot(0, d["chest_lat"]) @ _rot(2, d["chest_twist"])
    rot[:, 14] = _rot(2, d["neck_twist"]) @ _rot(1, d["neck_flex"]) @ _rot(0, d["neck_lat"])
    rot[:, 15] = _rot(1, d["head_flex"])
    for side, sign, (root, clavicle, upper, fore, thumb, hand) in (
            ("l", 1, (16, 17, 18, 19, 20, 22)), ("r", -1, (24, 25, 26, 27, 28, 30))):
        # The clavicle root turns with the chest, so it stays on the thorax (as in Human3.6M).
        rot[:, root] = rot[:, 13]
        rot[:, clavicle] = _rot(0, sign * d["clav_" + side])  # elevation lifts the shoulder
        # Internal rotation turns the (bent) forearm towards the body's midline.
        rot[:, upper] = _rot(1, -d["sh_flex_" + side]) @ _rot(0, sign * d["sh_abd_" + side]) \
            @ _rot(2, -sign * d["sh_rot_" + side])
        rot[:, fore] = _rot(1, -d["elbow_" + side])
        rot[:, thumb] = rot[:, hand] = _rot(1, -d["wrist_" + side])
    return rot


# (min, max) in degrees; angles are softly clipped into these ranges.
LIMITS = {
    "pelvis_pitch": (-20, 30), "pelvis_roll": (-12, 12), "pelvis_twist": (-30, 30),
    "hip_flex": (-25, 125), "hip_abd": (-20, 45), "hip_rot": (-35, 35), "knee": (0, 145),
    "ankle": (-30, 40), "spine_flex": (-20, 55), "spine_lat": (-20, 20), "spine_twist": (-30, 30),
    "chest_flex": (-15, 35), "chest_lat": (-15, 15), "chest_twist": (-25, 25),
    "neck_flex": (-35, 45), "neck_lat": (-25, 25), "neck_twist": (-70, 70),
    "head_flex": (-20, 25), "clav": (-10, 25), "sh_flex": (-50, 170), "sh_abd": (-5, 160),
    "sh_rot": (-60, 100), "elbow": (0, 150), "wrist": (-60, 60),
}


def _soft_clip(x: np.ndarray, lo: float, hi: float, softness: float = 4.0) -> np.ndarray:
    """Clip to [lo, hi] with smooth (C-infinity) corners, so velocities stay continuous."""
    return x - softness * (np.logaddexp(0, (x - hi) / softness)
                           - np.logaddexp(0, (lo - x) / softness))


# ---------------------------------------------------------------------------------------------
# Motion primitives (all smooth functions of time t in seconds)
# ---------------------------------------------------------------------------------------------

def _smooth_noise(rng, t, amplitude, fmax=0.4, terms=4) -> np.ndarray:
    """A sum of ``terms`` random sinusoids below ``fmax`` Hz with standard deviation ~amplitude."""
    freq = rng.uniform(0.03, fmax, terms)
    phase = rng.uniform(0, 2 * np.pi, terms)
    weight = rng.uniform(0.5, 1.0, terms)
    weight *= amplitude * np.sqrt(2 / np.sum(weight**2))
    return np.sum(weight[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None]), 0)


def _smootherstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * x * (x * (6 * x - 15) + 10)


def _keyframes(t, times, values, durations) -> np.ndarray:
    """Hold ``values[0]``, then move to ``values[i]`` during [times[i], times[i] + durations[i]]
    along a C2 smootherstep. values (K, D) -> track (T, D)."""
    values = np.asarray(values, float)
    track = np.repeat(values[:1], len(t), 0)
    for i in range(1, len(values)):
        progress = _smootherstep((t - times[i]) / durations[i])
        track += (values[i] - values[i - 1]) * progress[:, None]
    return track


def _schedule(rng, duration, hold, transition, start=0.0):
    """Key times and transition durations of a sequence of holds filling ``duration`` s."""
    times, durations = [start], [1.0]
    while times[-1] < duration:
        times.append(times[-1] + durations[-1] + rng.uniform(*hold))
        durations.append(rng.uniform(*transition))
    return np.array(times), np.array(durations)


def _bump(x, kappa) -> np.ndarray:
    """A smooth periodic bump of height 1 at x = 0 (von Mises shape)."""
    return np.exp(kappa * (np.cos(x) - 1))


# Arm poses (shoulder flexion, abduction, internal rotation, elbow flexion), degrees.
GESTURES = {
    "rest": (5, 8, 0, 12), "front": (25, 8, 45, 80), "hips": (-5, 40, 80, 95),
    "mouth": (35, 15, 40, 140), "ear": (30, 40, 25, 145), "point": (80, 15, 0, 10),
    "point_side": (55, 60, 0, 15), "wave": (25, 95, 0, 95), "photo": (65, 20, 45, 120),
    "reach": (70, 10, 0, 25), "cross": (30, 10, 85, 110), "up": (155, 25, 0, 10),
    "out": (5, 88, 0, 5), "chin": (35, 10, 50, 145), "leash": (35, 12, 0, 30),
    "talk": (30, 20, 30, 75), "thigh": (25, 10, 20, 45),
}

# Per action: gestures the arms pick from, hold seconds, whether the root relocates by walking.
ACTION_STYLE = {
    "Directions": (("point", "point_side", "rest", "front", "rest"), (1.0, 3.0), 2),
    "Discussion": (("talk", "front", "rest", "point", "hips", "talk"), (0.5, 1.5), 1),
    "Eating": (("mouth", "front", "front"), (1.0, 2.5), 0),
    "Greeting": (("wave", "reach", "rest", "rest"), (1.0, 2.5), 2),
    "Phoning": (("ear",), (4.0, 12.0), 2),
    "Photo": (("photo", "photo", "rest"), (1.5, 4.0), 1),
    "Posing": (("up", "hips", "out", "point_side", "cross", "rest", "photo"), (1.5, 3.5), 0),
    "Purchases": (("reach", "front", "rest", "point"), (1.0, 2.5), 2),
    "Sitting": (("front", "chin", "cross", "thigh", "mouth"), (2.0, 5.0), 0),
    "SittingDown": (("thigh", "front", "rest"), (2.0, 4.0), 0),
    "Smoking": (("mouth", "front", "rest"), (1.5, 4.0), 1),
    "Waiting": (("cross", "front", "hips", "rest"), (3.0, 7.0), 1),
    "WalkDog": (("leash",), (3.0, 8.0), 0),
    "Walking": (("rest",), (3.0, 8.0), 0),
    "WalkTogether": (("rest", "rest", "talk"), (2.0, 5.0), 0),
}


def _zeros_angles(T: int) -> dict:
    names = ["pelvis_pitch", "pelvis_roll", "pelvis_twist", "spine_flex", "spine_lat",
             "spine_twist", "chest_flex", "chest_lat", "chest_twist", "neck_flex", "neck_lat",
             "neck_twist", "head_flex"]
    for side in "lr":
        names += [f"{n}_{side}" for n in ("hip_flex", "hip_abd", "hip_rot", "knee", "ankle",
                                          "clav", "sh_flex", "sh_abd", "sh_rot", "elbow", "wrist")]
    return {n: np.zeros(T) for n in names}


def _posture(a, rng, t, style):
    """Standing posture with slow sway and breathing, and a wandering gaze."""
    a["spine_flex"] += style["lean"] + _smooth_noise(rng, t, 2.0)
    a["chest_flex"] += 2 + _smooth_noise(rng, t, 1.5) + 1.0 * np.sin(2 * np.pi * 0.25 * t)
    a["spine_lat"] += _smooth_noise(rng, t, 1.5)
    a["chest_twist"] += _smooth_noise(rng, t, 3.0)
    a["neck_twist"] += _smooth_noise(rng, t, 12.0, fmax=0.3)
    a["neck_flex"] += 5 + _smooth_noise(rng, t, 6.0)
    a["neck_lat"] += _smooth_noise(rng, t, 3.0)
    a["pelvis_roll"] += _smooth_noise(rng, t, 2.0, fmax=0.2)
    for side in "lr":
        a[f"hip_abd_{side}"] += 4 + _smooth_noise(rng, t, 2.0, fmax=0.2)
        a[f"hip_flex_{side}"] += _smooth_noise(rng, t, 3.0, fmax=0.2)
        a[f"knee_{side}"] += 4 + np.abs(_smooth_noise(rng, t, 3.0, fmax=0.2))
        a[f"hip_rot_{side}"] += 5 + _smooth_noise(rng, t, 3.0, fmax=0.2)
        a[f"clav_{side}"] += _smooth_noise(rng, t, 2.0)


def _arms(a, rng, t, action, style):
    """Arm gestures: each arm moves between key poses of the action's repertoire."""
    repertoire, hold, _ = ACTION_STYLE[action]
    busy = "r" if rng.random() < 0.75 else "l"  # the hand doing most of the gesturing
    for side in "lr":
        times, durations = _schedule(rng, t[-1], hold, (0.4, 1.0), start=rng.uniform(-2, 0))
        names = [repertoire[i] for i in rng.integers(len(repertoire), size=len(times))]
        if side != busy and action not in ("Photo", "Posing", "Discussion", "Eating"):
            # The other arm mostly rests (or holds what the action needs, like the leash).
            names = ["rest" if rng.random() < 0.7 or action == "WalkDog" else n for n in names]
        if action == "Phoning" and side != busy:
            names = ["rest" if rng.random() < 0.5 else "front" for _ in names]
        poses = np.array([GESTURES[n] for n in names], float)
        poses += rng.normal(0, [6, 4, 8, 8], poses.shape)  # every repetition a little different
        # Big changes take longer: at most ~120 degrees/s on average keeps hands below ~4 m/s.
        durations[1:] = np.maximum(durations[1:], np.abs(np.diff(poses, axis=0)).max(1) / 120)
        track = _keyframes(t, times, poses, durations)
        for k, name in enumerate(("sh_flex", "sh_abd", "sh_rot", "elbow")):
            a[f"{name}_{side}"] += track[:, k] + _smooth_noise(rng, t, 2.5, fmax=0.6)
        a[f"sh_abd_{side}"] += style["arm_abd"]
        a[f"wrist_{side}"] += _smooth_noise(rng, t, 8.0, fmax=0.6)
        if action == "Greeting":
            waving = np.clip((track[:, 1] - 50) / 40, 0, 1)  # only while the arm is up
            a[f"sh_rot_{side}"] += waving * 25 * np.sin(2 * np.pi * 1.8 * t)


def _gait(a, t, weight, phase, style):
    """Add walking cycles scaled by ``weight`` (T,); ``phase`` (T,) radians, 0 = right heel
    strike."""
    amp = weight * style["gait_amp"]
    for side, shift in (("r", 0.0), ("l", np.pi)):
        p = phase + shift
        a[f"hip_flex_{side}"] += amp * (6 + 19 * np.cos(p - 0.3))
        a[f"knee_{side}"] += amp * (12 * _bump(p - 0.9, 6) + 52 * _bump(p - 4.5, 2))
        a[f"ankle_{side}"] += amp * (12 * _bump(p - 3.8, 8) - 8 * _bump(p - 5.4, 4))
        # Arms swing against the leg of the same side.
        a[f"sh_flex_{side}"] += amp * (4 - 16 * np.cos(p))
        a[f"elbow_{side}"] += amp * (12 + 8 * np.cos(p + np.pi))
    a["pelvis_twist"] += amp * 5 * np.sin(phase)
    a["chest_twist"] -= amp * 6 * np.sin(phase)
    a["pelvis_roll"] += amp * 3 * np.sin(2 * phase)
    a["spine_flex"] += amp * 3


def _sit(a, level, body):
    """Blend in sitting (``level`` (T,) in [0, 1]); returns how far (m) the pelvis moves back."""
    lean = 4 * level * (1 - level)  # the trunk leans forward while getting up or sitting down
    for side in "lr":
        a[f"hip_flex_{side}"] += 88 * level
        a[f"knee_{side}"] += 92 * level
        a[f"hip_abd_{side}"] += 6 * level
    a["spine_flex"] += 35 * lean
    a["chest_flex"] += 8 * lean
    a["pelvis_pitch"] -= 5 * level
    thigh, shank = -body.offsets[2, 2], -body.offsets[3, 2]
    hip, knee = np.radians(88 * level), np.radians(92 * level)
    # Keep the feet where they are: the pelvis goes back by the ankle's forward reach.
    return thigh * np.sin(hip) - shank * np.sin(knee - hip)


def _crouch(a, level):
    for side in "lr":
        a[f"hip_flex_{side}"] += 70 * level
        a[f"knee_{side}"] += 110 * level
        a[f"ankle_{side}"] -= 25 * level
    a["spine_flex"] += 25 * level


def _sit_level(rng, t, action) -> np.ndarray:
    """Sitting schedule: always for Sitting/Eating, cycles for SittingDown, maybe for others."""
    if action in ("Sitting", "Eating"):
        return np.ones_like(t)
    if action == "SittingDown":
        times, durations = _schedule(rng, t[-1], (2.0, 5.0), (1.2, 1.8), start=rng.uniform(-3, 0))
        levels = (np.arange(len(times)) + rng.integers(2)) % 2
        return _keyframes(t, times, levels[:, None], durations)[:, 0]
    if action in ("Phoning", "Smoking") and rng.random() < 0.5 and t[-1] > 6:
        start = rng.uniform(0.3, 0.5) * t[-1]
        return _keyframes(t, [0, start], [[0], [1]], [1, 1.5])[:, 0]
    return np.zeros_like(t)


def _crouch_level(rng, t, action) -> np.ndarray:
    if action not in ("Photo", "Purchases") or t[-1] < 4:
        return np.zeros_like(t)
    times, durations = _schedule(rng, t[-1], (2.0, 6.0), (0.8, 1.4), start=rng.uniform(-4, 0))
    levels = rng.random(len(times)) < 0.3
    levels[0] = False
    return _keyframes(t, times, levels[:, None] * rng.uniform(0.4, 0.9), durations)[:, 0]


def _loop_path(rng, t, speed):
    """Walk along an ellipse around the capture volume's centre at ``speed`` (T,) m/s.
    Returns positions (T, 2) and heading (T,) radians."""
    a, b = _VOLUME_AXES * rng.uniform(0.75, 0.95, 2)
    angle, direction = rng.uniform(-0.15, 0.15), rng.choice([-1, 1])
    u = np.linspace(0, 2 * np.pi, 2049)
    curve = np.stack([a * np.cos(u), direction * b * np.sin(u)], 1)
    c, s = np.cos(angle), np.sin(angle)
    curve = curve @ np.array([[c, s], [-s, c]]) + _VOLUME_CENTRE + rng.uniform(-0.05, 0.05, 2)
    arc = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))])
    travelled = (np.cumsum(speed) / H36M_FPS + rng.uniform(0, arc[-1])) % arc[-1]
    pos = np.stack([np.interp(travelled, arc, curve[:, k]) for k in range(2)], 1)
    tangent = np.stack([np.interp(travelled, arc, np.gradient(curve[:, k])) for k in range(2)], 1)
    heading = np.unwrap(np.arctan2(tangent[:, 1], tangent[:, 0]))
    return pos, heading


def _relocations(rng, t, bouts):
    """Stand at a spot, now and then walk a few steps to another one and turn.
    Returns positions (T, 2), heading (T,) and the walking weight (T,)."""
    spots = [_spot(rng)]
    facing = [rng.uniform(-np.pi, np.pi)]
    times, durations = [0.0], [1.0]
    for start in np.sort(rng.uniform(0.1, 0.8, bouts)) * t[-1]:
        target = _spot(rng)
        distance = np.linalg.norm(target - spots[-1])
        travel = np.arctan2(*(target - spots[-1])[::-1])
        spots.append(target)
        facing.append(facing[-1] + _wrap(travel - facing[-1]))
        times.append(max(start, times[-1] + durations[-1]))
        durations.append(max(1.2, distance / 0.7))
    pos = _keyframes(t, times, spots, durations)
    # Turn towards the walking direction at the start of a bout, then to a new facing.
    turn_times = np.array(times) - 0.5
    heading = _keyframes(t, turn_times, np.array(facing)[:, None], np.full(len(times), 0.8))[:, 0]
    heading += _smooth_noise(rng, t, 0.15, fmax=0.1)
    speed = np.linalg.norm(np.gradient(pos, axis=0), axis=1) * H36M_FPS
    return pos, heading, np.clip(speed / 0.8, 0, 1)


def _spot(rng) -> np.ndarray:
    """A random place to stand, well inside the capture volume (uniform in an ellipse)."""
    radius, angle = 0.75 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
    return _VOLUME_CENTRE + _VOLUME_AXES * radius * np.array([np.cos(angle), np.sin(angle)])


def _wrap(angle: float) -> float:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def take_motion(action: str, frames: int, body: Body, rng, style: dict) -> np.ndarray:
    """World positions (frames, 32, 3) in metres of one take of ``action``."""
    t = np.arange(frames) / H36M_FPS
    a = _zeros_angles(frames)
    _posture(a, rng, t, style)
    _arms(a, rng, t, action, style)
    if action in _WALKING:
        base = {"Walking": 1.1, "WalkDog": 0.85, "WalkTogether": 0.9}[action] * style["speed"]
        speed = base * (1 + 0.08 * _smooth_noise(rng, t, 1.0, fmax=0.15))
        if action == "WalkDog":  # the dog stops now and then
            speed *= 1 - 0.8 * np.clip(_smooth_noise(rng, t, 1.0, fmax=0.1) - 0.6, 0, 1)
        xy, heading = _loop_path(rng, t, speed)
        weight = np.clip(speed / base, 0, 1.2)
        if action == "WalkTogether":
            a["neck_twist"] += rng.choice([-1, 1]) * 25
    else:
        xy, heading, weight = _relocations(rng, t, ACTION_STYLE[action][2])
        speed = weight * 0.8
    # The cadence follows the speed: stride length ~0.8 x height.
    phase = 2 * np.pi * np.cumsum(np.maximum(speed, 0.3)) / (0.8 * body.height * H36M_FPS)
    _gait(a, t, weight, phase + rng.uniform(0, 2 * np.pi), style)
    back = _sit(a, _sit_level(rng, t, action), body)
    _crouch(a, _crouch_level(rng, t, action))
    for name, values in a.items():
        lo, hi = LIMITS[name.rsplit("_", 1)[0] if name[-2:] in ("_l", "_r") else name]
        a[name] = _soft_clip(values, lo, hi)
    a["yaw"] = heading
    forward = np.stack([np.cos(heading), np.sin(heading)], 1)
    root = np.zeros((frames, 3))
    root[:, :2] = xy - back[:, None] * forward
    pos = forward_kinematics(body.offsets, root, _bone_rotations(a, frames))
    return _ground(pos, body)


def _ground(pos: np.ndarray, body: Body, softness: float = 0.01, smoothing: float = 3.0):
    """Shift each frame vertically so the lowest foot point (soft minimum) is on the floor.

    The height is low-passed over ``smoothing`` frames: the lowest point jumps from one foot to
    the other at each step, and following it exactly would jerk the whole body up and down.
    """
    contacts = np.concatenate([pos[:, [4, 5, 9, 10], 2],
                               pos[:, [3, 8], 2] - body.ankle_height], axis=1)  # heels
    low = -softness * np.log(np.sum(np.exp(-(contacts - contacts.min(1, keepdims=True))
                                           / softness), 1)) + contacts.min(1)
    pos[:, :, 2] -= _gaussian_filter(low, smoothing)[:, None]
    return pos


def _gaussian_filter(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1-D signal, repeating its end values."""
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return np.convolve(np.pad(x, radius, mode="edge"), kernel / kernel.sum(), mode="valid")


# ---------------------------------------------------------------------------------------------
# 2D: projection and detector-like noise
# ---------------------------------------------------------------------------------------------

def project_take(world: np.ndarray, subject: str) -> list[np.ndarray]:
    """Pixels (T, 17, 2) float32 of the 17 kept joints in each of the subject's 4 cameras."""
    kept = world[:, JOINTS_KEPT_FOR_17]
    return [cam.project(kept).astype(np.float32) for cam in h36m_cameras(subject)]


# Per-joint noise scale of a 2D detector (extremities are harder).
_JOINT_NOISE = np.array([1.0, 1.0, 1.2, 1.5, 1.0, 1.2, 1.5, 0.9, 0.9, 0.8, 1.0,
                         1.0, 1.3, 1.7, 1.0, 1.3, 1.7])
_SWAP_PAIRS = ([(1, 4), (2, 5), (3, 6)], [(2, 5), (3, 6)], [(12, 15), (13, 16)],
               [(11, 14), (12, 15), (13, 16)], [(13, 16)], [(3, 6)])


def detector_noise(keypoints: np.ndarray, rng, fps: int = H36M_FPS) -> np.ndarray:
    """Corrupt pixels (T, 17, 2) like a 2D detector would (returns a new float32 array).

    Independent per-joint noise (~2 px), temporally correlated jitter (~3 px, ~0.15 s), and
    gross errors lasting a few frames: left/right swaps of limbs and lost joints that jump away.
    """
    T = len(keypoints)
    sigma = _JOINT_NOISE[:, None]
    out = keypoints.astype(np.float64) + rng.normal(0, 2.0, (T, 17, 2)) * sigma
    out += _correlated_noise(rng, (T, 17, 2), 0.15 * fps) * 3.0 * sigma
    for start in np.flatnonzero(rng.random(T) < 0.2 / fps):  # ~one error every 5 s
        stop = start + int(rng.integers(2, 12))
        if rng.random() < 0.6:
            for left, right in _SWAP_PAIRS[rng.integers(len(_SWAP_PAIRS))]:
                out[start:stop, [left, right]] = out[start:stop, [right, left]]
        else:
            joint = int(rng.integers(17))
            out[start:stop, joint] += rng.uniform(-80, 80, 2)
    return out.astype(np.float32)


def _correlated_noise(rng, shape, timescale: float) -> np.ndarray:
    """Unit-variance Gaussian noise low-passed along axis 0 (Gaussian kernel, via FFT)."""
    white = rng.standard_normal(shape)
    freq = np.fft.rfftfreq(shape[0])
    gain = np.exp(-0.5 * (2 * np.pi * freq * timescale) ** 2)
    gain = gain.reshape((-1,) + (1,) * (len(shape) - 1))
    smooth = np.fft.irfft(np.fft.rfft(white, axis=0) * gain, n=shape[0], axis=0)
    return smooth / max(smooth.std(), 1e-12)


# ---------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------

def _key(name: str) -> int:
    """A stable integer for a name, to derive independent random streams."""
    return zlib.crc32(name.encode())


def subject_style(subject: str, seed: int) -> dict:
    """How a subject moves: walking speed and amplitude, posture, arm carriage."""
    rng = np.random.default_rng([seed, _key(subject), 1])
    return {"speed": rng.uniform(0.9, 1.1), "gait_amp": rng.uniform(0.85, 1.15),
            "lean": rng.uniform(-2, 8), "arm_abd": rng.uniform(0, 8)}


def take_names(action: str) -> tuple[str, str]:
    """The two takes of an action, named like the real set (``"Walking"``, ``"Walking 1"``)."""
    return action, f"{action} 1"


def generate_arrays(preset: str = "tiny", seed: int = 0, progress: bool | None = None,
                    subjects: tuple[str, ...] = SUBJECTS) -> dict:
    """The three files' contents: {'3d': positions_3d, 'gt': positions_2d, 'noisy': positions_2d}.

    Each take has its own random stream, so a subset of ``subjects`` gives the same takes as the
    full set. ``progress`` shows a progress bar (default: only for the h36m-size preset).
    """
    if preset not in PRESETS:
        raise DataError(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    lo, hi = PRESETS[preset]
    jobs = [(s, a, take) for s in subjects for a in ACTIONS for take in take_names(a)]
    if progress is None:
        progress = preset == "h36m-size"
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc=f"synth {preset}", unit="take")
    positions_3d, gt, noisy = {}, {}, {}
    for subject, action, take in jobs:
        body, style = subject_body(subject, seed), subject_style(subject, seed)
        rng = np.random.default_rng([seed, _key(subject), _key(take), 2])
        frames = int(rng.integers(lo, hi + 1))
        world = take_motion(action, frames, body, rng, style).astype(np.float32)
        views = project_take(world, subject)
        positions_3d.setdefault(subject, {})[take] = world
        gt.setdefault(subject, {})[take] = views
        noisy.setdefault(subject, {})[take] = [
            detector_noise(v, np.random.default_rng([seed, _key(subject), _key(take), 3, c]))
            for c, v in enumerate(views)]
    return {"3d": positions_3d, "gt": gt, "noisy": noisy}


def keypoints_metadata() -> dict:
    """The ``metadata`` entry of the 2D files (as in the published files)."""
    return {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [list(s) for s in h36m_metadata()["keypoints_symmetry_2d"]]}


def generate_dataset(out_dir: str | Path, preset: str = "tiny", seed: int = 0,
                     progress: bool | None = None) -> dict[str, Path]:
    """Generate and write ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz`` and
    ``data_2d_h36m_noisy.npz`` into ``out_dir`` (created if needed). Returns
    ``{'3d': path, 'gt': path, 'noisy': path}``. The three files are written to temporary files
    first and replace their targets together at the end, so an error leaves no mix of old and
    new files."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a directory")
    arrays = generate_arrays(preset, seed, progress)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{out_dir}: cannot create the output directory ({err})") from None
    paths = {"3d": out_dir / "data_3d_h36m.npz", "gt": out_dir / "data_2d_h36m_gt.npz",
             "noisy": out_dir / "data_2d_h36m_noisy.npz"}
    with contextlib.ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(check_writable_file(path)))
               for name, path in paths.items()}
        write_npz(tmp["3d"], positions_3d=arrays["3d"])
        for name in ("gt", "noisy"):
            write_npz(tmp[name], positions_2d=arrays[name], metadata=keypoints_metadata())
    return paths
