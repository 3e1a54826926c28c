"""Window-border jumps with and without overlapping windows: border step / inside step,
acceleration error and MPJPE (mm), and time, stride F (non-overlapping) against stride F/2.

    python benchmarks/bench_overlap.py                       # window-error model on a synthetic motion
    python benchmarks/bench_overlap.py --checkpoint best.pt --data-dir h36m/ [--keypoints gt] [--every 4]

Without a checkpoint the predictor is :func:`starpose.bench.overlap_stats.window_biased_predictor`
(true poses plus a per-window offset and edge drift: the error profile of a window model). With
one, every test sequence of the data folder is lifted by the model.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from starpose import metrics
from starpose.inference.predictors import TorchPredictor, predict_sequence
from starpose.bench.overlap_stats import border_inside_steps, frame_coded_input, window_biased_predictor


def _row(label, preds, truths, frames, seconds):
    border = np.mean([border_inside_steps(p, frames)[0] for p in preds])
    inside = np.mean([border_inside_steps(p, frames)[1] for p in preds])
    true_step = np.mean([border_inside_steps(t, frames)[1] for t in truths])
    acc = np.mean([metrics.acceleration_error(p, t) for p, t in zip(preds, truths)])
    err = np.mean([metrics.mpjpe(p, t) for p, t in zip(preds, truths)])
    print(f"{label:<22} {1000 * border:8.2f} {1000 * inside:8.2f} {border / inside:7.2f} "
          f"{1000 * true_step:8.2f} {1000 * acc:9.2f} {1000 * err:8.2f} {seconds:8.2f}")


def root_relative(positions_3d: np.ndarray) -> np.ndarray:
    """A Sequence's 3D poses as the model predicts them: joints 1.. are relative to the root
    already (see ``starpose.datasets.h36m.files``); the root itself (its trajectory) becomes 0."""
    truth = np.array(positions_3d, dtype=np.float32)
    truth[:, 0] = 0.0
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--data-dir")
    parser.add_argument("--keypoints", default="gt")
    parser.add_argument("--frames", type=int, default=27, help="window of the error model")
    parser.add_argument("--every", type=int, default=1, help="with --checkpoint: every k-th test sequence")
    args = parser.parse_args()
    if args.checkpoint:
        from starpose.datasets.h36m.files import load_h36m
        from starpose.models.checkpoints import load_model

        model = load_model(args.checkpoint)
        frames = model.config.num_frames
        sequences = load_h36m(args.data_dir, args.keypoints, subjects=["S9", "S11"])[::args.every]
        inputs = [s.keypoints_2d for s in sequences]
        truths = [root_relative(s.positions_3d) for s in sequences]
        make = lambda: TorchPredictor(model, batch_size=64)  # noqa: E731
    else:
        frames, length = args.frames, 5000
        t = np.arange(length)[:, None, None] / 50.0
        phase = np.arange(17)[None, :, None] + np.arange(3)[None, None, :]
        truth = (0.3 * np.sin(2 * np.pi * 0.7 * t + phase)).astype(np.float32)
        inputs, truths = [frame_coded_input(length)], [truth]
        make = lambda: window_biased_predictor(truth, frames)  # noqa: E731
    print(f"{'stride':<22} {'border':>8} {'inside':>8} {'ratio':>7} {'true':>8} {'accel':>9} "
          f"{'MPJPE':>8} {'time s':>8}   (steps, errors in mm)")
    for stride in (frames, max(1, frames // 2), max(1, frames // 4)):
        begin = time.perf_counter()
        preds = [predict_sequence(make(), x, stride=stride, zero_root=False) for x in inputs]
        _row(f"{stride} ({'F' if stride == frames else 'overlap'})", preds, truths, frames,
             time.perf_counter() - begin)


if __name__ == "__main__":
    main()
