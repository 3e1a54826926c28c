"""Detector-like corruption of 2D keypoints: what turns ground-truth projections into the
``noisy`` keypoints of the synthetic set.

Pixels ``(T, 17, 2)`` in the 17-joint Human3.6M layout get independent per-joint noise,
temporally correlated jitter and, now and then, gross errors lasting a few frames.
"""
from __future__ import annotations

import numpy as np

from starpose.data.skeleton import H36M_FPS


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
    T, J = keypoints.shape[:2]
    sigma = _JOINT_NOISE[:, None]
    out = keypoints.astype(np.float64) + rng.normal(0, 2.0, (T, J, 2)) * sigma
    out += _correlated_noise(rng, (T, J, 2), 0.15 * fps) * 3.0 * sigma
    for start in np.flatnonzero(rng.random(T) < 0.2 / fps):  # ~one error every 5 s
        stop = start + int(rng.integers(2, 12))
        if rng.random() < 0.6:
            for left, right in _SWAP_PAIRS[rng.integers(len(_SWAP_PAIRS))]:
                out[start:stop, [left, right]] = out[start:stop, [right, left]]
        else:
            joint = int(rng.integers(J))
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
