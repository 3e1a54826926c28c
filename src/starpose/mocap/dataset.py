"""BVH clips in, a Human3.6M-format training set out (``starpose mocap import``).

Each clip is read, retargeted to the 17 Human3.6M joints, put into metres in the z-up world
of the capture volume, resampled, spread into the 32-joint layout and assigned a subject
(round-robin over the subjects, or from a split file) and an action named after the file
(:mod:`starpose.mocap.actions`: ``dataset-1_walk_normal_001.bvh`` -> ``"walk normal 001"``).
Then it is projected through the subject's cameras (``data_2d_h36m_gt.npz``) and corrupted like
a detector's output (``data_2d_h36m_noisy.npz``). Implausible body heights and joints outside
the cameras' images are warned about (:mod:`starpose.mocap.plausibility`). All files are
written to temporary names first and moved into place together at the end.
"""
from __future__ import annotations

import contextlib
import json
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starpose.data.safe_pickle import check_writable_file, write_npz
from starpose.data.skeleton import JOINTS_KEPT_FOR_17
from starpose.data.synth.motion import VOLUME_CENTRE
from starpose.data.synth.detector_noise import detector_noise
from starpose.datasets.h36m.synthetic import SUBJECTS, keypoints_metadata
from starpose.errors import DataError, StarposeWarning
from starpose.io import atomic_path
from starpose.mocap import normalize, plausibility
from starpose.mocap.actions import action_group, take_actions
from starpose.mocap.bvh import read_bvh
from starpose.mocap.retarget import detect_map, read_mapping, retarget
from starpose.data.camera_file import CAMERAS_FILE, cameras_json
from starpose.mocap.rig import parse_camera_set, subject_cameras

#: The smallest model window (the 27-frame presets): shorter clips cannot train or evaluate.
MIN_FRAMES = 27
DEFAULT_FPS = 50.0


@dataclass(frozen=True, eq=False)
class Take:
    """One imported clip: ``world`` (T, 32, 3) float32 metres, z up, at ``fps``."""

    path: str
    subject: str
    action: str
    family: str
    unit: str
    stature_m: float
    fps_in: float
    frames_in: int
    fps: float
    world: np.ndarray

    @property
    def action_group(self) -> str:
        """The action the loader groups this take under (the first word of ``action``)."""
        return action_group(self.action)


def load_take(path, subject: str, *, skeleton: str = "auto", unit: str = "auto",
              up: str = "y", fps: float = DEFAULT_FPS, action: str | None = None) -> Take:
    """Read and convert one BVH clip (see the module docstring); ``action`` names the take
    (default: :func:`starpose.mocap.actions.take_actions` of this file alone)."""
    clip = read_bvh(path)
    joint_map = detect_map(clip) if skeleton == "auto" else read_mapping(skeleton, clip)
    joints, stature = retarget(clip, joint_map)
    if not stature > 0:
        raise DataError(f"{path}: the skeleton has zero size (all mapped bones coincide)")
    if unit == "auto":
        unit = normalize.detect_unit(stature)
    elif unit not in normalize.UNITS:
        raise ValueError(f"unknown unit {unit!r} (choose from {', '.join(normalize.UNITS)})")
    scale = normalize.UNITS[unit]
    world = normalize.to_world(joints, scale, up)
    world = normalize.resample(world, clip.fps, fps)
    normalize.check_length(len(world), MIN_FRAMES, str(path), fps)
    world = normalize.place_on_floor(world, stature * scale)
    return Take(str(path), subject, action or take_actions([path])[0], joint_map.family, unit, stature * scale,
                clip.fps, clip.num_frames, fps,
                normalize.to_32_joints(world).astype(np.float32))


