"""How many CPU threads torch gets: as many as there are idle cores (:func:`choose_threads`).

torch's default is one thread per core. On a machine where another process keeps cores busy
(a browser, a CI neighbour, a second training run) that oversubscribes them: OpenMP's threads
wait for each other at every parallel region, and a thread that lost its core makes the others
spin, so throughput swings by an order of magnitude (measured: training between 3,500 and 150
frames/s with one busy neighbour on 2 cores). Using only the idle cores degrades gracefully
instead: a program with one thread on a core of its own loses nothing to the neighbour.

Idle cores are measured over a short interval from ``/proc/stat`` (the cores this process may
run on, ``sched_getaffinity``); where that file is missing, from the 1-minute load average.
An explicit count, or ``OMP_NUM_THREADS`` set in the environment, is used as given.

Small forward passes (one window per frame in the online mode; the few windows of a video track)
gain nothing from sharing a forward between threads: ``starpose lift`` on videos lifts with
:data:`VIDEO_LIFT_THREADS` inside :func:`torch_threads` (docs/lift.md).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass

#: Seconds over which the cores' use is sampled.
SAMPLE_S = 0.25
#: A core counts as taken once the others use more than this share of it: a small background
#: load (a terminal, a clock) should not halve the threads.
SLACK = 0.25


@dataclass(frozen=True)
class ThreadChoice:
    """``threads`` torch uses; ``cores`` this process may run on; ``busy``: cores' worth of CPU
    time other processes used (None where not measured); ``how``: auto, given or environment."""

    threads: int
    cores: int
    busy: float | None
    how: str


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask; all cores where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times(cpus: set[int]) -> tuple[float, float] | None:
    """(busy, total) jiffies summed over ``cpus`` from ``/proc/stat``; None without it."""
    try:
        with open("/proc/stat") as fh:
            lines = fh.readlines()
    except OSError:
        return None
    busy = total = 0.0
    for line in lines:
        name, *values = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        ticks = [float(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
        total += sum(ticks)
        busy += sum(ticks) - ticks[3] - ticks[4]
    return (busy, total) if total else None


def busy_cores(seconds: float = SAMPLE_S) -> float | None:
    """Cores' worth of CPU time that other processes use now (this one sleeps meanwhile)."""
    try:
        cpus = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = set(range(os.cpu_count() or 1))
    before = _cpu_times(cpus)
    if before is None:
        try:
            return min(float(os.getloadavg()[0]), float(len(cpus)))
        except (AttributeError, OSError):
            return None
    time.sleep(seconds)
    after = _cpu_times(cpus)
    if after is None or after[1] <= before[1]:
        return None
    return len(cpus) * (after[0] - before[0]) / (after[1] - before[1])


def idle_threads(cores: int, busy: float) -> int:
    """Threads for ``cores`` cores of which ``busy`` are used by others (at least 1)."""
    return max(1, min(cores, cores - math.ceil(busy - SLACK)))


def choose_threads(requested: int | None = None) -> ThreadChoice:
    """The thread count for ``requested`` (a count, or None: automatic, see the module docstring)."""
    cores = usable_cores()
    if requested is not None:
        return ThreadChoice(int(requested), cores, None, "given")
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return ThreadChoice(int(env), cores, None, "environment")
    busy = busy_cores() if cores > 1 else None
    threads = cores if busy is None else idle_threads(cores, busy)
    return ThreadChoice(threads, cores, busy, "auto")


def apply_threads(requested: int | None = None) -> ThreadChoice:
    """:func:`choose_threads` and set torch's intra-op thread count to it."""
    import torch

    choice = choose_threads(requested)
    torch.set_num_threads(choice.threads)
    return choice


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
