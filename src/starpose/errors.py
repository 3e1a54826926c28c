"""User-facing errors.

Every problem caused by the user's input (a missing file, a malformed checkpoint, a wrong shape)
is raised as a :class:`StarposeError` whose message names the file and the problem. The CLI
prints the message and exits non-zero without a traceback; library users can catch it.
"""


class StarposeError(Exception):
    """A problem with the user's input or configuration, with a message meant for people."""


class DataError(StarposeError):
    """A data file is missing, malformed or inconsistent."""


class CheckpointError(StarposeError):
    """A checkpoint is missing, malformed, unsafe or does not fit the model."""


class StarposeWarning(UserWarning):
    """Something the user should check, though the work goes on (the CLI prints one line)."""


class OptionError(StarposeError):
    """A problem with the value of an option. The message names options as ``<name>`` (the
    option's name, as in ``<out-format>``); the command line shows them as flags (``--out-format``)."""

    def for_command_line(self) -> str:
        import re

        return re.sub(r"<([a-z][a-z0-9-]*)>", r"--\1", str(self))
