"""What every command's parser shares: argument types, ``--device`` and the help layout.

The help layout and parser class are :mod:`starpose.cli`'s. An argument type turns a bad value into argparse's usage error (exit status 2) that names the
option, so the library behind a command only ever sees well-formed values. This module imports
nothing heavy: building every parser must not import torch (``starpose --help`` stays fast).
"""
from __future__ import annotations

import argparse
import math
import re
import textwrap

#: What ``--device`` accepts; whether that device exists is checked later, by the library
#: (:func:`starpose.inference.predictors.resolve_device`), once torch is imported.
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def add_command_parser(subparsers, name: str, *, help: str, description: str,
                       examples: tuple[str, ...]) -> argparse.ArgumentParser:
    """A subcommand's parser with an epilog listing ``examples`` (the parser class and help layout
    are the command line's, :mod:`starpose.cli`; it keeps the description's line breaks, so it is
    wrapped here)."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    return subparsers.add_parser(name, help=help, description=textwrap.fill(description, 88),
                                 epilog=epilog)


def positive_int(text: str) -> int:
    """A count: 1, 2, ..."""
    value = _parse(text, int, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """0, 1, 2, ... (random seeds)."""
    value = _parse(text, int, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    return _float_in(text, lambda v: v > 0, "a positive number")


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    return _float_in(text, lambda v: v >= 0, "a number >= 0")


def probability(text: str) -> float:
    """A rate in [0, 1), such as a dropout or stochastic-depth rate."""
    return _float_in(text, lambda v: 0 <= v < 1, "a number in [0, 1)")


def decay_factor(text: str) -> float:
    """A multiplicative factor in (0, 1], such as a learning-rate decay per epoch."""
    return _float_in(text, lambda v: 0 < v <= 1, "a number in (0, 1]")


def comma_list(text: str) -> tuple[str, ...]:
    """``"S9,S11"`` -> ``("S9", "S11")``; blanks around names and empty names are dropped."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    if not items:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return items


def device_type(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, returned as given."""
    if not DEVICE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def add_device_argument(parser: argparse.ArgumentParser, default: str = "auto") -> argparse.Action:
    """``--device``, the same in every command that computes."""
    return parser.add_argument(
        "--device", type=device_type, default=default, metavar="auto|cpu|cuda|cuda:N",
        help="compute device; auto: CUDA when available, else the CPU")


def thread_count(text: str) -> int | None:
    """``auto`` (None) or a positive number of threads."""
    return None if text == "auto" else positive_int(text)


def add_threads_argument(parser: argparse.ArgumentParser) -> argparse.Action:
    """``--threads``; the command line applies it before the command runs
    (:func:`starpose.inference.threads.apply_threads`)."""
    parser.set_defaults(apply_threads=True)
    return parser.add_argument(
        "--threads", type=thread_count, default="auto", metavar="N|auto",
        help="CPU threads of torch; auto: one per core that other processes leave idle (so a "
        "busy machine slows the work down gracefully), or OMP_NUM_THREADS where it is set "
        "(default: %(default)s)")


def _parse(text: str, kind: type, expected: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _float_in(text: str, ok, expected: str) -> float:
    value = _parse(text, float, expected)
    if not math.isfinite(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value
