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

Everything is deterministic for a given seed; each take has its own random stream. This module
owns the dataset (subjects, actions, presets, the files); the pieces live beside it: subjects'
bodies and styles in :mod:`~starpose.data.synth.anthropometry`, step 1 in :mod:`~starpose.data.synth.motion`,
step 2 in :mod:`~starpose.data.synth.kinematics`, the noise of step 3 in
:mod:`~starpose.data.synth.detector_noise`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.skeleton import H36M_17, JOINTS_KEPT_FOR_17, h36m_metadata
from starpose.data.synth.anthropometry import Body, stream_key, subject_body, subject_style
from starpose.data.synth.detector_noise import detector_noise
from starpose.data.synth.files import check_out_dir, write_pose_files
from starpose.data.synth.kinematics import LIMITS, forward_kinematics
from starpose.data.synth.motion import ACTION_STYLE, GESTURES, take_motion
from starpose.datasets.h36m.layout import SUBJECTS_TEST, SUBJECTS_TRAIN, h36m_cameras
from starpose.data.synth.varied import root_in_camera, varied_views
from starpose.data.take_cameras import TAKE_CAMERAS_FILE, take_camera_arrays
from starpose.errors import DataError

# The pieces of the generator, importable from here as before the split.
__all__ = [
    "SUBJECTS", "ACTIONS", "PRESETS", "Body", "subject_body", "subject_style", "forward_kinematics",
    "LIMITS", "GESTURES", "ACTION_STYLE", "take_motion", "detector_noise", "project_take",
    "take_names", "generate_arrays", "keypoints_metadata", "generate_dataset",
]

#: The subjects of the real set's training and test splits (S1 S5 S6 S7 S8, S9 S11).
SUBJECTS = SUBJECTS_TRAIN + SUBJECTS_TEST
#: The 15 action types of Human3.6M, in the real set's order: those :mod:`motion` can perform.
ACTIONS = tuple(ACTION_STYLE)
#: Frames per take (3D, at 50 fps), drawn uniformly in [min, max]. h36m-size: the real training split S1 S5 S6 S7 S8 holds about
#: 1.56 M 2D frames (390 k poses x 4 cameras); 5 subjects x 30 takes x 4 cameras x 2600 match it.
PRESETS = {"tiny": (100, 200), "small": (300, 600), "h36m-size": (1400, 3800)}
#: The camera sets of ``starpose synth --cameras``: h36m, each subject's four calibrated cameras;
#: varied, per take one of those and three cameras of :mod:`starpose.data.synth.cameras`.
CAMERA_SETS = {"h36m": "the four Human3.6M cameras of each subject",
               "varied": "per take one Human3.6M camera and three phone/webcam/action cameras "
                         "anywhere around the person (480p-4K, 4:3, 16:9, 9:16, 1:1)"}


def project_take(world: np.ndarray, subject: str) -> list[np.ndarray]:
    """Pixels (T, 17, 2) float32 of the 17 kept joints in each of the subject's 4 cameras."""
    kept = world[:, JOINTS_KEPT_FOR_17]
    return [cam.project(kept).astype(np.float32) for cam in h36m_cameras(subject)]


def take_names(action: str) -> tuple[str, str]:
    """The two takes of an action, named like the real set (``"Walking"``, ``"Walking 1"``)."""
    return action, f"{action} 1"


