"""Atomic file writing: a crash or an error never leaves a half-written file behind."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from starpose.errors import StarposeError


def temp_beside(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """Create an empty hidden temporary file in ``path``'s folder (same file system, so that
    ``os.replace`` onto ``path`` is atomic), with the mode a plain ``open()`` would give it.

    ``suffix`` keeps an extension on the temporary file for writers that look at it.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as err:
        raise StarposeError(f"{path}: cannot write here ({err.strerror or err})") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates the file private (0600)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp", make_parents: bool = False):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