def assign_subjects(paths: list, subjects: tuple[str, ...] | None = None,
                    split=None) -> list[str]:
    """One subject per path: round-robin over ``subjects`` or from a JSON split file
    ``{file: subject}`` (keys match a path as given or its file name)."""
    if split is None:
        subjects = tuple(subjects or SUBJECTS)
        return [subjects[k % len(subjects)] for k in range(len(paths))]
    split = Path(split)
    try:
        table = json.loads(split.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{split}: not a readable JSON split ({err})") from None
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise DataError(f"{split}: expected a JSON object {{file: subject}}")
    out = []
    for path in paths:
        subject = table.get(str(path), table.get(Path(path).name))
        if subject is None:
            raise DataError(f"{split}: no subject for {path}")
        out.append(subject)
    return out


def import_clips(paths: list, out_dir, *, skeleton: str = "auto", subjects=None, split=None,
                 fps: float = DEFAULT_FPS, cameras: str = "h36m", seed: int = 0,
                 unit: str = "auto", up: str = "y", action_from: str = "auto") -> list[Take]:
    """Import BVH ``paths`` into ``out_dir``; returns the takes. Nothing is written on error.
    ``action_from``: ``auto``, ``stem`` or a JSON mapping file (:mod:`starpose.mocap.actions`)."""
    parse_camera_set(cameras)
    if not paths:
        raise DataError("no BVH file given")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: exists and is not a directory")
    actions = take_actions(paths, action_from)
    takes = [load_take(path, subject, skeleton=skeleton, unit=unit, up=up, fps=fps, action=action)
             for path, subject, action in zip(paths, assign_subjects(paths, subjects, split), actions)]
    _check_unique(takes)
    for take in takes:
        _warn(plausibility.stature_warning(take.path, take.stature_m, take.unit))
    rigs = {subject: subject_cameras(cameras, subject, seed, radius)
            for subject, radius in _reach(takes).items()}
    positions_3d, gt, noisy, outside = {}, {}, {}, {}
    for index, take in enumerate(takes):
        kept = take.world[:, list(JOINTS_KEPT_FOR_17)]
        views = [cam.project(kept).astype(np.float32) for cam in rigs[take.subject]]
        outside[take.path] = (sum(int(plausibility.outside_image(v, c.res_w, c.res_h).sum())
                                  for v, c in zip(views, rigs[take.subject])), len(kept) * len(views))
        positions_3d.setdefault(take.subject, {})[take.action] = take.world
        gt.setdefault(take.subject, {})[take.action] = views
        noisy.setdefault(take.subject, {})[take.action] = [
            detector_noise(view, np.random.default_rng([seed, zlib.crc32(take.action.encode()),
                                                        index, c]), fps=round(fps))
            for c, view in enumerate(views)]
    _warn(plausibility.out_of_view_warning(outside, cameras))
    _write(out_dir, positions_3d, gt, noisy, rigs if cameras != "h36m" else None)
    return takes


def _warn(message: str | None) -> None:
    if message:
        warnings.warn(message, StarposeWarning, stacklevel=3)


def _reach(takes: list[Take]) -> dict[str, float]:
    """Per subject, the largest horizontal distance (m) of a joint from the volume centre."""
    reach: dict[str, float] = {}
    for take in takes:
        distance = np.linalg.norm(take.world[..., :2] - np.asarray(VOLUME_CENTRE), axis=-1)
        reach[take.subject] = max(reach.get(take.subject, 0.0), float(distance.max()))
    return reach


def _check_unique(takes: list[Take]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for take in takes:
        key = (take.subject, take.action)
        if key in seen:
            raise DataError(f"{take.path}: action '{take.action}' of {take.subject} also comes "
                            f"from {seen[key]}; rename one of the files")
        seen[key] = take.path


def _write(out_dir: Path, positions_3d, gt, noisy, rigs) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{out_dir}: cannot create the output directory ({err})") from None
    metadata = keypoints_metadata()
    if rigs is not None:
        metadata["cameras"] = CAMERAS_FILE
    paths = {"3d": out_dir / "data_3d_h36m.npz", "gt": out_dir / "data_2d_h36m_gt.npz",
             "noisy": out_dir / "data_2d_h36m_noisy.npz"}
    if rigs is not None:
        paths["cameras"] = out_dir / CAMERAS_FILE
    with contextlib.ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(check_writable_file(path)))
               for name, path in paths.items()}
        write_npz(tmp["3d"], positions_3d=positions_3d)
        write_npz(tmp["gt"], positions_2d=gt, metadata=metadata)
        write_npz(tmp["noisy"], positions_2d=noisy, metadata=metadata)
        if rigs is not None:
            tmp["cameras"].write_text(cameras_json(rigs), encoding="utf-8")
    if rigs is None:
        # A camera file left by an earlier ring import would describe other cameras.
        (out_dir / CAMERAS_FILE).unlink(missing_ok=True)
