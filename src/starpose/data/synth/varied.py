"""One take seen through varied cameras, with detector errors that scale with the person's size.

:func:`varied_views` gives a take's cameras, ground-truth pixels and detector-like pixels:
camera 0 is a given camera (the synthetic Human3.6M passes one of the subject's four calibrated
cameras, so the Human3.6M views stay a subset, a quarter of the views), the others come from
:func:`starpose.data.synth.cameras.sample_cameras`.

:func:`sized_detector_noise` is :func:`starpose.data.synth.detector_noise.detector_noise` (per-joint
noise, correlated jitter, left/right swaps, joints that jump away) with every pixel amount
scaled by the person's size in the image (the body's median height in pixels over
:data:`REFERENCE_HEIGHT_PX`, the height of a person in Human3.6M's 1000x1002 frames), plus
confidence-correlated dropouts: each joint gets a detector confidence that falls for the
extremities, for small people and outside the image; a joint whose confidence falls below a
drawn threshold is lost for a few frames and filled by linear interpolation across the gap, as
``starpose lift`` fills missing joints.
"""
from __future__ import annotations

import numpy as np

from starpose.data.cameras import Camera
from starpose.data.synth.detector_noise import _JOINT_NOISE, detector_noise
from starpose.data.synth.cameras import VARIED, CameraRanges, sample_cameras

#: Height (pixels) of a standing person in Human3.6M's frames: the size the noise of
#: :func:`detector_noise` was set for.
REFERENCE_HEIGHT_PX = 450.0


def person_height_px(keypoints: np.ndarray) -> float:
    """Median over frames of the height of the keypoints' box ``(T, J, 2)`` in pixels."""
    return float(np.median(np.ptp(keypoints[..., 1], axis=1)))


def confidence(keypoints: np.ndarray, size: tuple[int, int], rng) -> np.ndarray:
    """A detector-like confidence (T, J) in [0, 1]: lower for extremities, small bodies and
    joints outside the image (pixels ``(T, J, 2)``, ``size`` (width, height))."""
    scale = min(person_height_px(keypoints) / REFERENCE_HEIGHT_PX, 1.0)
    base = 0.95 - 0.25 * (_JOINT_NOISE[None, : keypoints.shape[1]] - 0.8) - 0.25 * (1 - scale)
    margin = np.minimum(keypoints, np.array(size) - keypoints).min(-1)  # < 0: outside
    outside = np.clip(-margin / 20.0, 0, 1)
    noise = rng.normal(0, 0.08, keypoints.shape[:2])
    return np.clip(base - 0.8 * outside + noise, 0, 1)


def sized_detector_noise(keypoints: np.ndarray, size: tuple[int, int], rng,
                         dropout: float = 0.02) -> np.ndarray:
    """Detector-like pixels (T, J, 2) float32 for ground-truth pixels ``keypoints`` (T, J, 2) of
    an image of ``size`` (width, height); about ``dropout`` of the confident joints' frames and
    most joints outside the image are lost and interpolated."""
    scale = max(person_height_px(keypoints) / REFERENCE_HEIGHT_PX, 0.05)
    noisy = detector_noise(keypoints / scale, rng) * scale
    conf = confidence(keypoints, size, rng)
    # Gaps start more often where the confidence is low (a typical confidence 0.85 gives
    # ``dropout`` / 3 per frame, widened to runs of a few frames); joints far outside are lost.
    starts = rng.random(conf.shape) < dropout / 3 * (1 - conf) / 0.15
    lost = _widen(starts, int(rng.integers(1, 6))) | (conf < 0.25)
    return _interpolate_gaps(noisy.astype(np.float64), lost).astype(np.float32)


def varied_views(world: np.ndarray, first: Camera, rng, num_cameras: int = 4,
                 ranges: CameraRanges = VARIED, noise_rng=None):
    """``(cameras, gt, noisy)`` of one take ``world`` (T, 17, 3) (the 17 kept joints, world
    metres): the cameras (``first``, then ``num_cameras - 1`` drawn ones), and per camera the
    ground-truth and detector-like pixels (T, 17, 2) float32."""
    cameras = [first] + sample_cameras(rng, num_cameras - 1, world, ranges)
    noise_rng = rng if noise_rng is None else noise_rng
    gt = [cam.project(world).astype(np.float32) for cam in cameras]
    noisy = [sized_detector_noise(view, (cam.res_w, cam.res_h), noise_rng)
             for cam, view in zip(cameras, gt)]
    return cameras, gt, noisy


def root_in_camera(world: np.ndarray, camera: Camera) -> np.ndarray:
    """The root joint's position (T, 3) float32 in ``camera``'s coordinates, metres."""
    return camera.world_to_camera(world[:, 0]).astype(np.float32)


def _widen(mask: np.ndarray, frames: int) -> np.ndarray:
    """``mask`` (T, J) with every True run extended by ``frames`` frames forward."""
    out = mask.copy()
    for shift in range(1, frames + 1):
        out[shift:] |= mask[:-shift]
    return out


def _interpolate_gaps(keypoints: np.ndarray, lost: np.ndarray) -> np.ndarray:
    """Replace the lost frames of each joint by linear interpolation between its kept frames
    (held constant before the first and after the last); a joint lost everywhere is kept."""
    out = keypoints.copy()
    frames = np.arange(len(keypoints))
    for joint in range(keypoints.shape[1]):
        keep = ~lost[:, joint]
        if keep.all() or not keep.any():
            continue
        for axis in range(keypoints.shape[2]):
            out[~keep, joint, axis] = np.interp(frames[~keep], frames[keep], keypoints[keep, joint, axis])
    return out
