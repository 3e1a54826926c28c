"""Window-border artefacts of a lifted sequence, as numbers: border step / inside step.

The step of frame t is the mean over joints of ``|p[t+1] - p[t]|`` (metres). Steps that cross a
border of the non-overlapping windows (from the last frame of one window to the first of the
next) are *border* steps, the others *inside* steps; their ratio is about 1 for a result without
window artefacts. Used by ``benchmarks/bench_overlap.py`` and the tests.
"""
from __future__ import annotations

import numpy as np

from starpose.data.skeleton import H36M_17


def border_inside_steps(poses: np.ndarray, frames: int) -> tuple[float, float]:
    """Mean border and inside step of ``poses (T, J, 3)`` for windows of ``frames`` frames."""
    steps = np.linalg.norm(np.diff(poses, axis=0), axis=-1).mean(axis=-1)  # (T-1,)
    border = np.zeros(len(steps), bool)
    border[frames - 1:: frames] = True
    return float(steps[border].mean()), float(steps[~border].mean())


def window_biased_predictor(truth: np.ndarray, frames: int, scale: float = 0.02, seed: int = 0):
    """A window predictor for tests and benchmarks with the error profile of a window model:
    the true poses plus, per window, a random offset and a random drift growing towards the
    window's edges. The 2D input's joint 0 x carries the frame number (see :func:`frame_coded_input`)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1.0, 1.0, frames)[:, None, None]
    joints = truth.shape[1]

    class Predictor:
        def __init__(self):
            self.frames, self.num_joints, self.batch_size = frames, joints, 8

        def __call__(self, windows):
            t = np.rint(windows[:, :, 0, 0]).astype(int)  # (B, F)
            out = truth[t].astype(np.float32)
            for b in range(len(out)):
                offset = rng.normal(scale=scale, size=(1, joints, 3))
                drift = rng.normal(scale=scale, size=(1, joints, 3))
                out[b] += (offset + drift * ramp ** 2).astype(np.float32)
            return out

    return Predictor()


def frame_coded_input(length: int, joints: int = H36M_17.num_joints) -> np.ndarray:
    """``(T, J, 2)`` input whose joint 0 x is the frame number (for :func:`window_biased_predictor`)."""
    x = np.zeros((length, joints, 2), np.float32)
    x[:, 0, 0] = np.arange(length)
    return x
