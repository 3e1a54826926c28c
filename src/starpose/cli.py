"""The ``starpose`` command line.

Each command lives in its own module of :mod:`starpose.commands` (see its docstring). This file
only assembles them and turns user-facing errors into one clear message and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings

from starpose import __version__
from starpose.commands import COMMANDS
from starpose.errors import OptionError, StarposeError, StarposeWarning


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default as ``(default: ...)`` and keeps the epilog's examples as
    written. Options without a meaningful default (None, or a flag's False) show none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "(default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


class StarposeParser(argparse.ArgumentParser):
    """Every parser of the command line, subcommands' included: the :class:`HelpFormatter` layout."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = StarposeParser(
        prog="starpose",
        description="Monocular 3D human pose estimation by 2D-to-3D lifting "
        "(MixSTE with Star-Attention).",
    )
    parser.add_argument("--version", action="version", version=f"starpose {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=StarposeParser)
    for name in COMMANDS:
        importlib.import_module(f"starpose.commands.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    if hasattr(signal, "SIGXFSZ"):  # over a file size limit: an EFBIG error we report, not a kill
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _print_warnings_as_lines(args.command)
    from starpose.train.interrupts import signals_interrupt

    try:
        with signals_interrupt():  # SIGTERM too unwinds: temporary files are removed, locks released
            if getattr(args, "apply_threads", False):  # the commands that run models
                _set_up_compute(args)
            return int(args.func(args) or 0)
    except StarposeError as err:
        text = err.for_command_line() if isinstance(err, OptionError) else str(err)
        print(f"starpose {args.command}: error: {text}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        print(f"starpose {args.command}: interrupted", file=sys.stderr)
        return getattr(err, "exit_code", 130)  # 130 for Ctrl-C, 143 for SIGTERM


def _set_up_compute(args) -> None:
    """torch's thread count from ``--threads`` (``train`` prints it in its first line), and
    freed memory kept in the process (:mod:`starpose.inference.allocator`)."""
    from starpose.inference.allocator import keep_freed_memory
    from starpose.inference.threads import apply_threads

    keep_freed_memory()
    apply_threads(args.threads)


def _print_warnings_as_lines(command: str) -> None:
    """Library :class:`StarposeWarning` values print as ``starpose COMMAND: warning: ...``."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StarposeWarning):
            print(f"starpose {command}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


if __name__ == "__main__":
    sys.exit(main())
