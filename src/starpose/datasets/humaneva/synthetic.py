"""A synthetic HumanEva-I: the synthetic Human3.6M's motion and bodies, seen by HumanEva's cameras.

No second generator: every take is a take of :mod:`starpose.datasets.h36m.synthetic`'s generator (the
motion of :mod:`~starpose.data.synth.motion`, the bodies of :mod:`~starpose.data.synth.anthropometry`, the
detector noise of :mod:`~starpose.data.synth.detector_noise`), resampled from 50 to 60 fps and reduced
from the 32 motion-capture joints to HumanEva's 15. HumanEva's actions borrow the closest
Human3.6M motion: Walking walks, Jog walks about 1.9 times as fast with larger strides, Box
moves the arms quickly in front of the body (Discussion's repertoire), Gestures points and waves
(Directions), ThrowCatch reaches and waves (Greeting).

For each subject S1-S3 and action there is one take ``"<Action> 1"``: its first 60 % goes to
``Train/<S>`` in two chunks (``chunk0``, ``chunk1``, a few frames dropped between them as where
the real motion capture drops out), the rest to ``Validate/<S>`` as ``chunk0``. The 3 cameras
use the metadata's extrinsics and pinhole intrinsics of
:data:`~starpose.datasets.humaneva.files.FOCAL_PX` px focal length at the centre of 640x480 images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.synth.anthropometry import stream_key, subject_body, subject_style
from starpose.data.synth.detector_noise import detector_noise
from starpose.datasets.humaneva.files import (FILE_2D, FILE_3D, JOINTS_FROM_H36M_17, LAYOUT_NAME, NUM_JOINTS,
                                    humaneva_cameras, humaneva_metadata)
from starpose.data.synth.motion import take_motion
from starpose.data.skeleton import H36M_FPS, JOINTS_KEPT_FOR_17
from starpose.data.synth.files import check_out_dir, write_pose_files

SUBJECTS = ("S1", "S2", "S3")
ACTIONS = ("Walking", "Jog", "Box", "Gestures", "ThrowCatch")
FPS = 60
#: Frames per take at 60 fps, drawn uniformly in [min, max] (Train + Validate together).
PRESETS = {"tiny": (160, 240), "small": (900, 1400), "full": (2400, 3600)}
#: The Human3.6M motion each action borrows, and how much faster / wider it walks.
_MOTION = {"Walking": ("Walking", 1.0, 1.0), "Jog": ("Walking", 1.9, 1.25),
           "Box": ("Discussion", 1.0, 1.0), "Gestures": ("Directions", 1.0, 1.0),
           "ThrowCatch": ("Greeting", 1.0, 1.0)}
TRAIN_FRACTION = 0.6
_CHUNK_GAP = 6  # frames lost between the two training chunks


def resample(world: np.ndarray, frames: int, fps_in: float = H36M_FPS, fps_out: float = FPS) -> np.ndarray:
    """Linear resampling of poses ``(T_in, J, 3)`` at ``fps_in`` to ``(frames, J, 3)`` at ``fps_out``."""
    position = np.arange(frames) * (fps_in / fps_out)
    lo = np.minimum(np.floor(position).astype(int), len(world) - 1)
    hi = np.minimum(lo + 1, len(world) - 1)
    frac = (position - lo)[:, None, None]
    return world[lo] * (1 - frac) + world[hi] * frac


def take_world(subject: str, action: str, frames: int, seed: int, rng) -> np.ndarray:
    """World positions ``(frames, 17, 3)`` (Human3.6M 17-joint layout) at 60 fps of one take."""
    motion, speed, stride = _MOTION[action]
    body = subject_body(f"HumanEva/{subject}", seed)
    style = subject_style(f"HumanEva/{subject}", seed)
    style = dict(style, speed=style["speed"] * speed, gait_amp=style["gait_amp"] * stride)
    frames_50 = int(np.ceil((frames - 1) * H36M_FPS / FPS)) + 2
    world_32 = take_motion(motion, frames_50, body, rng, style)
    return resample(world_32[:, JOINTS_KEPT_FOR_17], frames).astype(np.float32)


def split_take(frames: int) -> dict[tuple[str, str], slice]:
    """Frame ranges of a take: ``{(split, chunk): slice}`` (60 % Train in 2 chunks, 40 % Validate)."""
    train = int(round(frames * TRAIN_FRACTION))
    half = train // 2
    return {("Train", "chunk0"): slice(0, half), ("Train", "chunk1"): slice(half + _CHUNK_GAP, train),
            ("Validate", "chunk0"): slice(train, frames)}


def generate_arrays(preset: str = "tiny", seed: int = 0, progress: bool | None = None) -> dict:
    """The three files' contents: {'3d': positions_3d, 'gt': positions_2d, 'noisy': positions_2d}."""
    if preset not in PRESETS:  # a programmer error: the command line offers only these
        raise ValueError(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    lo, hi = PRESETS[preset]
    jobs = [(s, a) for s in SUBJECTS for a in ACTIONS]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc=f"synth humaneva {preset}", unit="take")
    out = {"3d": {}, "gt": {}, "noisy": {}}
    for subject, action in jobs:
        take = f"{action} 1"
        rng = np.random.default_rng([seed, stream_key(subject), stream_key(take), 4])
        frames = int(rng.integers(lo, hi + 1))
        world = take_world(subject, action, frames, seed, rng)
        views = [cam.project(world).astype(np.float32) for cam in humaneva_cameras(subject)]
        noisy = [detector_noise(v, np.random.default_rng([seed, stream_key(subject), stream_key(take), 5, c]), FPS)
                 for c, v in enumerate(views)]
        keep = list(JOINTS_FROM_H36M_17)
        for (split, chunk), part in split_take(frames).items():
            name, who = f"{take} {chunk}", f"{split}/{subject}"
            out["3d"].setdefault(who, {})[name] = np.ascontiguousarray(world[part][:, keep])
            out["gt"].setdefault(who, {})[name] = [np.ascontiguousarray(v[part][:, keep]) for v in views]
            out["noisy"].setdefault(who, {})[name] = [np.ascontiguousarray(v[part][:, keep]) for v in noisy]
    return out


def keypoints_metadata() -> dict:
    """The ``metadata`` entry of the 2D files (as in the published files)."""
    return {"layout_name": LAYOUT_NAME, "num_joints": NUM_JOINTS,
            "keypoints_symmetry": [list(s) for s in humaneva_metadata()["keypoints_symmetry_2d"]]}


def generate_dataset(out_dir: str | Path, preset: str = "small", seed: int = 0,
                     progress: bool | None = None) -> dict[str, Path]:
    """Write ``data_3d_humaneva15.npz``, ``data_2d_humaneva15_gt.npz`` and
    ``data_2d_humaneva15_noisy.npz`` into ``out_dir`` (all three replace their targets together)."""
    check_out_dir(out_dir)  # before the generation, which takes a while
    arrays = generate_arrays(preset, seed, progress)
    return write_pose_files(out_dir, FILE_3D, FILE_2D, arrays, keypoints_metadata())
