"""One writer per output folder: an advisory lock file holding the owner's pid and host.

:func:`folder_lock` takes ``FOLDER/.starpose.lock`` with ``flock`` (released by the kernel when
the process dies, also on SIGKILL) and writes ``pid host command`` into it. A second process that
finds the lock held refuses with a :class:`StarposeError` naming the owner. A lock file left by a
process that is gone is not held, so it is taken over, with a note naming the old owner.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
from pathlib import Path

from starpose.errors import StarposeError

LOCK_NAME = ".starpose.lock"


def _owner_text(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096).decode("utf-8", "replace").strip()


def describe_owner(text: str) -> str:
    parts = text.split(maxsplit=2)
    if len(parts) < 2:
        return "another process"
    return f"process {parts[0]} on {parts[1]}" + (f" ({parts[2]})" if len(parts) > 2 else "")


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "run", note=None, remove: bool = False):
    """Hold the lock of ``folder`` (created if missing) during the block. ``remove``: delete the
    lock file on a clean exit (output folders of ``lift`` should hold only the results; a run
    folder keeps its empty lock file)."""
    folder = Path(folder)
    note = note or (lambda text: print(text, file=sys.stderr))
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise StarposeError(f"{path}: cannot create the lock file ({err.strerror or err})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = describe_owner(_owner_text(fd))
            raise StarposeError(f"{folder}: another {what} is writing here ({owner}); "
                                f"wait for it or choose another folder") from None
        stale = _owner_text(fd)
        if stale:
            note(f"note: {folder}: took over the lock of {describe_owner(stale)}, which is no longer running")
        command = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()} {command}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves an empty (not stale) lock file
            if remove:
                path.unlink(missing_ok=True)
    finally:
        os.close(fd)
