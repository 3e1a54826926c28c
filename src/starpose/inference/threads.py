"""PyTorch's CPU threads for a block of work, restored afterwards.

Small forward passes (one window per frame in the online mode; the few windows of a video track)
gain nothing from sharing a forward between threads, and on a busy 2-core machine two threads
were measured 3-60x slower than one (the threads wait for each other's time slices):
``starpose lift`` on videos lifts with one thread (docs/lift.md).
"""
from __future__ import annotations

import contextlib

#: Threads the video path lifts with.
VIDEO_LIFT_THREADS = 1


@contextlib.contextmanager
def torch_threads(count: int):
    """``torch.set_num_threads(count)`` inside the block (CPU work only; a GPU is not affected)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
