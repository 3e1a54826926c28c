"""Atomic file writing: a crash or an error never leaves a half-written file behind.

Everything goes through one transaction, :func:`atomic_files`: each output is written to a
temporary file beside its destination (same file system, so the final ``os.replace`` is atomic)
and all of them are moved into place only when the whole block succeeds. :func:`atomic_path`
and :func:`atomic_write_text` are its one-file forms.

Durability: each temporary file is fsynced before the rename and its folder after it, so that
after a power cut or a kill the destination holds either the old or the complete new content.
A write that fails for lack of space or quota (``ENOSPC``, ``EDQUOT``, ``EFBIG``) becomes one
:class:`StarposeError` line naming the file (:func:`write_error`).

Leftovers: the temporary files of a transaction are removed when it fails, SIGINT/SIGTERM included
(the command line turns both into exceptions). Only a SIGKILL or a power cut leaves them; each
temporary file is held under an ``flock`` while its writer lives, so :func:`remove_stale_temporaries`
can tell an orphan (nobody holds it: deleted) from a file another process is writing (kept).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from starpose.errors import StarposeError

# ``stage(final_path, suffix=None) -> temp_path``; ``suffix=None`` keeps the final extension.
Stage = Callable[..., Path]


def temp_beside(path: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """Create an empty hidden temporary file in ``path``'s folder (same file system, so that
    ``os.replace`` onto ``path`` is atomic), with the mode a plain ``open()`` would give it.

    ``suffix`` keeps an extension on the temporary file for writers that look at it.
    """
    tmp, fd = held_temp_beside(path, suffix)
    os.close(fd)
    return tmp


def held_temp_beside(path: str | os.PathLike, suffix: str = ".tmp") -> tuple[Path, int]:
    """:func:`temp_beside`, and an open descriptor of the file that holds its ``flock`` (closing
    it releases the lock): while it is open, :func:`remove_stale_temporaries` keeps the file."""
    path = Path(path)
    while True:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        except OSError as err:
            raise StarposeError(f"{path}: cannot write here ({err.strerror or err})") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:  # not removed as stale between its creation and the lock
            break
        os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates the file private (0600)
    return Path(tmp), fd


def remove_stale_temporaries(folder: str | os.PathLike, targets) -> list[Path]:
    """Delete the temporary files in ``folder`` that stand in for one of the file names
    ``targets`` (:func:`temp_target`) and that no living process holds (:func:`held_temp_beside`):
    the leftovers of a write that was killed. Returns them, sorted."""
    targets, removed = set(targets), []
    for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else ():
        if temp_target(path.name) not in targets or path.is_symlink() or not path.is_file():
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink()
            removed.append(path)
        except OSError:  # held by a living writer (BlockingIOError), or already gone
            pass
        finally:
            os.close(fd)
    return removed


#: :func:`temp_beside`'s names: a dot, the final name, a dot and mkstemp's 8 random characters,
#: the suffix (``.last.pt.k2j4h1x9.new``).
_TEMP_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}(?:\.[A-Za-z0-9]+)?")


def temp_target(name: str) -> str | None:
    """The file name that a temporary file of :func:`temp_beside` called ``name`` stands in
    for, through nested ones (``..last.pt.k2j4h1x9.new.a8d7f6g5.tmp`` -> ``last.pt``); None
    when ``name`` is not such a name."""
    match = _TEMP_NAME.fullmatch(name)
    if match is None:
        return None
    return temp_target(match["target"]) or match["target"]


@contextlib.contextmanager
def atomic_files(make_parents: bool = True) -> Iterator[Stage]:
    """Yield ``stage(final_path, suffix=None) -> temp_path`` for writing several files at once.

    Write each output to the temporary path ``stage`` returns. When the block succeeds every
    temporary file replaces its final path (in staging order); when it raises, the temporary
    files and the folders created for them are removed and the error propagates, so a failed
    step leaves the file system as it found it. ``suffix=None`` gives the temporary file the
    final path's extension (for writers that pick a format from it). With ``make_parents``
    missing folders are created; without it a missing folder is an error.
    """
    pending: list[tuple[Path, Path]] = []
    created: list[Path] = []
    held: list[int] = []

    def stage(final: str | os.PathLike, suffix: str | None = None) -> Path:
        final = Path(final)
        if make_parents:
            created.extend(_make_parents(final.parent))
        tmp, fd = held_temp_beside(final, suffix=final.suffix if suffix is None else suffix)
        held.append(fd)
        pending.append((tmp, final))
        return tmp

    try:
        try:
            yield stage
        except OSError as err:  # the writers' own errors: only "no room left" is ours to name
            if err.errno in NO_SPACE:
                raise write_error(err, pending[-1][1] if pending else None) from None
            raise
        _commit(pending)
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        for fd in held:
            os.close(fd)


def _commit(pending: list[tuple[Path, Path]]) -> None:
    """fsync every temporary file, rename them into place, fsync their folders."""
    final = None
    try:
        for tmp, final in pending:
            fsync_file(tmp)
        for tmp, final in pending:
            os.replace(tmp, final)
        for folder in dict.fromkeys(final.parent for _, final in pending):
            fsync_dir(folder)
    except OSError as err:
        raise write_error(err, final) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = ".tmp", make_parents: bool = False):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is
    removed (with the folders ``make_parents`` created). ``suffix=None`` keeps ``path``'s extension."""
    with atomic_files(make_parents=make_parents) as stage:
        yield stage(path, suffix)


