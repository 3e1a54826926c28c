"""Training-batch assembly speed: frames per second gathered by TrainWindows.epoch_batches.

Usage: python benchmarks/bench_windows.py [--frames 243] [--batch-size 64]
"""
from __future__ import annotations

import argparse

from starpose.bench.windows import benchmark_batch_assembly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=243, help="window length F")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per batch")
    parser.add_argument("--no-flip", action="store_true", help="disable flip augmentation")
    args = parser.parse_args()
    rate = benchmark_batch_assembly(frames=args.frames, batch_size=args.batch_size,
                                    flip_augment=not args.no_flip)
    print(f"batch assembly: {rate / 1e6:.2f} M frames/s "
          f"(F={args.frames}, batch={args.batch_size}, flip={not args.no_flip})")


if __name__ == "__main__":
    main()
