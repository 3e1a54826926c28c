"""Procedural motion of the 15 Human3.6M actions: joint angles over time and a root path.

For one take: a standing posture with slow sway, arm gestures moving between the key poses of
the action's repertoire, walking cycles (following the root's speed), sitting and crouching,
and a root that walks a loop or relocates now and then inside the capture volume. Forward
kinematics turns the angles into world positions ``(T, 32, 3)`` (metres, world z up) and the
body is lowered so that the lowest foot point touches the floor (z = 0). Every primitive is a
smooth function of time t in seconds, drawn from the take's random stream.
"""
from __future__ import annotations

import numpy as np

from starpose.data.synth.anthropometry import Body
from starpose.data.synth.kinematics import bone_rotations, clip_to_limits, forward_kinematics
from starpose.data.skeleton import H36M_FPS

_WALKING = {"Walking", "WalkDog", "WalkTogether"}
# The floor ellipse (centre, semi-axes along x and y, metres) in which a standing body is seen
# whole by all four cameras of every subject: the region they share is a diamond around it.
VOLUME_CENTRE = np.array([0.25, 0.45])
_VOLUME_AXES = np.array([0.85, 1.2])


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
    curve = curve @ np.array([[c, s], [-s, c]]) + VOLUME_CENTRE + rng.uniform(-0.05, 0.05, 2)
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
    return VOLUME_CENTRE + _VOLUME_AXES * radius * np.array([np.cos(angle), np.sin(angle)])


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
    clip_to_limits(a)
    a["yaw"] = heading
    forward = np.stack([np.cos(heading), np.sin(heading)], 1)
    root = np.zeros((frames, 3))
    root[:, :2] = xy - back[:, None] * forward
    pos = forward_kinematics(body.offsets, root, bone_rotations(a, frames))
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
