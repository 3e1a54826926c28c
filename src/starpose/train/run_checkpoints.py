"""The two newest training checkpoints of a run folder, and which one a resume starts from.

``last.pt`` is the newest, ``last.prev.pt`` the one before. A new checkpoint is written to a
temporary file and fsynced (:func:`starpose.models.checkpoints.save_checkpoint`) before the
rotation: ``last.pt`` is hard-linked to ``last.prev.pt`` and the new file renamed onto
``last.pt``, so at every instant ``last.pt`` is a complete checkpoint (or, on file systems without
hard links, ``last.prev.pt`` is). A resume verifies ``last.pt`` (readable, checksum) and falls back
to ``last.prev.pt`` with a warning that names the work lost. A kill during a write leaves its
temporary files behind; :func:`remove_stale_temporaries` deletes them once the run's lock is held.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from starpose.errors import CheckpointError
from starpose.io import fsync_dir, temp_beside, temp_target, write_error
from starpose.models.checkpoints import read_checkpoint

LAST, PREV = "last.pt", "last.prev.pt"
#: The files of a run folder written through temporary files beside them.
ATOMIC_FILES = frozenset({LAST, PREV, "best.pt", "config.json"})


def rotate_in(run_dir: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write a new ``last.pt`` with ``write(path)`` and keep the old one as ``last.prev.pt``."""
    run_dir = Path(run_dir)
    last, prev = run_dir / LAST, run_dir / PREV
    staged = temp_beside(last, suffix=".new")
    try:
        write(staged)  # atomic itself: ``staged`` is complete and fsynced when this returns
        try:
            if last.exists():
                _link_over(last, prev)
            os.replace(staged, last)
            fsync_dir(run_dir)
        except OSError as err:
            raise write_error(err, last) from None
    finally:
        staged.unlink(missing_ok=True)
    return last


def _link_over(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` atomically; without hard links, move it."""
    link = temp_beside(dst, suffix=".link")
    link.unlink()
    try:
        os.link(src, link)
    except OSError:  # no hard links here: for an instant only last.prev.pt exists
        os.replace(src, dst)
        return
    os.replace(link, dst)


def position(data: dict) -> str:
    """'epoch 3, step 40' of a training checkpoint dict (steps done, 1-based epoch)."""
    ts = data.get("train_state") or {}
    epoch, step = data.get("epoch", 0), ts.get("batch_in_epoch", 0)
    return f"end of epoch {epoch}" if not step else f"epoch {epoch + 1}, step {step}"


def read_resume_checkpoint(run_dir: str | os.PathLike, warn=None) -> tuple[dict, Path]:
    """The newest good checkpoint of ``run_dir``: ``last.pt``, else ``last.prev.pt`` with a warning."""
    run_dir = Path(run_dir)
    warn = warn or (lambda text: print(text, file=sys.stderr))
    last, prev = run_dir / LAST, run_dir / PREV
    try:
        return read_checkpoint(last), last
    except CheckpointError as err:
        if not prev.is_file():
            raise
        problem = str(err)
    try:
        data = read_checkpoint(prev)
    except CheckpointError as err:
        raise CheckpointError(f"{problem}; the previous checkpoint is unusable too ({err})") from None
    warn(f"warning: {problem}\nwarning: resuming from {prev} ({position(data)}); "
         f"the training after that point is lost and will be redone")
    return data, prev


def remove_stale_temporaries(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that an interrupted write of a run file left in ``run_dir``
    (``.last.pt.k2j4h1x9.new``, ``.last.prev.pt.a8d7f6g5.link``, ...: :data:`ATOMIC_FILES`
    through :func:`starpose.io.temp_target`); returns them, sorted. Only call it while holding
    the run folder's lock: then no other process is writing them."""
    run_dir = Path(run_dir)
    stale = sorted(p for p in run_dir.iterdir() if temp_target(p.name) in ATOMIC_FILES and p.is_file())
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