#: errno values that mean "no room left": the disk, the quota or the file size limit.
NO_SPACE = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if e is not None)


def write_error(err: OSError, path: str | os.PathLike | None) -> StarposeError:
    """One line for a failed write of ``path``; no room left is named as such."""
    name = path or getattr(err, "filename", None)
    if err.errno in NO_SPACE:
        what = {errno.EFBIG: "file size limit reached"}.get(err.errno, "no space left on the device or quota exceeded")
        return StarposeError(f"{name}: cannot write ({what}); the previous files are intact")
    return StarposeError(f"{name}: cannot write ({err.strerror or err})")


def fsync_file(path: str | os.PathLike) -> None:
    """Flush ``path``'s data to the disk (raises OSError, e.g. ENOSPC on delayed allocation)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable; file systems that cannot fsync a folder are skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing ancestors; returns the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise StarposeError(f"{folder}: exists and is not a folder")
    for path in reversed(missing):
        try:
            path.mkdir()
        except OSError as err:
            raise StarposeError(f"{path}: cannot create the folder ({err.strerror or err})") from None
    return list(reversed(missing))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path: str | os.PathLike, *, suffixes: tuple[str, ...] = (),
                      inputs: tuple = (), folder: bool = False) -> Path:
    """Refuse an output location before any work starts; returns it as a :class:`Path`.

    Refused, each with one line naming the path: a file output whose extension is not one of
    ``suffixes`` (when given) or that is an existing folder; a folder output (``folder``) that is
    an existing file; a path that resolves to one of ``inputs`` (files being read: inputs,
    checkpoints); a location whose nearest existing folder is
    not writable.
    """
    path = Path(path)
    if not folder and suffixes and path.suffix.lower() not in suffixes:
        raise StarposeError(f"{path}: unsupported output extension; use {', '.join(suffixes)}")
    if not folder and path.is_dir():
        raise StarposeError(f"{path}: is a folder; give a file name")
    if folder and path.exists() and not path.is_dir():
        raise StarposeError(f"{path}: exists and is not a folder")
    target = path.resolve()
    for source in inputs:
        source = Path(source).resolve()
        if source == target:
            raise StarposeError(f"{path}: is also an input ({source}); refusing to overwrite it")
    _check_writable_folder(path if folder else path.parent, path)
    return path


def _check_writable_folder(folder: Path, path: Path) -> None:
    """The nearest existing ancestor of ``folder`` must be a writable folder."""
    folder = folder.absolute()
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise StarposeError(f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StarposeError(f"{path}: cannot write in {folder} (permission denied)")
