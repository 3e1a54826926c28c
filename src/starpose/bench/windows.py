"""Batch-assembly speed of :class:`starpose.data.windows.TrainWindows`, the data side of training.

Used by ``starpose bench`` and by ``benchmarks/bench_windows.py``; kept out of the data module,
which holds only what training and evaluation run.
"""
from __future__ import annotations

import time

import numpy as np

from starpose.data.skeleton import H36M_17, Skeleton
from starpose.data.windows import TrainWindows


def benchmark_batch_assembly(frames: int = 243, batch_size: int = 64, total_frames: int = 500_000,
                             skeleton: Skeleton = H36M_17, flip_augment: bool = True, min_seconds: float = 1.0,
                             seed: int = 0) -> float:
    """Frames per second assembled by :meth:`TrainWindows.epoch_batches` (shuffled, flipped).

    Builds random sequences of 1,000 to 5,000 frames totalling about ``total_frames`` frames and
    times whole epochs until ``min_seconds`` have passed; ``skeleton`` gives the joints and the flip.
    """
    rng = np.random.default_rng(seed)
    joints = skeleton.num_joints
    lengths = []
    while sum(lengths) < total_frames:
        lengths.append(int(rng.integers(1000, 5000)))
    seqs_2d = [rng.standard_normal((n, joints, 2), dtype=np.float32) for n in lengths]
    seqs_3d = [rng.standard_normal((n, joints, 3), dtype=np.float32) for n in lengths]
    data = TrainWindows(seqs_2d, seqs_3d, frames, flip_augment=flip_augment, seed=seed,
                        skeleton=skeleton)
    assembled, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < min_seconds:
        for x, _ in data.epoch_batches(batch_size):
            assembled += x.shape[0] * x.shape[1]
    return assembled / (time.perf_counter() - begin)
