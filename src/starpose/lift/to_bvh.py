"""A ``starpose lift`` result file as a BVH animation (``starpose mocap export``)."""
from __future__ import annotations

from pathlib import Path

from starpose.errors import DataError
from starpose.lift.results import read_result
from starpose.mocap.export import write_bvh


def export_result(result_path, out, fps: float | None = None, unit: str = "m") -> Path:
    """Convert a ``starpose lift`` result (``.npz`` or ``.json``) to a BVH file at ``out``."""
    result = read_result(result_path)
    rate = fps or result.get("fps") or 50.0
    out = Path(out)
    if out.exists() and not out.is_file():
        raise DataError(f"{out}: exists and is not a regular file")
    return write_bvh(out, result["positions_3d"], rate, unit=unit)
