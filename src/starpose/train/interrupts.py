"""Ctrl-C and SIGTERM as exceptions, and saves that they cannot cut short.

Job schedulers (Slurm, Kubernetes) send SIGTERM before they kill a job; a terminal sends SIGINT.
Inside :func:`signals_interrupt` both raise :class:`Interrupted` (a ``KeyboardInterrupt``), whose
``exit_code`` is the shell's 128 + signal number (130, 143). Inside :func:`shielded` a signal is
only noted (a second Ctrl-C during a checkpoint write is ignored until the write is complete)
and raised when the block ends.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM arrived; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


def _raise(signum, _frame):
    raise Interrupted(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_interrupt():
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block (main thread only)."""
    if not _main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in HANDLED}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def shielded(note: str = "saving a checkpoint; please wait"):
    """Hold SIGINT/SIGTERM off during the block; the first one that came is raised after it."""
    if not _main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum, _frame):
        if not arrived:
            print(f"\n{note}", file=sys.stderr, flush=True)
        arrived.append(signum)

    previous = {s: signal.signal(s, hold) for s in HANDLED}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if arrived:
        outer = previous[arrived[0]]
        if outer is _raise:
            raise Interrupted(arrived[0])
        if callable(outer):  # an enclosing shielded block (or Python's default): pass it on
            outer(arrived[0], None)
