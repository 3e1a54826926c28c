"""A synthetic MPI-INF-3DHP: the Human3.6M generator's motion, in the 3DHP files' exact layout.

* Training file: subjects S1-S8 x Seq1, Seq2, each seen by the 8 cameras ``0 1 2 4 5 6 7 8`` of
  one studio rig (2048x2048), at the real sequences' frame rates (25 or 50 fps).
* Test file: TS1-TS4 filmed in the studio (2048x2048, 25 fps), TS5-TS6 outdoors (1920x1080,
  50 fps, wider views); each has a ``valid`` mask with runs of invalid frames (10-20 %, always
  covering the joins between activities) and a per-frame activity label 1..7.

A sequence is a performance: segments of the 7 activities one after another, each performed by
:func:`~starpose.data.synth.motion.take_motion` with the Human3.6M action closest to it
(:data:`ACTIVITY_ACTIONS`), joined by a short cross-fade. Bodies and movement styles come from
:mod:`~starpose.data.synth.anthropometry`; the 32-joint poses are reduced to the 3DHP 17 joints
(:data:`JOINTS_FROM_H36M_32`; the 3DHP ``head`` is the middle of the head segment). 3D is written
in millimetres in the camera frame (absolute, as in the files), 2D in pixels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from starpose.data.synth.anthropometry import stream_key, subject_body, subject_style
from starpose.datasets.mpi_inf_3dhp.layout import (
    ACTIVITIES, CAMERAS_TRAIN, FILE_TEST, FILE_TRAIN, SEQUENCES_TRAIN, SUBJECTS_TRAIN,
    TEST_SEQUENCES, TRAIN_FPS, metadata_3dhp)
from starpose.data.synth.motion import VOLUME_CENTRE as CAPTURE_CENTRE
from starpose.data.synth.motion import take_motion
from starpose.data.safe_pickle import check_writable_file, write_npz
from starpose.data.skeleton import H36M_FPS
from starpose.datasets.mpi_inf_3dhp.studio_cameras import outdoor_view, studio_rig, studio_view
from starpose.errors import DataError
from starpose.io import atomic_files

#: The Human3.6M action performed for each 3DHP activity (1-based, in :data:`ACTIVITIES` order).
#: The generator has no lying poses: "On The Floor" is sitting down and getting up.
ACTIVITY_ACTIONS = {1: "Walking", 2: "Posing", 3: "Sitting", 4: "Purchases", 5: "SittingDown",
                    6: "Greeting", 7: "Phoning"}
#: For each of the 17 3DHP joints, the Human3.6M 32-joint index (the head: two indices averaged).
JOINTS_FROM_H36M_32 = (15, 13, 25, 26, 27, 17, 18, 19, 1, 2, 3, 6, 7, 8, 0, 12, (14, 15))
#: Frames per sequence (at its own fps): (training min, max), (test min, max); ``full`` uses the
#: real training counts and test lengths close to the real ones.
PRESETS = {"tiny": ((90, 150), (200, 320)), "small": ((600, 1200), (1000, 2000)), "full": None}
FULL_TEST_FRAMES = {"TS1": 6151, "TS2": 6080, "TS3": 5838, "TS4": 6007, "TS5": 320, "TS6": 721}
TEST_FPS = {"TS1": 25.0, "TS2": 25.0, "TS3": 25.0, "TS4": 25.0, "TS5": 50.0, "TS6": 50.0}
SEGMENT_SECONDS = (3.0, 8.0)
BLEND_FRAMES = 25  # 0.5 s at 50 fps
INVALID_SHARE = (0.10, 0.20)


def to_3dhp_17(world_32: np.ndarray) -> np.ndarray:
    """Human3.6M 32-joint positions ``(T, 32, 3)`` -> the 3DHP 17 joints ``(T, 17, 3)``."""
    columns = [world_32[:, list(j)].mean(1) if isinstance(j, tuple) else world_32[:, j]
               for j in JOINTS_FROM_H36M_32]
    return np.stack(columns, axis=1)


def performance(frames: int, body, style, rng) -> tuple[np.ndarray, np.ndarray]:
    """World poses ``(frames, 32, 3)`` at 50 fps and activity labels ``(frames,)``: activity
    segments of 3-8 s, each blended into the next over :data:`BLEND_FRAMES`."""
    labels = np.empty(frames, np.int8)
    world = np.empty((frames, 32, 3))
    start, previous = 0, None
    while start < frames:
        length = min(int(rng.uniform(*SEGMENT_SECONDS) * H36M_FPS), frames - start)
        activity = int(rng.integers(1, len(ACTIVITIES) + 1))
        take = take_motion(ACTIVITY_ACTIONS[activity], length + BLEND_FRAMES, body, rng, style)
        if previous is not None:  # cross-fade from the previous segment's extra frames
            weight = np.linspace(0, 1, BLEND_FRAMES + 2)[1:-1, None, None]
            overlap = min(BLEND_FRAMES, length)
            take[:overlap] = (1 - weight[:overlap]) * previous[:overlap] + weight[:overlap] * take[:overlap]
        world[start:start + length] = take[:length]
        labels[start:start + length] = activity
        previous, start = take[length:], start + length
    return world, labels


def valid_mask(labels: np.ndarray, fps: float, rng) -> np.ndarray:
    """``(T,)`` bool: False on runs covering every change of activity, then on random runs of
    0.2-2 s until 10-20 % of the frames are invalid."""
    T = len(labels)
    valid = np.ones(T, bool)
    blend = int(np.ceil(BLEND_FRAMES * fps / H36M_FPS))
    for change in np.flatnonzero(np.diff(labels)) + 1:
        valid[max(change - 2, 0):change + blend + 2] = False
    target = int(rng.uniform(*INVALID_SHARE) * T)
    while (~valid).sum() < target:
        length = min(int(rng.uniform(0.2, 2.0) * fps), target - int((~valid).sum()))
        start = int(rng.integers(0, max(T - length, 1)))
        valid[start:start + max(length, 1)] = False
    return valid


def _at_fps(frames: int, fps: float, body, style, rng):
    """A performance of ``frames`` frames at ``fps`` (25: every second frame of 50 fps)."""
    step = int(round(H36M_FPS / fps))
    world, labels = performance(frames * step, body, style, rng)
    return world[::step], labels[::step]


def _views(world_17: np.ndarray, camera) -> dict:
    camera_frame = camera.world_to_camera(world_17)
    return {"data_2d": camera.project(world_17).astype(np.float32),
            "data_3d": (1000 * camera_frame).astype(np.float32)}


def _frames(preset: str, split: int, name: str, rng) -> int:
    if PRESETS[preset] is None:
        if split == 0:
            return int(metadata_3dhp()["train"]["frames_and_fps"][name][0])
        return FULL_TEST_FRAMES[name]
    lo, hi = PRESETS[preset][split]
    return int(rng.integers(lo, hi + 1))


def training_data(preset: str, seed: int, progress: bool = False) -> dict:
    """``data`` of the training file: ``{'S<k> Seq<m>': [{camera: {'data_2d', 'data_3d'}}, fps]}``."""
    rig = studio_rig(CAMERAS_TRAIN, np.random.default_rng([seed, stream_key("3dhp rig")]),
                     CAPTURE_CENTRE)
    jobs = [f"{s} {q}" for s in SUBJECTS_TRAIN for q in SEQUENCES_TRAIN]
    data = {}
    for name in _bar(jobs, progress, "synth 3dhp train"):
        subject = name.split(" ")[0]
        body = subject_body(f"3DHP {subject}", seed)
        style = subject_style(f"3DHP {subject}", seed)
        rng = np.random.default_rng([seed, stream_key(f"3DHP {name}")])
        fps = TRAIN_FPS[name]
        world, _ = _at_fps(_frames(preset, 0, name, rng), fps, body, style, rng)
        world_17 = to_3dhp_17(world)
        data[name] = [{camera.id: _views(world_17, camera) for camera in rig}, int(fps)]
    return data


def test_data(preset: str, seed: int, progress: bool = False) -> dict:
    """``data`` of the test file: ``{'TS<k>': {'data_2d', 'data_3d', 'valid', 'activity'}}``."""
    data = {}
    for index, name in enumerate(_bar(TEST_SEQUENCES, progress, "synth 3dhp test")):
        body = subject_body(f"3DHP {name}", seed)
        style = subject_style(f"3DHP {name}", seed)
        rng = np.random.default_rng([seed, stream_key(f"3DHP {name}")])
        fps = TEST_FPS[name]
        world, labels = _at_fps(_frames(preset, 1, name, rng), fps, body, style, rng)
        view = outdoor_view if name in ("TS5", "TS6") else studio_view
        camera = view(str(index), rng, CAPTURE_CENTRE)
        entry = _views(to_3dhp_17(world), camera)
        entry["valid"] = valid_mask(labels, fps, rng).astype(np.uint8)
        entry["activity"] = labels
        data[name] = entry
    return data


def _bar(jobs, progress: bool, desc: str):
    if not progress:
        return jobs
    from tqdm import tqdm

    return tqdm(jobs, desc=desc, unit="seq")


def generate_3dhp(out_dir: str | Path, preset: str = "tiny", seed: int = 0,
                  progress: bool | None = None) -> dict[str, Path]:
    """Write ``data_train_3dhp.npz`` and ``data_test_3dhp.npz`` into ``out_dir`` (created if
    needed); returns ``{'train': path, 'test': path}``. Both files replace their targets together
    at the end, so an error leaves no mix of old and new files. ``progress``: a progress bar
    (default: only for the ``full`` preset)."""
    if preset not in PRESETS:  # a programmer error: the command line offers only these
        raise ValueError(f"unknown preset '{preset}' (choose from {', '.join(PRESETS)})")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a directory")
    progress = preset == "full" if progress is None else progress
    contents = {"train": training_data(preset, seed, progress),
                "test": test_data(preset, seed, progress)}
    paths = {"train": out_dir / FILE_TRAIN, "test": out_dir / FILE_TEST}
    with atomic_files() as stage:
        for key, path in paths.items():
            write_npz(stage(check_writable_file(path)), data=contents[key])
    return paths
