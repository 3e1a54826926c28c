"""Output writers of ``starpose lift``, one module a format, behind one table.

Every writer takes the lifted poses in blocks of frames (``write``), then ``close`` finishes the
file (``abort`` drops it); so lifting a long recording never holds its 3D poses in memory, except
for formats that need the whole clip at once (BVH: bone lengths are medians over the clip).
Adding a format is one module and one line in :data:`WRITERS`.
"""
from __future__ import annotations

from pathlib import Path

from starpose.errors import StarposeError
from starpose.lift.writers.bvh_file import BvhWriter
from starpose.lift.writers.csv_file import CsvWriter
from starpose.lift.writers.json_file import JsonWriter
from starpose.lift.writers.npz_file import NpzWriter

#: Output extension -> writer class ``(path, meta, num_frames, num_joints)``.
WRITERS = {".npz": NpzWriter, ".json": JsonWriter, ".csv": CsvWriter, ".bvh": BvhWriter}
#: What ``--out`` takes.
OUTPUT_SUFFIXES = tuple(WRITERS)
#: The formats that are complete results (read back by :func:`starpose.lift.read_result`).
RESULT_SUFFIXES = tuple(s for s, writer in WRITERS.items() if writer.is_result)


def open_writer(path, meta: dict, num_frames: int, num_joints: int):
    """The writer of ``path``'s format; ``meta`` is a lift result without ``positions_3d``."""
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise StarposeError(f"{path}: unknown result format; use {', '.join(OUTPUT_SUFFIXES)}")
    return writer(path, meta, num_frames, num_joints)


__all__ = ["WRITERS", "OUTPUT_SUFFIXES", "RESULT_SUFFIXES", "open_writer"]