def generate_arrays(preset: str = "tiny", seed: int = 0, progress: bool | None = None,
                    subjects: tuple[str, ...] = SUBJECTS, cameras: str = "h36m") -> dict:
    """The three files' contents: {'3d': positions_3d, 'gt': positions_2d, 'noisy': positions_2d}.

    Each take has its own random stream, so a subset of ``subjects`` gives the same takes as the
    full set. ``progress`` shows a progress bar (default: only for the h36m-size preset).
    ``cameras``: a name of :data:`CAMERA_SETS`; ``"varied"`` adds a ``'cameras'`` entry, the
    per-take cameras of :mod:`starpose.data.take_cameras`.
    """
    if preset not in PRESETS:  # a programmer error: the command line offers only these
        raise ValueError(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    if cameras not in CAMERA_SETS:
        raise DataError(f"unknown camera set '{cameras}' (choose from {', '.join(CAMERA_SETS)})")
    lo, hi = PRESETS[preset]
    jobs = [(s, a, take) for s in subjects for a in ACTIONS for take in take_names(a)]
    if progress is None:
        progress = preset == "h36m-size"
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc=f"synth {preset}", unit="take")
    positions_3d, gt, noisy, take_cams = {}, {}, {}, {}
    for index, (subject, action, take) in enumerate(jobs):
        body, style = subject_body(subject, seed), subject_style(subject, seed)
        rng = np.random.default_rng([seed, stream_key(subject), stream_key(take), 2])
        frames = int(rng.integers(lo, hi + 1))
        world = take_motion(action, frames, body, rng, style).astype(np.float32)
        positions_3d.setdefault(subject, {})[take] = world
        if cameras == "varied":
            views, corrupted, cams = _varied_take(world, subject, take, index, seed)
            for key, value in take_camera_arrays(
                    cams, [root_in_camera(world[:, JOINTS_KEPT_FOR_17], c) for c in cams]).items():
                take_cams.setdefault(key, {}).setdefault(subject, {})[take] = value
        else:
            views = project_take(world, subject)
            corrupted = [detector_noise(v, np.random.default_rng(
                [seed, stream_key(subject), stream_key(take), 3, c])) for c, v in enumerate(views)]
        gt.setdefault(subject, {})[take] = views
        noisy.setdefault(subject, {})[take] = corrupted
    arrays = {"3d": positions_3d, "gt": gt, "noisy": noisy}
    return {**arrays, "cameras": take_cams} if take_cams else arrays


def _varied_take(world, subject: str, take: str, index: int, seed: int):
    """Pixels and cameras of one take seen by the varied cameras (own random streams)."""
    key = [seed, stream_key(subject), stream_key(take)]
    cams, views, corrupted = varied_views(
        world[:, JOINTS_KEPT_FOR_17], h36m_cameras(subject)[index % 4], np.random.default_rng(key + [4]),
        noise_rng=np.random.default_rng(key + [5]))
    return views, corrupted, cams


def keypoints_metadata() -> dict:
    """The ``metadata`` entry of the 2D files (as in the published files)."""
    return {"layout_name": "h36m", "num_joints": H36M_17.num_joints,
            "keypoints_symmetry": [list(s) for s in h36m_metadata()["keypoints_symmetry_2d"]]}


def generate_dataset(out_dir: str | Path, preset: str = "tiny", seed: int = 0,
                     progress: bool | None = None, cameras: str = "h36m") -> dict[str, Path]:
    """Generate and write ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz`` and
    ``data_2d_h36m_noisy.npz`` into ``out_dir`` (created if needed). Returns
    ``{'3d': path, 'gt': path, 'noisy': path}``. The three files are written to temporary files
    first and replace their targets together at the end, so an error leaves no mix of old and
    new files. ``cameras="varied"`` also writes the per-take cameras
    (:data:`~starpose.data.take_cameras.TAKE_CAMERAS_FILE`); ``"h36m"`` removes a stale one."""
    check_out_dir(out_dir)  # before the generation, which takes a while
    if cameras not in CAMERA_SETS:
        raise DataError(f"unknown camera set '{cameras}' (choose from {', '.join(CAMERA_SETS)})")
    arrays = generate_arrays(preset, seed, progress, cameras=cameras)
    extra = {TAKE_CAMERAS_FILE: arrays.pop("cameras", None)}
    return write_pose_files(out_dir, "data_3d_h36m.npz", "data_2d_h36m_{name}.npz", arrays,
                            keypoints_metadata(), extra=extra)
